import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { InvalidMessageError, TaskQueueConfigError } from '../../../errors/index.js';
import {
  NAME_PATTERN,
  PROTOCOL_VERSION,
  READY_STATES,
  TaskState,
  decodeMessage,
  encodeMessage,
  type ResultRecord,
  type StoredError,
  type TaskMessage,
} from '../../../protocol/index.js';
import {
  decodeCeleryMessage,
  encodeCeleryMessage,
  fromCeleryException,
  fromCeleryPriority,
  fromCelerySignature,
  fromCeleryResult,
  toCelerySignature,
  type CelerySignature,
  kombuListKey,
  kombuQueueKeys,
  toCeleryPriority,
  toCeleryResult,
} from '../../../protocol/celery/index.js';
import type {
  ChordJoinOutcome,
  ChordSpec,
  PublishOnce,
  Skipped,
  DroppedItem,
  ParkedEntry,
  PublishItem,
  QueueCounts,
  ReserveRequest,
  ReserveResult,
  TerminalUpdate,
} from '../../transport.interface.js';
import { RedisTransport, type RedisTransportOptions } from '../redis.transport.js';
import { duplicateConnection, isCluster } from '../connection.js';
import { CeleryKeys } from './celery-keys.js';
import { ADMIT_LUA, PUBLISH_ONCE_LUA, TAKE_LUA } from './celery-scripts.js';

const TAKE = 'tq_celery_take_v1';
const ADMIT = 'tq_celery_admit_v1';
const PUBLISH_ONCE = 'tq_celery_publish_once_v1';
const DEFAULT_PARKED_CAP = 10_000;
/** Longest single blocking wait; it is renewed after. */
const BLOCK_SECONDS = 30;

export interface CeleryRedisTransportOptions extends RedisTransportOptions {
  /** The largest message accepted from a kombu list. @default 1048576 */
  maxMessageBytes?: number;
  /** TTL of chord state (Celery's result_expires). @default one day */
  resultTtlMs?: number;
}

type Cmd = (...args: Array<string | number>) => Promise<unknown>;

/**
 * Celery protocol v2 on kombu's Redis layout, with Celery's Redis result
 * format. Messages are published as kombu does (LPUSH of the Celery envelope
 * on the queue's list for its priority band), so stock Celery workers consume
 * them; results are `celery-task-meta-<id>` plus a PUBLISH on that channel, so
 * stock Celery clients read and await them.
 *
 * Our workers keep every promise of the native mode: a message taken from a
 * kombu list goes, in one script, into an inbox with a claim deadline, and is
 * then admitted, exactly once, into our own keys (ready list, or the delayed
 * set when it has an ETA), where leases, redelivery after a lost worker, retries
 * and dead letters work as always. Nothing waits in a worker's memory.
 */
export class CeleryRedisTransport extends RedisTransport {
  readonly celeryKeys: CeleryKeys;
  private readonly origin = `node-${process.pid}@${hostname()}`;
  private readonly wakeId = randomUUID();
  private readonly cap: number;
  private blockingConn?: Redis;
  private resultSub?: Redis;
  private readonly resultWaiters = new Map<string, Set<(raw: string | null) => void>>();
  private shut = false;

  /** The largest message accepted from a kombu list. */
  private readonly maxBytes: number;
  private readonly ttlMs: number;
  /** Bodies of the chords being published by this process, for their header messages (`embed.chord`). */
  private readonly chordBodies = new Map<string, CelerySignature>();
  /** Updates whose Celery results this transport stored already (see ack). */
  private readonly acked = new WeakSet<TerminalUpdate>();

  constructor(options: CeleryRedisTransportOptions) {
    super(options);
    this.celeryKeys = new CeleryKeys(this.keys);
    this.cap = options.parkedCap ?? DEFAULT_PARKED_CAP;
    this.maxBytes = options.maxMessageBytes ?? 1024 * 1024;
    this.ttlMs = options.resultTtlMs ?? DEFAULT_RESULT_TTL_MS;
    if (isCluster(this.redis))
      throw new TaskQueueConfigError(
        'protocol',
        'celery',
        'the Celery protocol needs a single Redis server (kombu has no Cluster layout)',
      );
    if (!(TAKE in this.redis)) this.r.defineCommand(TAKE, { numberOfKeys: 5, lua: TAKE_LUA });
    if (!(ADMIT in this.redis)) this.r.defineCommand(ADMIT, { numberOfKeys: 1, lua: ADMIT_LUA });
    if (!(PUBLISH_ONCE in this.redis)) this.r.defineCommand(PUBLISH_ONCE, { lua: PUBLISH_ONCE_LUA });
  }

