/**
 * Celery task protocol v2 as kombu's Redis transport stores it (Celery 5,
 * kombu 5): the envelope LPUSHed onto a queue's list, and its conversion to and
 * from our TaskMessage. Pure: no I/O. Durations are ms in TaskMessage and
 * seconds (or ISO-8601 times) on the wire; the conversion happens here.
 */
import { InvalidMessageError } from '../../errors/index.js';
import type { CanvasJSON, SignatureJSON } from '../canvas-json.js';
import { optionalMs } from '../duration.js';
import { MAX_PRIORITY, MIN_PRIORITY, PROTOCOL_VERSION, type HeaderValue, type TaskMessage } from '../envelope.js';

/** kombu's separator between a queue name and its priority band (and inside binding entries). */
export const KOMBU_SEP = '\x06\x16';
/** kombu's Redis priority bands: a message goes to the highest step not above its priority. */
export const PRIORITY_STEPS = [0, 3, 6, 9] as const;

/**
 * Header carrying the names of the keyword arguments a Celery message had; the
 * keyword arguments themselves travel as one trailing object argument. A task
 * sees them only when it opts in (`@Task({ kwargs: true })`).
 */
export const CELERY_KWARGS_HEADER = 'x-celery-kwargs';

/** Header set on a message whose Celery sender asked for no result (`ignore_result`); the worker stores none. */
export const CELERY_IGNORE_RESULT_HEADER = 'x-celery-ignore-result';

/** The headers protocol v2 defines; any other header is the sender's own. */
const V2_HEADERS = new Set([
  'lang',
  'task',
  'id',
  'shadow',
  'eta',
  'expires',
  'group',
  'group_index',
  'retries',
  'timelimit',
  'root_id',
  'parent_id',
  'argsrepr',
  'kwargsrepr',
  'origin',
  'ignore_result',
  'stamped_headers',
  'stamps',
  'replaced_task_nesting',
  'redelivered',
  'compression',
]);

export interface CeleryEnvelope {
  body: string;
  'content-encoding': string;
  'content-type': string;
  headers: Record<string, unknown>;
  properties: {
    correlation_id: string;
    reply_to: string;
    delivery_mode: number;
    delivery_info: { exchange: string; routing_key: string };
    priority: number;
    body_encoding: 'base64';
    delivery_tag: string;
  };
}

/** A Celery signature as embedded in a message body (chain steps, callbacks). */
export interface CelerySignature {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtask_type: string | null;
  immutable: boolean;
}

/**
 * Our priority (0 lowest .. 9 highest) to Celery's on Redis, where a lower
 * number is served first (0 most urgent): the scale is turned around.
 */
export function toCeleryPriority(priority: number): number {
  return MAX_PRIORITY - Math.min(MAX_PRIORITY, Math.max(MIN_PRIORITY, Math.round(priority)));
}

/** Celery's priority on Redis (0 most urgent) to ours (9 highest); anything unusable is Celery's default, 0. */
export function fromCeleryPriority(priority: unknown): number {
  const p = typeof priority === 'number' && Number.isFinite(priority) ? Math.round(priority) : 0;
  return MAX_PRIORITY - Math.min(9, Math.max(0, p));
}

/** The kombu list a message of Celery priority `celeryPriority` goes to. */
export function kombuListKey(queue: string, celeryPriority: number): string {
  const p = Math.min(9, Math.max(0, celeryPriority));
  let step = 0;
  for (const s of PRIORITY_STEPS) if (s <= p) step = s;
  return step === 0 ? queue : `${queue}${KOMBU_SEP}${step}`;
}

/** Every list of a queue, most urgent first (the order a kombu consumer pops them). */
export function kombuQueueKeys(queue: string): string[] {
  return PRIORITY_STEPS.map((s) => (s === 0 ? queue : `${queue}${KOMBU_SEP}${s}`));
}

/** The queue a kombu list belongs to (its priority suffix stripped). */
export function queueOfKombuKey(key: string): string {
  const i = key.lastIndexOf(KOMBU_SEP);
  return i < 0 ? key : key.slice(0, i);
}

/**
 * Epoch ms as Python's isoformat() writes times: six fraction digits and an
 * explicit `+00:00` (accepted by every Celery 5). The six digits matter:
 * Celery 5.2's own parser reads the fraction as a count of microseconds, so
 * JavaScript's `.860` would come back as 860 µs and an ETA would fire early.
 */
export function toCeleryTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** An ISO-8601 time as Celery sends it (`+00:00`, `Z`, or naive meaning UTC) to epoch ms; undefined if unusable. */
export function fromCeleryTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = ISO.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  let ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, Math.floor(Number(`0.${frac}`) * 1000));
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return Number.isFinite(ms) ? ms : undefined;
}

const seconds = (ms: number | undefined) => (ms === undefined ? null : ms / 1000);

