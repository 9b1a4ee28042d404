import { randomUUID } from 'node:crypto';
import { InvalidMessageError, TaskQueueConfigError } from '../errors/index.js';
import type { PublishOptions } from '../interfaces/task-options.interface.js';
import { optionalMs, type Duration } from './duration.js';
import {
  DEFAULT_PRIORITY,
  MAX_PRIORITY,
  MIN_PRIORITY,
  PROTOCOL_VERSION,
  encodeMessage,
  type TaskMessage,
} from './envelope.js';
import { assertJsonSafe, assertName, trimTrailingUndefined } from './validate.js';

/** What a publisher knows of a task's own defaults (its @Task() options), when it knows the task. */
export interface TaskDefaults {
  queue: string;
  priority: number;
  expiresMs?: number;
  timeLimitMs?: number;
  softTimeLimitMs?: number;
  unique?: { key: (...args: any[]) => string; ttlMs: number; while: 'queued' | 'running' | 'ttl' };
}

/** Module-wide publishing limits and defaults. */
export interface PublishLimits {
  defaultQueue: string;
  maxMessageBytes: number;
}

/** A message ready for Transport.publish (the transport layer's PublishItem has this shape). */
export interface EncodedMessage {
  queue: string;
  id: string;
  priority: number;
  raw: string;
  dueAt?: number;
}

/** Extra message fields set by workflows (canvas), not by callers. @internal */
export type WorkflowFields = Pick<TaskMessage, 'chain' | 'chord' | 'link' | 'linkError'>;

/**
 * Builds and validates one message, exactly as every publisher must (the
 * client, workflows, the beat): defaults from the task's @Task() options when
 * this process knows the task, JSON-safe arguments, size limit.
 * @internal
 */
export function buildMessage(
  name: string,
  rawArgs: readonly unknown[],
  o: PublishOptions,
  def: TaskDefaults | undefined,
  options: PublishLimits,
  workflow: WorkflowFields = {},
  now = Date.now(),
): { message: TaskMessage; item: EncodedMessage } {
  assertName('task name', name);
  if (!Array.isArray(rawArgs))
    throw new TaskQueueConfigError('args', rawArgs, `task "${name}" takes its arguments as an array`);
  const args = trimTrailingUndefined(rawArgs);
  assertJsonSafe(name, args);
  const queue = assertName('queue', o.queue ?? def?.queue ?? options.defaultQueue);
  const priority = o.priority ?? def?.priority ?? DEFAULT_PRIORITY;
  if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
    throw new TaskQueueConfigError('priority', priority, `expected an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`);
  }
  const id = o.taskId === undefined ? randomUUID() : assertName('taskId', o.taskId);
  let eta: number | undefined;
  if (o.eta !== undefined && o.countdown !== undefined)
    throw new TaskQueueConfigError('eta', o.eta, 'give eta or countdown, not both');
  if (o.countdown !== undefined) eta = now + optionalMs(o.countdown, 'countdown')!;
  else if (o.eta !== undefined) eta = toEpoch(o.eta, 'eta');
  let expires: number | undefined;
  if (o.expires !== undefined)
    expires = o.expires instanceof Date ? toEpoch(o.expires, 'expires') : now + optionalMs(o.expires, 'expires')!;
  else if (def?.expiresMs !== undefined) expires = now + def.expiresMs;
  if (o.headers !== undefined) assertJsonSafe(`${name} headers`, [o.headers]);
  const unique = uniqueOf(name, args, o, def, workflow);
  const message: TaskMessage = {
    id,
    priority,
    queue,
    task: name,
    retries: 0,
    created: now,
    eta: eta !== undefined && eta > now ? eta : undefined,
    expires,
    timeLimit: optionalMs(o.timeLimit, 'timeLimit') ?? def?.timeLimitMs,
    softTimeLimit: optionalMs(o.softTimeLimit, 'softTimeLimit') ?? def?.softTimeLimitMs,
    ...unique,
    parentId: o.parentId,
    rootId: o.rootId,
    args,
    headers: o.headers,
    ...workflow,
    v: PROTOCOL_VERSION,
  };
  const raw = encodeMessage(message);
  if (raw.length > options.maxMessageBytes / 4 && Buffer.byteLength(raw) > options.maxMessageBytes) {
    throw new InvalidMessageError(
      `task "${name}": the message is ${Buffer.byteLength(raw)} bytes, over maxMessageBytes (${options.maxMessageBytes}); pass a reference (an id, a URL) instead of the data`,
    );
  }
  return { message, item: { queue, id, priority, raw, dueAt: message.eta } };
}

function toEpoch(value: Date | number, option: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw new TaskQueueConfigError(option, value, 'expected a Date or epoch milliseconds');
  return ms;
}

/** What a unique key may hold: it is matched in the broker's scripts, so no quotes or backslashes. */
const UNIQUE_KEY = /^[A-Za-z0-9._:\-/@+=,#|~ ]{1,200}$/;

/** The unique-task fields of a message: from `dedupe` (per call) or `@Task({ unique })`. */
function uniqueOf(
  name: string,
  args: unknown[],
  o: PublishOptions,
  def: TaskDefaults | undefined,
  workflow: WorkflowFields,
): Pick<TaskMessage, 'uniqueKey' | 'uniqueWhile' | 'uniqueTtl'> {
  const inWorkflow = o.parentId !== undefined || Object.values(workflow).some((v) => v !== undefined);
  if (o.dedupe !== undefined) {
    if (inWorkflow) throw new TaskQueueConfigError('dedupe', o.dedupe, 'a workflow step cannot be deduplicated');
    if (
      typeof o.dedupe !== 'object' ||
      o.dedupe === null ||
      typeof o.dedupe.key !== 'string' ||
      !UNIQUE_KEY.test(o.dedupe.key)
    )
      throw new TaskQueueConfigError(
        'dedupe.key',
        o.dedupe?.key,
        'expected 1 to 200 characters, without quotes or backslashes',
      );
    return {
      uniqueKey: `${name}|${o.dedupe.key}`,
      uniqueWhile: 'ttl',
      uniqueTtl: positiveMs(o.dedupe.ttl, 'dedupe.ttl'),
    };
  }
  if (!def?.unique || inWorkflow) return {};
  let key: unknown;
  try {
    key = def.unique.key(...args);
  } catch (err) {
    throw new TaskQueueConfigError(
      'unique.key',
      name,
      `the key function of task "${name}" threw: ${(err as Error).message}`,
    );
  }
  if (typeof key !== 'string' || !UNIQUE_KEY.test(key))
    throw new TaskQueueConfigError(
      'unique.key',
      key,
      `task "${name}": expected 1 to 200 characters, without quotes or backslashes`,
    );
  return { uniqueKey: `${name}|${key}`, uniqueWhile: def.unique.while, uniqueTtl: def.unique.ttlMs };
}

function positiveMs(value: unknown, option: string): number {
  const ms = optionalMs(value as Duration, option);
  if (ms === undefined || ms <= 0) throw new TaskQueueConfigError(option, value, 'expected a duration above 0');
  return ms;
}