  /** The main client: one server in this mode (see the constructor). */
  private get r(): Redis {
    return this.redis as Redis;
  }

  private cmd(name: string): Cmd {
    return (this.r as unknown as Record<string, Cmd>)[name].bind(this.r);
  }

  /** Our encoded message as the Celery envelope, and the kombu list it goes to. */
  private async toCelery(item: PublishItem): Promise<{ list: string; envelope: string }> {
    const msg = decodeMessage(item.raw, Number.MAX_SAFE_INTEGER);
    if (msg.uniqueKey !== undefined)
      throw new TaskQueueConfigError(
        'unique',
        msg.uniqueKey,
        `unique tasks and dedupe keys are not supported with protocol 'celery' yet (task ${msg.task})`,
      );
    // Celery carries the due time in the message only
    if (msg.eta === undefined && item.dueAt !== undefined && item.dueAt > Date.now()) msg.eta = item.dueAt;
    let chordBody: CelerySignature | undefined;
    if (msg.chord) {
      chordBody = this.chordBodies.get(msg.chord.id);
      if (!chordBody) {
        const stored = await this.r.get(this.celeryKeys.chordBody(msg.chord.id));
        if (stored) chordBody = JSON.parse(stored) as CelerySignature;
      }
    }
    const envelope = encodeCeleryMessage(msg, { origin: this.origin, deliveryTag: randomUUID(), chordBody });
    return { list: kombuListKey(msg.queue, toCeleryPriority(msg.priority)), envelope: JSON.stringify(envelope) };
  }