/** Splits our args back into Celery's args and kwargs (the trailing object, when the message came with kwargs). */
function splitKwargs(
  args: unknown[],
  headers: Record<string, unknown> | undefined,
): [unknown[], Record<string, unknown>] {
  const names = headers?.[CELERY_KWARGS_HEADER];
  const last = args[args.length - 1];
  if (typeof names === 'string' && args.length > 0 && typeof last === 'object' && last !== null && !Array.isArray(last))
    return [args.slice(0, -1), last as Record<string, unknown>];
  return [args, {}];
}

/** One step of our workflow as a Celery signature. Only plain task signatures have a Celery form here. */
export function toCelerySignature(node: CanvasJSON): CelerySignature {
  if (node.type !== 'signature')
    throw new InvalidMessageError(
      `a ${node.type} inside a chain, callback or error callback has no Celery protocol form here; use plain task signatures`,
    );
  const o = node.options ?? {};
  const { [CELERY_KWARGS_HEADER]: _names, ...headers } = o.headers ?? {};
  const [args, kwargs] = splitKwargs(node.args, o.headers);
  const options: Record<string, unknown> = {};
  if (o.taskId !== undefined) options.task_id = o.taskId;
  if (o.queue !== undefined) options.queue = o.queue;
  if (o.priority !== undefined) options.priority = toCeleryPriority(o.priority);
  if (o.countdown !== undefined) options.countdown = optionalMs(o.countdown, 'countdown')! / 1000;
  if (o.eta !== undefined) options.eta = toCeleryTime(o.eta);
  if (o.expires !== undefined) options.expires = optionalMs(o.expires, 'expires')! / 1000;
  if (o.timeLimit !== undefined) options.time_limit = optionalMs(o.timeLimit, 'timeLimit')! / 1000;
  if (o.softTimeLimit !== undefined) options.soft_time_limit = optionalMs(o.softTimeLimit, 'softTimeLimit')! / 1000;
  if (Object.keys(headers).length) options.headers = headers;
  if (node.link?.length) options.link = node.link.map(toCelerySignature);
  if (node.linkError?.length) options.link_error = node.linkError.map(toCelerySignature);
  return { task: node.task, args, kwargs, options, subtask_type: null, immutable: node.immutable === true };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A Celery signature (from a message body) as one of our workflow steps. */
export function fromCelerySignature(value: unknown, where: string): SignatureJSON {
  if (!isRecord(value) || typeof value.task !== 'string')
    throw new InvalidMessageError(`${where} is not a task signature`);
  if (value.subtask_type !== null && value.subtask_type !== undefined)
    throw new InvalidMessageError(
      `${where} is a Celery ${String(value.subtask_type)}, which this worker cannot continue (only plain task signatures)`,
    );
  const args = value.args === undefined ? [] : value.args;
  if (!Array.isArray(args)) throw new InvalidMessageError(`${where}.args must be an array`);
  const kwargs = value.kwargs === undefined || value.kwargs === null ? {} : value.kwargs;
  if (!isRecord(kwargs)) throw new InvalidMessageError(`${where}.kwargs must be an object`);
  const o = isRecord(value.options) ? value.options : {};
  const sig: SignatureJSON = { type: 'signature', task: value.task, args: [...args] };
  const options: NonNullable<SignatureJSON['options']> = {};
  const headers: Record<string, HeaderValue> = {};
  if (isRecord(o.headers))
    for (const [k, v] of Object.entries(o.headers)) if (isScalar(v)) headers[k] = v as HeaderValue;
  if (Object.keys(kwargs).length) {
    sig.args.push(kwargs);
    headers[CELERY_KWARGS_HEADER] = Object.keys(kwargs).join(',');
  }
  if (Object.keys(headers).length) options.headers = headers;
  if (typeof o.task_id === 'string') options.taskId = o.task_id;
  if (typeof o.queue === 'string') options.queue = o.queue;
  if (typeof o.priority === 'number') options.priority = fromCeleryPriority(o.priority);
  if (typeof o.countdown === 'number' && o.countdown > 0) options.countdown = Math.round(o.countdown * 1000);
  const eta = fromCeleryTime(o.eta);
  if (eta !== undefined) options.eta = eta;
  if (typeof o.expires === 'number' && o.expires > 0) options.expires = Math.round(o.expires * 1000);
  if (typeof o.time_limit === 'number') options.timeLimit = Math.round(o.time_limit * 1000);
  if (typeof o.soft_time_limit === 'number') options.softTimeLimit = Math.round(o.soft_time_limit * 1000);
  if (Object.keys(options).length) sig.options = options;
  if (value.immutable === true) sig.immutable = true;
  if (Array.isArray(o.link) && o.link.length)
    sig.link = o.link.map((l, i) => fromCelerySignature(l, `${where}.options.link[${i}]`));
  if (Array.isArray(o.link_error) && o.link_error.length)
    sig.linkError = o.link_error.map((l, i) => fromCelerySignature(l, `${where}.options.link_error[${i}]`));
  return sig;
}

const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

export interface EncodeCeleryOptions {
  /** `<name>@<host>` of the sender (Celery's `origin` header). */
  origin: string;
  /** A fresh unique id: kombu's key into `unacked`. */
  deliveryTag: string;
  /** The body of the chord `m.chord` names (Celery's `embed.chord`): the Redis backend's join sends it. */
  chordBody?: CelerySignature;
}

/**
 * Our message as the envelope a Celery 5 worker consumes. Chain steps, links
 * and error callbacks must be plain signatures (see toCelerySignature).
 */
export function encodeCeleryMessage(m: TaskMessage, o: EncodeCeleryOptions): CeleryEnvelope {
  const [args, kwargs] = splitKwargs(m.args, m.headers);
  if (m.chord !== undefined && o.chordBody === undefined)
    throw new InvalidMessageError(`task "${m.task}" is a chord header task, but its chord's body is not known`);
  const embed = {
    callbacks: m.link?.length ? m.link.map(toCelerySignature) : null,
    errbacks: m.linkError?.length ? m.linkError.map(toCelerySignature) : null,
    // Celery pops the next step from the end.
    chain: m.chain?.length ? m.chain.map(toCelerySignature).reverse() : null,
    chord: m.chord ? o.chordBody! : null,
  };
  const headers: Record<string, unknown> = {
    lang: 'js',
    task: m.task,
    id: m.id,
    shadow: null,
    eta: m.eta === undefined ? null : toCeleryTime(m.eta),
    expires: m.expires === undefined ? null : toCeleryTime(m.expires),
    group: m.chord?.id ?? null,
    group_index: m.chord?.index ?? null,
    retries: m.retries,
    timelimit: [seconds(m.timeLimit), seconds(m.softTimeLimit)],
    root_id: m.rootId ?? m.id,
    parent_id: m.parentId ?? null,
    argsrepr: JSON.stringify(args),
    kwargsrepr: JSON.stringify(kwargs),
    origin: o.origin,
    ignore_result: m.headers?.[CELERY_IGNORE_RESULT_HEADER] === true,
  };
  for (const [k, v] of Object.entries(m.headers ?? {}))
    if (k !== CELERY_KWARGS_HEADER && k !== CELERY_IGNORE_RESULT_HEADER && !V2_HEADERS.has(k)) headers[k] = v;
  const priority = toCeleryPriority(m.priority);
  return {
    body: Buffer.from(JSON.stringify([args, kwargs, embed]), 'utf8').toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers,
    properties: {
      correlation_id: m.id,
      reply_to: '',
      delivery_mode: 2,
      delivery_info: { exchange: '', routing_key: m.queue },
      priority,
      body_encoding: 'base64',
      delivery_tag: o.deliveryTag,
    },
  };
}

/** What a Celery message says beyond our TaskMessage. */
export interface CeleryMessageExtras {
  /** kombu's delivery tag, when present. */
  deliveryTag?: string;
  /** `headers.ignore_result`. */
  ignoreResult: boolean;
  /** `headers.group` (group members and chord header tasks). */
  group?: string;
  /** `headers.group_index`. */
  groupIndex?: number;
  /** `embed.chord`: the chord body, on chord header tasks. */
  chord?: SignatureJSON;
}

/**
 * A raw list entry written by any Celery 5 client (or by encodeCeleryMessage)
 * as our TaskMessage. Untrusted input: throws InvalidMessageError with the
 * reason, never returns a half-valid message. `queue` is the queue it was
 * taken from; `now` becomes the message's `created`.
 */
export function decodeCeleryMessage(
  raw: string,
  queue: string,
  maxBytes: number,
  now = Date.now(),
): { message: TaskMessage; extras: CeleryMessageExtras } {
  const size = Buffer.byteLength(raw, 'utf8');
  if (size > maxBytes) throw new InvalidMessageError(`message is ${size} bytes, over the limit of ${maxBytes} bytes`);
  let env: unknown;
  try {
    env = JSON.parse(raw);
  } catch (e) {
    throw new InvalidMessageError(`not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(env)) throw new InvalidMessageError('not a JSON object');
  const headers = env.headers;
  const props = isRecord(env.properties) ? env.properties : {};
  if (!isRecord(headers)) throw new InvalidMessageError('field "headers" must be an object');
  if (typeof headers.task !== 'string' || headers.task.length === 0)
    throw new InvalidMessageError(
      'header "task" must be a non-empty string (Celery protocol v1 messages are not supported)',
    );
  if (typeof headers.id !== 'string' || headers.id.length === 0 || headers.id.length > 200)
    throw new InvalidMessageError('header "id" must be a non-empty string of at most 200 characters');
  const type = env['content-type'];
  if (type !== 'application/json')
    throw new InvalidMessageError(
      `content-type ${JSON.stringify(type)} is not supported (configure the Celery sender with serializer 'json')`,
    );
  if (headers.compression !== undefined && headers.compression !== null)
    throw new InvalidMessageError(`compressed messages (${String(headers.compression)}) are not supported`);
  if (typeof env.body !== 'string') throw new InvalidMessageError('field "body" must be a string');
  const text =
    props.body_encoding === 'base64'
      ? Buffer.from(env.body, 'base64').toString('utf8')
      : props.body_encoding === undefined || props.body_encoding === null
        ? env.body
        : undefined;
  if (text === undefined)
    throw new InvalidMessageError(`body_encoding ${JSON.stringify(props.body_encoding)} is not supported`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new InvalidMessageError(`the body is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(body) || body.length < 2 || body.length > 3)
    throw new InvalidMessageError('the body must be [args, kwargs, embed]');
  const [args, kwargs, embedRaw] = body as [unknown, unknown, unknown];
  if (!Array.isArray(args)) throw new InvalidMessageError("the body's args must be an array");
  if (!isRecord(kwargs)) throw new InvalidMessageError("the body's kwargs must be an object");
  const embed = isRecord(embedRaw) ? embedRaw : {};

  const own: Record<string, HeaderValue> = {};
  for (const [k, v] of Object.entries(headers)) if (!V2_HEADERS.has(k) && isScalar(v)) own[k] = v as HeaderValue;
  if (headers.ignore_result === true) own[CELERY_IGNORE_RESULT_HEADER] = true;
  const allArgs = [...args];
  const names = Object.keys(kwargs);
  if (names.length) {
    allArgs.push(kwargs);
    own[CELERY_KWARGS_HEADER] = names.join(',');
  }
  const retries = headers.retries ?? 0;
  if (!Number.isInteger(retries) || (retries as number) < 0)
    throw new InvalidMessageError('header "retries" must be an integer >= 0');
  const timelimit = Array.isArray(headers.timelimit) ? headers.timelimit : [];
  const limit = (v: unknown) => (typeof v === 'number' && v > 0 ? Math.round(v * 1000) : undefined);
  const steps = (v: unknown, name: string): CanvasJSON[] | undefined => {
    if (v === null || v === undefined) return undefined;
    if (!Array.isArray(v)) throw new InvalidMessageError(`embed.${name} must be a list of signatures`);
    return v.map((s, i) => fromCelerySignature(s, `embed.${name}[${i}]`));
  };
  const chainReversed = steps(embed.chain, 'chain');
  const message: TaskMessage = {
    id: headers.id,
    priority: fromCeleryPriority(props.priority),
    queue,
    task: headers.task,
    retries: retries as number,
    created: now,
    v: PROTOCOL_VERSION,
    args: allArgs,
  };
  const eta = fromCeleryTime(headers.eta);
  if (eta !== undefined) message.eta = eta;
  else if (headers.eta !== null && headers.eta !== undefined)
    throw new InvalidMessageError(`header "eta" ${JSON.stringify(headers.eta)} is not an ISO-8601 time`);
  const expires = fromCeleryTime(headers.expires);
  if (expires !== undefined) message.expires = expires;
  else if (headers.expires !== null && headers.expires !== undefined)
    throw new InvalidMessageError(`header "expires" ${JSON.stringify(headers.expires)} is not an ISO-8601 time`);
  const hard = limit(timelimit[0]);
  const soft = limit(timelimit[1]);
  if (hard !== undefined) message.timeLimit = hard;
  if (soft !== undefined) message.softTimeLimit = soft;
  if (typeof headers.parent_id === 'string') message.parentId = headers.parent_id;
  if (typeof headers.root_id === 'string') message.rootId = headers.root_id;
  if (Object.keys(own).length) message.headers = own;
  if (chainReversed?.length) message.chain = chainReversed.reverse();
  const link = steps(embed.callbacks, 'callbacks');
  if (link?.length) message.link = link;
  const linkError = steps(embed.errbacks, 'errbacks');
  if (linkError?.length) message.linkError = linkError;

  const extras: CeleryMessageExtras = { ignoreResult: headers.ignore_result === true };
  if (typeof props.delivery_tag === 'string') extras.deliveryTag = props.delivery_tag;
  if (typeof headers.group === 'string') extras.group = headers.group;
  if (Number.isInteger(headers.group_index)) extras.groupIndex = headers.group_index as number;
  if (embed.chord !== null && embed.chord !== undefined) extras.chord = fromCelerySignature(embed.chord, 'embed.chord');
  return { message, extras };
}