  /**
   * Publishes as a Celery client does: LPUSH onto the queue's kombu list, ETA
   * in the message (Celery workers hold ETA messages themselves; ours move
   * them into the delayed set). One MULTI for the batch.
   */
  override async publish(items: PublishItem[], options?: PublishOnce): Promise<Skipped> {
    const skipped: Skipped = new Map();
    if (items.length === 0) return skipped;
    const encoded = await Promise.all(items.map((it) => this.toCelery(it)));
    const once = options?.onceTtlMs ?? 0;
    if (once > 0) {
      // publish-if-absent: the once marker and the push in one script
      const keys = items.flatMap((it, i) => [`${this.keys.base(it.queue)}pub:${it.id}`, encoded[i].list]);
      await this.cmd(PUBLISH_ONCE)(keys.length, ...keys, once, ...encoded.map((e) => e.envelope));
      return skipped;
    }
    const multi = this.r.multi();
    const declared = new Set<string>();
    for (const { list, envelope } of encoded) multi.lpush(list, envelope);
    for (const it of items) {
      if (declared.has(it.queue)) continue;
      declared.add(it.queue);
      multi.sadd(this.celeryKeys.binding(it.queue), this.celeryKeys.bindingMember(it.queue));
    }
    const res = await multi.exec();
    for (const [err] of res ?? []) if (err) throw err;
    for (const it of items) {
      const chord = /"chord":\{"id":"([^"\\]+)"/.exec(it.raw)?.[1];
      if (chord) this.chordBodies.delete(chord);
    }
    return skipped;
  }

  /** Moves what kombu's lists hold for `queue` into our keys (see the class comment). */
  private async ingest(queue: string, max: number, claimMs: number, maxBytes: number): Promise<void> {
    const now = Date.now();
    const flat = (await this.cmd(TAKE)(this.keys.base(queue), ...kombuQueueKeys(queue), now, max, claimMs)) as string[];
    if (flat.length === 0) return;
    const args: Array<string | number> = [now, this.cap];
    const failures: ResultRecord[] = [];
    const bodies = new Map<string, string>();
    for (let i = 0; i < flat.length; i += 2) {
      const tag = flat[i];
      const raw = flat[i + 1];
      try {
        const { message, extras } = decodeCeleryMessage(raw, queue, maxBytes, now);
        if (!NAME_PATTERN.test(message.id))
          throw new InvalidMessageError(`header "id" has characters outside A-Z a-z 0-9 . _ : -`);
        if (extras.chord && extras.group) {
          if (!NAME_PATTERN.test(extras.group))
            throw new InvalidMessageError(`header "group" has characters outside A-Z a-z 0-9 . _ : -`);
          message.chord = { id: extras.group, index: extras.groupIndex ?? 0, queue };
          bodies.set(extras.group, JSON.stringify(toCelerySignature(extras.chord)));
        }
        args.push(tag, message.id, message.priority, message.eta ?? 0, encodeMessage(message));
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        const id = sniffCeleryId(raw);
        const entry: ParkedEntry = { id: id ?? null, raw, reason, at: now };
        args.push(tag, id ?? '', 0, -1, JSON.stringify(entry));
        if (id)
          failures.push({
            id,
            state: TaskState.FAILURE,
            at: now,
            error: { type: 'InvalidMessageError', message: reason },
          });
      }
    }
    if (bodies.size) {
      // before the admit: a header task may run (and join) as soon as it is admitted
      const pipe = this.r.pipeline();
      for (const [group, body] of bodies) pipe.set(this.celeryKeys.chordBody(group), body, 'PX', this.ttlMs, 'NX');
      await pipe.exec();
    }
    await this.cmd(ADMIT)(this.keys.base(queue), ...args);
    if (failures.length) await this.storeCelery(failures, this.ttlMs, queue);
  }

  override async reserve(req: ReserveRequest): Promise<ReserveResult> {
    await this.ingest(req.queue, Math.max(1, req.max), req.leaseMs, this.maxBytes);
    const res = await super.reserve(req);
    if (res.dropped.length) await this.storeCelery(res.dropped.map(droppedRecord), req.resultTtlMs, req.queue);
    return res;
  }

  /**
   * Waits like a kombu consumer, on a BRPOP of every list of `queues` (plus our
   * own wake-up lists). A message popped by the wait is pushed back where it
   * was, at the consuming end, and the worker's next reserve takes it.
   */
  override async waitForWork(queues: string[], untilMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.shut) return;
    const wake = this.celeryKeys.privateWake(this.wakeId);
    const lists = this.celeryKeys.kombuLists(queues);
    const keys = [...lists, ...queues.map((q) => this.keys.wake(q)), wake];
    if (!this.blockingConn) {
      this.blockingConn = duplicateConnection(this.r, 'blocking', {
        maxRetriesPerRequest: null,
        connectionName: 'taskqueue:celery-wait',
      }) as Redis;
      this.blockingConn.on('error', () => undefined);
    }
    const conn = this.blockingConn;
    const waitMs = Math.max(0, untilMs - Date.now());
    if (waitMs === 0) return;
    // BRPOP's own timeout is only as precise as Redis's cron tick: a local timer ends the wait on time.
    const end = () => void this.r.lpush(wake, '1').catch(() => undefined);
    const timer = setTimeout(end, Math.min(waitMs, BLOCK_SECONDS * 1000));
    signal.addEventListener('abort', end, { once: true });
    try {
      const popped = await conn.brpop(...keys, BLOCK_SECONDS + 1).catch((err: unknown) => {
        if (this.shut) return null;
        throw err;
      });
      if (popped && lists.includes(popped[0])) await this.r.rpush(popped[0], popped[1]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', end);
      await this.r.del(wake).catch(() => undefined);
    }
  }

  /**
   * Writes records in Celery's format: SET with the TTL, and PUBLISH on the
   * key's channel (Celery clients wait on it). `queue` is kept as Celery's
   * extended results keep it, so a handle finds which queue the task is in.
   */
  private async storeCelery(records: ResultRecord[], ttlMs: number, queue?: string, publish = true): Promise<void> {
    if (records.length === 0) return;
    const pipe = this.r.pipeline();
    for (const r of records) {
      const key = this.celeryKeys.result(r.id);
      const json = JSON.stringify(queue === undefined ? toCeleryResult(r) : { ...toCeleryResult(r), queue });
      pipe.set(key, json, 'PX', ttlMs);
      if (publish) pipe.publish(key, json);
    }
    const res = await pipe.exec();
    for (const [err] of res ?? []) if (err) throw err;
  }

  /**
   * Stores the Celery result first, then acknowledges: a crash in between
   * redelivers the task (at least once), never loses its result.
   */
  override async ack(
    update: TerminalUpdate | TerminalUpdate[],
    next?: ReserveRequest,
  ): Promise<ReserveResult | undefined> {
    const updates = Array.isArray(update) ? update : [update];
    // The base class splits an ack over several queues (or a reserve from another
    // queue) into calls of this method again, with the updates handed on below:
    // their results are stored already and must not be touched again.
    const fresh = updates.filter((u) => !this.acked.has(u));
    for (const { ttl, queue, records } of byTtlAndQueue(fresh)) await this.storeCelery(records, ttl, queue);
    // no result wanted (ignoreResult): drop whatever state was stored before (PROGRESS, a RETRY)
    const noResult = fresh.filter((u) => u.record === null).map((u) => this.celeryKeys.result(u.id));
    if (noResult.length) await this.r.del(...noResult);
    // what waits in kombu's lists first, so the reserve that rides on the ack can take it
    if (next) await this.ingest(next.queue, Math.max(1, next.max), next.leaseMs, this.maxBytes);
    const handedOn = updates.map((u) => {
      if (this.acked.has(u)) return u;
      const copy = { ...u, record: null };
      this.acked.add(copy);
      return copy;
    });
    const res = await super.ack(handedOn, next);
    if (res?.dropped.length) await this.storeCelery(res.dropped.map(droppedRecord), next!.resultTtlMs, next!.queue);
    return res;
  }

  override async retry(
    update: TerminalUpdate & { record: ResultRecord },
    raw: string,
    priority: number,
    dueAt: number,
  ): Promise<void> {
    await this.storeCelery([update.record], update.resultTtlMs, update.queue);
    await super.retry(update, raw, priority, dueAt);
  }

  override async fail(update: TerminalUpdate & { record: ResultRecord }, raw: string): Promise<void> {
    await this.storeCelery([update.record], update.resultTtlMs, update.queue);
    await super.fail(update, raw);
  }

  override async setState(queue: string, record: ResultRecord, resultTtlMs: number): Promise<void> {
    await this.storeCelery([record], resultTtlMs, queue);
  }

  override async revoke(queue: string, id: string, record: ResultRecord, resultTtlMs: number): Promise<void> {
    await super.revoke(queue, id, record, resultTtlMs);
    const current = await this.getResult(queue, id);
    if (!current || !READY_STATES.has(current.state)) await this.storeCelery([record], resultTtlMs, queue);
  }

  /**
   * A chord the Celery way (Redis backend's native join): its size in
   * `celery-taskset-meta-<id>.s`, its body in every header message
   * (`embed.chord`), so whichever worker runs the last header task, Python's
   * or ours, sends the body.
   */
  override async chordCreate(spec: ChordSpec): Promise<void> {
    const body = decodeMessage(spec.insert ? `${spec.bodyHead}null${spec.bodyTail}` : spec.bodyHead, Infinity);
    if (body.chain?.length)
      throw new InvalidMessageError(
        `a chord whose body (${body.task}) is followed by more steps has no Celery protocol form here; put the steps in the body's task, or link them`,
      );
    const sig = toCelerySignature({
      type: 'signature',
      task: body.task,
      args: spec.insert ? body.args.slice(1) : body.args,
      options: { taskId: body.id, queue: body.queue, priority: body.priority, headers: body.headers },
      immutable: !spec.insert,
      link: body.link,
      linkError: body.linkError,
    });
    this.chordBodies.set(spec.id, sig);
    const res = await this.r
      .multi()
      .set(`${this.celeryKeys.taskset(spec.id)}.s`, spec.size, 'PX', spec.ttlMs)
      .set(this.celeryKeys.chordBody(spec.id), JSON.stringify(sig), 'PX', spec.ttlMs)
      .exec();
    for (const [err] of res ?? []) if (err) throw err;
  }

  /**
   * Celery's Redis join (`on_chord_part_return`): ZADD the result to `.j`
   * scored by the header's index, compare the count with `.s` + `.t`; the
   * call that completes the chord sends the body with the results in header
   * order, then deletes the chord's keys (at least once: a crash before the
   * delete lets a redelivered header send the body again).
   */
  override async chordJoin(_queue: string, id: string, index: number, resultJson: string): Promise<ChordJoinOutcome> {
    const k = this.celeryKeys.taskset(id);
    const member = `[1, ${JSON.stringify(`${id}:${index}`)}, "SUCCESS", ${resultJson}]`;
    const res = await this.r
      .multi()
      .zadd(`${k}.j`, index, member)
      .zcount(`${k}.j`, '-inf', '+inf')
      .get(`${k}.t`)
      .get(`${k}.s`)
      .pexpire(`${k}.j`, this.ttlMs)
      .exec();
    const [[e0, added], [e1, count], [, extra], [, size]] = res ?? [];
    if (e0 || e1) throw e0 ?? e1;
    if (size === null) return 'gone';
    if (Number(count) < Number(size) + Number(extra ?? 0)) return Number(added) ? 'waiting' : 'duplicate';
    const [[, members], [, bodyJson]] =
      (await this.r.multi().zrange(`${k}.j`, 0, -1).get(this.celeryKeys.chordBody(id)).exec()) ?? [];
    if (typeof bodyJson !== 'string') return 'gone';
    const sig = fromCelerySignature(JSON.parse(bodyJson), 'the chord body');
    const values: unknown[] = [];
    let failed: { tid: string; error: StoredError } | undefined;
    for (const m of members as string[]) {
      const [, tid, state, value] = JSON.parse(m) as [number, string, string, unknown];
      if (state !== TaskState.SUCCESS) failed ??= { tid, error: fromCeleryException(value, null) };
      values.push(value);
    }
    const bodyId = sig.options?.taskId ?? randomUUID();
    if (failed) {
      await this.storeCelery([chordError(bodyId, sig.task, failed.tid, failed.error)], this.ttlMs, sig.options?.queue);
    } else {
      const o = sig.options ?? {};
      const message: TaskMessage = {
        id: bodyId,
        task: sig.task,
        queue: o.queue ?? CELERY_DEFAULT_QUEUE,
        priority: o.priority ?? fromCeleryPriority(0),
        args: sig.immutable ? sig.args : [values, ...sig.args],
        retries: 0,
        created: Date.now(),
        v: PROTOCOL_VERSION,
      };
      if (o.headers) message.headers = o.headers;
      if (sig.link?.length) message.link = sig.link;
      if (sig.linkError?.length) message.linkError = sig.linkError;
      await this.publish([
        { queue: message.queue, id: message.id, priority: message.priority, raw: encodeMessage(message) },
      ]);
    }
    await this.r.del(`${k}.j`, `${k}.s`, `${k}.t`, this.celeryKeys.chordBody(id));
    return 'complete';
  }

  /** A header task failed for good: the body never runs and its result is a ChordError (as Celery stores it). */
  override async chordFail(
    _queue: string,
    id: string,
    record: ResultRecord,
    resultTtlMs: number,
  ): Promise<string | null> {
    const bodyJson = await this.r.get(this.celeryKeys.chordBody(id));
    if (bodyJson) {
      const sig = fromCelerySignature(JSON.parse(bodyJson), 'the chord body');
      if (sig.options?.taskId)
        await this.storeCelery([{ ...record, id: sig.options.taskId, task: sig.task }], resultTtlMs, sig.options.queue);
    }
    const k = this.celeryKeys.taskset(id);
    await this.r.del(`${k}.j`, `${k}.s`, `${k}.t`, this.celeryKeys.chordBody(id));
    return null;
  }

  override async getResult(_queue: string, id: string): Promise<ResultRecord | null> {
    const raw = await this.r.get(this.celeryKeys.result(id));
    return raw ? fromCeleryResult(id, raw) : null;
  }

  /** Results are not per queue in Celery's format; the queue is the one stored with the result, when it is one of `queues`. */
  override async findResult(queues: string[], id: string): Promise<{ queue: string; record: ResultRecord } | null> {
    const raw = await this.r.get(this.celeryKeys.result(id));
    const record = raw ? fromCeleryResult(id, raw) : null;
    if (!record || !raw) return null;
    const stored = (JSON.parse(raw) as { queue?: unknown }).queue;
    return { queue: typeof stored === 'string' && queues.includes(stored) ? stored : (queues[0] ?? ''), record };
  }

  override async forget(_queue: string, id: string): Promise<void> {
    await this.r.del(this.celeryKeys.result(id));
  }

  /** Waits as a Celery client does: SUBSCRIBE to the result key's channel, then one GET. */
  override async waitForResult(_queue: string | string[], id: string, timeoutMs: number): Promise<ResultRecord | null> {
    const channel = this.celeryKeys.result(id);
    const sub = this.ensureResultSub();
    const final = (raw: string | null) => {
      const rec = raw ? fromCeleryResult(id, raw) : null;
      return rec && READY_STATES.has(rec.state) ? rec : null;
    };
    return new Promise<ResultRecord | null>((resolve, reject) => {
      let settled = false;
      const done = (rec: ResultRecord | null, err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const set = this.resultWaiters.get(channel);
        set?.delete(onMessage);
        if (set && set.size === 0) {
          this.resultWaiters.delete(channel);
          if (!this.shut) sub.unsubscribe(channel).catch(() => undefined);
        }
        if (err) reject(err);
        else resolve(rec);
      };
      const onMessage = (raw: string | null) => {
        if (raw === null) return done(null);
        const rec = final(raw);
        if (rec) done(rec);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      let set = this.resultWaiters.get(channel);
      const first = !set;
      if (!set) this.resultWaiters.set(channel, (set = new Set()));
      set.add(onMessage);
      (first ? sub.subscribe(channel) : Promise.resolve())
        .then(() => this.r.get(channel))
        .then((raw) => {
          const rec = final(raw);
          if (rec) done(rec);
        })
        .catch((err) => done(null, err));
    });
  }

  private ensureResultSub(): Redis {
    if (this.resultSub) return this.resultSub;
    const sub = duplicateConnection(this.r, 'subscriber', {
      maxRetriesPerRequest: null,
      enableReadyCheck: false,
      connectionName: 'taskqueue:celery-results',
    }) as Redis;
    sub.on('error', () => undefined);
    sub.on('message', (channel: string, message: string) => {
      for (const fn of [...(this.resultWaiters.get(channel) ?? [])]) fn(message);
    });
    // Messages published while disconnected are lost: look again after every reconnect.
    let connectedOnce = false;
    sub.on('ready', () => {
      if (!connectedOnce) return void (connectedOnce = true);
      for (const [channel, set] of this.resultWaiters)
        this.r
          .get(channel)
          .then((raw) => {
            if (raw) for (const fn of [...set]) fn(raw);
          })
          .catch(() => undefined);
    });
    this.resultSub = sub;
    return sub;
  }

  override async counts(queue: string): Promise<QueueCounts> {
    const counts = await super.counts(queue);
    const pipe = this.r.pipeline();
    for (const key of kombuQueueKeys(queue)) pipe.llen(key);
    pipe.hlen(this.celeryKeys.inbox(queue));
    const res = (await pipe.exec()) ?? [];
    for (const [err, n] of res) {
      if (err) throw err;
      counts.ready += Number(n);
    }
    return counts;
  }

  override async purge(queue: string): Promise<void> {
    await super.purge(queue);
    await this.r.del(...kombuQueueKeys(queue));
  }

  override async close(): Promise<void> {
    if (this.shut) return;
    this.shut = true;
    for (const set of [...this.resultWaiters.values()]) for (const fn of [...set]) fn(null);
    this.blockingConn?.disconnect();
    this.resultSub?.disconnect();
    await this.r.del(this.celeryKeys.privateWake(this.wakeId)).catch(() => undefined);
    await super.close();
  }
}

/** Result TTL of the FAILURE stored for a message that could not be read (Celery's default, one day). */
const DEFAULT_RESULT_TTL_MS = 86_400_000;

/** Celery's default queue, where a body that names no queue goes. */
const CELERY_DEFAULT_QUEUE = 'celery';

function chordError(id: string, task: string, failedId: string, error: StoredError): ResultRecord {
  return {
    id,
    task,
    state: TaskState.FAILURE,
    at: Date.now(),
    error: { type: 'ChordError', message: `Dependency ${failedId} raised ${error.type}: ${error.message}` },
  };
}

function byTtlAndQueue(updates: TerminalUpdate[]): Array<{ ttl: number; queue: string; records: ResultRecord[] }> {
  const map = new Map<string, { ttl: number; queue: string; records: ResultRecord[] }>();
  for (const u of updates) {
    if (!u.record) continue;
    const key = `${u.resultTtlMs}\n${u.queue}`;
    const group = map.get(key);
    if (group) group.records.push(u.record);
    else map.set(key, { ttl: u.resultTtlMs, queue: u.queue, records: [u.record] });
  }
  return [...map.values()];
}

function droppedRecord(d: DroppedItem): ResultRecord {
  const task = /"task":"([^"\\]+)"/.exec(d.raw)?.[1];
  if (d.reason === 'lost')
    return {
      id: d.id,
      task,
      state: TaskState.FAILURE,
      at: Date.now(),
      error: { type: 'WorkerLostError', message: 'the worker holding the task was lost too many times' },
    };
  return {
    id: d.id,
    task,
    state: TaskState.REVOKED,
    at: Date.now(),
    error: { type: 'TaskRevokedError', message: d.reason },
  };
}

/** Best-effort task id of an unreadable Celery envelope. */
function sniffCeleryId(raw: string): string | undefined {
  try {
    const id = (JSON.parse(raw) as { headers?: { id?: unknown } }).headers?.id;
    return typeof id === 'string' && NAME_PATTERN.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
