import { createHash } from 'node:crypto';
import {
  DEFAULT_PRIORITY,
  MAX_PRIORITY,
  MIN_PRIORITY,
  READY_STATES,
  TaskState,
  type ResultRecord,
  uniqueOfRaw,
} from '../../protocol/index.js';
import type {
  ChordJoinOutcome,
  ChordSpec,
  DroppedItem,
  ParkedEntry,
  PublishItem,
  PublishOnce,
  QueueCounts,
  ReservedItem,
  ReserveRequest,
  ReserveResult,
  ScheduledEntry,
  Skipped,
  StoredEvent,
  TerminalUpdate,
  Transport,
  WorkerInfo,
  ControlMessage,
  ControlReply,
} from '../transport.interface.js';

export interface MemoryTransportOptions {
  /** Cap of the dead-letter and rejected lists, per queue. @default 10000 */
  parkedCap?: number;
}

const DEFAULT_PARKED_CAP = 10_000;
/** How often expired results and revocations are swept while any exist. */
const SWEEP_INTERVAL_MS = 5_000;
/** setTimeout's largest delay; longer waits end early, which waiters must tolerate anyway. */
const MAX_TIMER_MS = 2_147_483_647;

/** A FIFO list with O(1) operations at both ends (a ready list of one priority). */
class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

interface StoredResult {
  /** The record as JSON, so readers get a copy, exactly as from Redis. */
  json: string;
  expiresAt: number;
}

/** Everything one queue holds; `purge` drops it whole. */
class QueueState {
  /** Raw messages per priority, index 0..9. */
  readonly ready: Array<Deque<string>> = Array.from({ length: MAX_PRIORITY + 1 }, () => new Deque<string>());
  /** Delayed ids sorted by (due time, id), the order a sorted set gives. */
  readonly delayedOrder: Array<{ id: string; dueAt: number }> = [];
  readonly delayed = new Map<string, { dueAt: number; raw: string }>();
  /** Held messages: id → raw. */
  readonly active = new Map<string, string>();
  /** Held messages: id → lease expiry (epoch ms). */
  readonly leases = new Map<string, number>();
  /** Revoked ids → when the revocation is forgotten (epoch ms). */
  readonly revoked = new Map<string, number>();
  /** Redeliveries after lost leases, per id. */
  readonly redeliveries = new Map<string, number>();
  /** Parked entries as JSON, oldest first (listed newest first). */
  readonly dead: string[] = [];
  readonly rejected: string[] = [];
  readonly results = new Map<string, StoredResult>();
  /** Unique keys: the task holding each, until when. */
  readonly uniques = new Map<string, { id: string; until: number }>();

  /** Takes a unique key for `id` unless another live task holds it; returns that task's id. */
  holdUnique(key: string, id: string, ttlMs: number, now: number): string | undefined {
    const held = this.uniques.get(key);
    if (held && held.until > now) return held.id;
    this.uniques.set(key, { id, until: now + ttlMs });
    return undefined;
  }

  releaseUnique(key: string, id: string): void {
    if (this.uniques.get(key)?.id === id) this.uniques.delete(key);
  }
  /** At most one wake token, as the Redis wake list holds. */
  wakeToken = false;
  /** Chords whose body lives in this queue. */
  readonly chords = new Map<string, { spec: ChordSpec; results: Map<number, string>; expiresAt: number }>();

  readyCount(): number {
    let n = 0;
    for (const list of this.ready) n += list.length;
    return n;
  }

  addDelayed(id: string, dueAt: number, raw: string): void {
    this.removeDelayed(id);
    this.delayed.set(id, { dueAt, raw });
    const order = this.delayedOrder;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = order[mid];
      if (e.dueAt < dueAt || (e.dueAt === dueAt && e.id < id)) lo = mid + 1;
      else hi = mid;
    }
    order.splice(lo, 0, { id, dueAt });
  }

  /** Returns the raw of the removed delayed message, or undefined. */
  removeDelayed(id: string): string | undefined {
    const entry = this.delayed.get(id);
    if (!entry) return undefined;
    this.delayed.delete(id);
    const i = this.delayedOrder.findIndex((e) => e.id === id);
    if (i >= 0) this.delayedOrder.splice(i, 1);
    return entry.raw;
  }

  /** Removes a held message; returns its raw or undefined. */
  unhold(id: string): string | undefined {
    const raw = this.active.get(id);
    this.active.delete(id);
    this.leases.delete(id);
    return raw;
  }

  isEmpty(): boolean {
    return (
      this.readyCount() === 0 &&
      this.delayed.size === 0 &&
      this.active.size === 0 &&
      this.revoked.size === 0 &&
      this.redeliveries.size === 0 &&
      this.dead.length === 0 &&
      this.rejected.length === 0 &&
      this.results.size === 0 &&
      !this.wakeToken
    );
  }
}

interface WorkWaiter {
  queues: ReadonlySet<string>;
  resolve: () => void;
}

interface ResultWaiter {
  queues: Set<string>;
  fn: (record: ResultRecord | null) => void;
}

// The fixed part of an encoded message: everything before the first structural ,"args":
// (the same parsing as the Redis scripts, so both transports treat odd messages alike).
function head(raw: string): string {
  const pos = raw.indexOf(',"args":');
  return pos >= 0 ? raw.slice(0, pos + 1) : raw;
}

function messageId(raw: string): string {
  const m = /^\{"id":"([^"\\]+)"/.exec(raw);
  return m ? m[1] : `unparsed:${createHash('sha1').update(raw).digest('hex')}`;
}

function messagePriority(h: string): number {
  const m = /"priority":(\d)/.exec(h);
  return m ? Number(m[1]) : DEFAULT_PRIORITY;
}

function messageExpires(h: string): number | undefined {
  const m = /"expires":(\d+)/.exec(h);
  return m ? Number(m[1]) : undefined;
}

function priorityIndex(priority: number): number {
  if (!Number.isFinite(priority)) return DEFAULT_PRIORITY;
  return Math.min(MAX_PRIORITY, Math.max(MIN_PRIORITY, Math.trunc(priority)));
}

function stateRecord(
  id: string,
  state: TaskState,
  now: number,
  worker: string,
  error?: ResultRecord['error'],
): ResultRecord {
  const rec: ResultRecord = { id, state, at: now, worker };
  if (error) rec.error = error;
  return rec;
}

/**
 * In-process broker and result store for tests and single-process development
 * (`memory://`). It keeps the same state machine as the Redis transport:
 * priorities 0..9 (9 first, FIFO within one), a delayed set, leases recovered
 * on the next reserve after they run out by wall clock, redelivery counting
 * with dead-lettering, revocation, `expires`, capped dead and rejected lists,
 * and result records with a time to live.
 *
 * Every method does its whole state change synchronously, so each transition
 * is atomic, and one instance can be shared as one broker by any number of
 * clients and workers in the process: see {@link MemoryTransport.shared}.
 * Waiting never polls: `waitForWork` and `waitForResult` are woken by the
 * transitions themselves.
 *
 * `close()` ends every wait in progress (`waitForWork` resolves,
 * `waitForResult` resolves null) and stops the timers; the stored state stays,
 * so a broker shared by several users outlives any one of them.
 *
 * @publicApi
 */
export class MemoryTransport implements Transport {
  private static readonly registry = new Map<string, MemoryTransport>();

  /**
   * The process-wide broker of this name: the same instance for the same name,
   * so `memory://foo` in two modules of one process reaches one broker.
   * `options` apply only when the instance is created.
   */
  static shared(name = 'default', options?: MemoryTransportOptions): MemoryTransport {
    let transport = MemoryTransport.registry.get(name);
    if (!transport) {
      transport = new MemoryTransport(options);
      MemoryTransport.registry.set(name, transport);
    }
    return transport;
  }

  /** Closes and forgets every shared broker (between tests). */
  static async resetShared(): Promise<void> {
    const all = [...MemoryTransport.registry.values()];
    MemoryTransport.registry.clear();
    await Promise.all(all.map((t) => t.close()));
  }

  private readonly parkedCap: number;
  private readonly queues = new Map<string, QueueState>();
  private readonly workWaiters = new Set<WorkWaiter>();
  /** Waiters per task id, each for the queues the task may be in. */
  private readonly resultWaiters = new Map<string, Set<ResultWaiter>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Ids published with a once TTL ("<queue>\0<id>", chords "<queue>\0chord\0<id>") → expiry (publish-if-absent). */
  private readonly publishedOnce = new Map<string, number>();
  private nextOncePrune = 0;
  private sweepTimer?: NodeJS.Timeout;

  constructor(options: MemoryTransportOptions = {}) {
    this.parkedCap = Math.max(1, options.parkedCap ?? DEFAULT_PARKED_CAP);
  }

  // ---- internals -------------------------------------------------------

  private queue(name: string): QueueState {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new QueueState()));
    return q;
  }

  /** Hands the queue's wake token to one waiting worker, or keeps it for the next wait. */
  private wake(name: string, q: QueueState): void {
    for (const waiter of this.workWaiters) {
      if (waiter.queues.has(name)) {
        waiter.resolve();
        return;
      }
    }
    q.wakeToken = true;
  }

  private expiryOf(ttlMs: number): number {
    if (!(ttlMs > 0))
      throw new RangeError(
        `MemoryTransport: resultTtlMs must be a positive number of milliseconds, got ${String(ttlMs)}`,
      );
    return Date.now() + ttlMs;
  }

  private store(q: QueueState, id: string, record: ResultRecord | null, ttlMs: number): void {
    if (record === null) {
      q.results.delete(id);
      return;
    }
    q.results.set(id, { json: JSON.stringify(record), expiresAt: this.expiryOf(ttlMs) });
    this.scheduleSweep();
  }

  /** Stores the record and hands it to everyone waiting for this task. */
  private storeFinal(queue: string, q: QueueState, id: string, record: ResultRecord | null, ttlMs: number): void {
    this.store(q, id, record, ttlMs);
    if (record === null) return;
    const waiters = this.resultWaiters.get(id);
    if (!waiters) return;
    const json = JSON.stringify(record);
    for (const w of [...waiters]) if (w.queues.has(queue)) w.fn(JSON.parse(json) as ResultRecord);
  }

  private readResult(q: QueueState | undefined, id: string): ResultRecord | null {
    const stored = q?.results.get(id);
    if (!stored) return null;
    if (stored.expiresAt <= Date.now()) {
      q?.results.delete(id);
      return null;
    }
    return JSON.parse(stored.json) as ResultRecord;
  }

  private pushParked(list: string[], entry: ParkedEntry | Record<string, unknown>): void {
    list.push(JSON.stringify(entry));
    if (list.length > this.parkedCap) list.splice(0, list.length - this.parkedCap);
  }

  private listParked(list: string[] | undefined, start: number, count: number): ParkedEntry[] {
    if (!list || count <= 0) return [];
    const out: ParkedEntry[] = [];
    const n = list.length;
    const first = start < 0 ? Math.max(0, n + start) : start;
    for (let i = first; i < first + count && i < n; i++) out.push(JSON.parse(list[n - 1 - i]) as ParkedEntry);
    return out;
  }

  private scheduleSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** Drops expired results and revocations; stops sweeping when nothing is left to expire. */
  private sweep(): void {
    const now = Date.now();
    let pending = false;
    for (const [name, q] of this.queues) {
      for (const [id, stored] of q.results) if (stored.expiresAt <= now) q.results.delete(id);
      for (const [id, until] of q.revoked) if (until <= now) q.revoked.delete(id);
      if (q.results.size > 0 || q.revoked.size > 0) pending = true;
      if (q.isEmpty()) this.queues.delete(name);
    }
    if (!pending && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  private reserveIn(req: ReserveRequest, now: number): ReserveResult {
    const q = this.queue(req.queue);
    const dropped: DroppedItem[] = [];
    // 1. lost leases, earliest expiry first, back to the front of their ready lists
    const lost = [...q.leases]
      .filter(([, until]) => until <= now)
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [id] of lost) {
      const raw = q.unhold(id);
      if (raw === undefined) continue;
      const n = (q.redeliveries.get(id) ?? 0) + 1;
      if (n > req.maxRedeliveries) {
        q.redeliveries.delete(id);
        const message = `the worker holding the task stopped renewing its lease ${n} times`;
        this.storeFinal(
          req.queue,
          q,
          id,
          stateRecord(id, TaskState.FAILURE, now, req.workerId, { type: 'WorkerLostError', message }),
          req.resultTtlMs,
        );
        this.pushParked(q.dead, { id, raw, reason: 'lost', at: now });
        dropped.push({ id, raw, reason: 'lost' });
      } else {
        q.redeliveries.set(id, n);
        q.ready[messagePriority(head(raw))].unshift(raw);
      }
    }
    // 2. due delayed messages
    let due = 0;
    while (due < q.delayedOrder.length && q.delayedOrder[due].dueAt <= now) due++;
    for (const { id } of q.delayedOrder.splice(0, due)) {
      const entry = q.delayed.get(id);
      q.delayed.delete(id);
      if (entry) q.ready[messagePriority(head(entry.raw))].push(entry.raw);
    }
    // 3. pop by priority, 9 first
    for (const [id, until] of q.revoked) if (until <= now) q.revoked.delete(id);
    const items: ReservedItem[] = [];
    const leaseUntil = now + req.leaseMs;
    for (let p = MAX_PRIORITY; p >= MIN_PRIORITY && items.length < req.max; p--) {
      const list = q.ready[p];
      while (items.length < req.max) {
        const raw = list.shift();
        if (raw === undefined) break;
        const id = messageId(raw);
        const h = head(raw);
        const expires = messageExpires(h);
        const unique = uniqueOfRaw(h);
        const drop = q.revoked.has(id) || (expires !== undefined && expires < now);
        // a unique key held while queued is freed as the task starts; any is freed when it is dropped
        if (unique && (unique.while === 'queued' || (drop && unique.while === 'running')))
          q.releaseUnique(unique.key, id);
        if (q.revoked.has(id)) {
          q.revoked.delete(id);
          dropped.push({ id, raw, reason: 'revoked' });
        } else if (expires !== undefined && expires < now) {
          this.storeFinal(
            req.queue,
            q,
            id,
            stateRecord(id, TaskState.REVOKED, now, req.workerId, { type: 'TaskRevokedError', message: 'expired' }),
            req.resultTtlMs,
          );
          dropped.push({ id, raw, reason: 'expired' });
        } else {
          q.active.set(id, raw);
          q.leases.set(id, leaseUntil);
          const state = items.length < req.startCount ? TaskState.STARTED : TaskState.RECEIVED;
          this.store(q, id, stateRecord(id, state, now, req.workerId), req.resultTtlMs);
          items.push({ id, raw, redeliveries: q.redeliveries.get(id) ?? 0 });
        }
      }
    }
    // anything left for another idle worker?
    if (items.length >= req.max && q.readyCount() > 0) this.wake(req.queue, q);
    // 4. when is the next thing due?
    let next: number | null = q.delayedOrder.length > 0 ? q.delayedOrder[0].dueAt : null;
    for (const until of q.leases.values()) if (next === null || until < next) next = until;
    return { items, dropped, nextWakeAt: next };
  }

  // ---- Transport -------------------------------------------------------

  /** Publish-if-absent: true (and marks `key`) when it was not marked within its TTL. */
  protected firstTime(key: string, onceTtlMs: number | undefined, now: number): boolean {
    if (!onceTtlMs || onceTtlMs <= 0) return true;
    const until = this.publishedOnce.get(key);
    if (until !== undefined && until > now) return false;
    if (now >= this.nextOncePrune) {
      // expired marks go at most once a minute, so each publish stays O(1)
      for (const [k, t] of this.publishedOnce) if (t <= now) this.publishedOnce.delete(k);
      this.nextOncePrune = now + 60_000;
    }
    this.publishedOnce.set(key, now + onceTtlMs);
    return true;
  }

  async publish(items: PublishItem[], options?: PublishOnce): Promise<Skipped> {
    const now = Date.now();
    const woken = new Set<string>();
    const skipped: Skipped = new Map();
    for (const it of items) {
      const q = this.queue(it.queue);
      const unique = uniqueOfRaw(it.raw);
      if (unique) {
        const holder = q.holdUnique(unique.key, it.id, unique.ttl, now);
        if (holder !== undefined) {
          skipped.set(it.id, holder);
          continue;
        }
      }
      if (!this.firstTime(`${it.queue}\0${it.id}`, options?.onceTtlMs, now)) continue;
      if (it.dueAt !== undefined && it.dueAt > now) {
        const first = q.delayedOrder.length > 0 ? q.delayedOrder[0].dueAt : undefined;
        q.addDelayed(it.id, it.dueAt, it.raw);
        // wake a sleeping worker when this is due before whatever it sleeps for
        if (!woken.has(it.queue) && (first === undefined || it.dueAt < first)) {
          this.wake(it.queue, q);
          woken.add(it.queue);
        }
      } else {
        q.ready[priorityIndex(it.priority)].push(it.raw);
        if (!woken.has(it.queue)) {
          this.wake(it.queue, q);
          woken.add(it.queue);
        }
      }
    }
    return skipped;
  }

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    return this.reserveIn(req, Date.now());
  }

  waitForWork(queues: string[], untilMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    // A token left by an earlier wake-up is taken at once, as a blocking pop would.
    for (const name of queues) {
      const q = this.queues.get(name);
      if (q?.wakeToken) {
        q.wakeToken = false;
        return Promise.resolve();
      }
    }
    return new Promise<void>((resolve) => {
      const waiter: WorkWaiter = {
        queues: new Set(queues),
        resolve: () => {
          this.workWaiters.delete(waiter);
          clearTimeout(timer);
          this.timers.delete(timer);
          signal.removeEventListener('abort', waiter.resolve);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, Math.min(MAX_TIMER_MS, Math.max(0, untilMs - Date.now())));
      this.timers.add(timer);
      this.workWaiters.add(waiter);
      signal.addEventListener('abort', waiter.resolve, { once: true });
    });
  }

  async renew(queue: string, ids: string[], leaseMs: number): Promise<string[]> {
    const q = this.queues.get(queue);
    const until = Date.now() + leaseMs;
    const lost: string[] = [];
    for (const id of ids) {
      if (q?.leases.has(id)) q.leases.set(id, until);
      else lost.push(id);
    }
    return lost;
  }

  async setState(queue: string, record: ResultRecord, resultTtlMs: number): Promise<void> {
    this.store(this.queue(queue), record.id, record, resultTtlMs);
  }

  async ack(update: TerminalUpdate | TerminalUpdate[], next?: ReserveRequest): Promise<ReserveResult | undefined> {
    for (const u of Array.isArray(update) ? update : [update]) {
      const q = this.queue(u.queue);
      q.unhold(u.id);
      q.redeliveries.delete(u.id);
      this.storeFinal(u.queue, q, u.id, u.record, u.resultTtlMs);
    }
    return next && next.max > 0 ? this.reserveIn(next, Date.now()) : undefined;
  }

  async retry(
    update: TerminalUpdate & { record: ResultRecord },
    raw: string,
    priority: number,
    dueAt: number,
  ): Promise<void> {
    const now = Date.now();
    const q = this.queue(update.queue);
    q.unhold(update.id);
    q.redeliveries.delete(update.id);
    this.store(q, update.id, update.record, update.resultTtlMs);
    if (dueAt > now) {
      const first = q.delayedOrder.length > 0 ? q.delayedOrder[0].dueAt : undefined;
      q.addDelayed(update.id, dueAt, raw);
      if (first === undefined || dueAt < first) this.wake(update.queue, q);
    } else {
      q.ready[priorityIndex(priority)].push(raw);
      this.wake(update.queue, q);
    }
  }

  async fail(update: TerminalUpdate & { record: ResultRecord }, raw: string): Promise<void> {
    const q = this.queue(update.queue);
    q.unhold(update.id);
    q.redeliveries.delete(update.id);
    this.storeFinal(update.queue, q, update.id, update.record, update.resultTtlMs);
    const entry: ParkedEntry = { id: update.id, raw, reason: 'failed', at: Date.now(), error: update.record.error };
    this.pushParked(q.dead, entry);
  }

  async reject(queue: string, id: string, raw: string, reason: string): Promise<void> {
    const q = this.queue(queue);
    q.unhold(id);
    q.redeliveries.delete(id);
    const entry: ParkedEntry = { id, raw, reason, at: Date.now() };
    this.pushParked(q.rejected, entry);
  }

  async release(queue: string, ids: string[]): Promise<void> {
    const q = this.queues.get(queue);
    if (!q) return;
    let n = 0;
    for (let i = ids.length - 1; i >= 0; i--) {
      const raw = q.unhold(ids[i]);
      if (raw === undefined) continue;
      q.ready[messagePriority(head(raw))].unshift(raw);
      n++;
    }
    if (n > 0) this.wake(queue, q);
  }

  async releaseUnique(queue: string, key: string, id: string): Promise<void> {
    this.queues.get(queue)?.releaseUnique(key, id);
  }

  async revoke(queue: string, id: string, record: ResultRecord, resultTtlMs: number): Promise<void> {
    const q = this.queue(queue);
    const current = this.readResult(q, id);
    if (current && (current.state === TaskState.SUCCESS || current.state === TaskState.FAILURE)) return;
    const now = Date.now();
    const delayed = q.removeDelayed(id);
    if (delayed === undefined) q.revoked.set(id, now + resultTtlMs);
    else {
      const unique = uniqueOfRaw(delayed);
      if (unique) q.releaseUnique(unique.key, id);
    }
    this.storeFinal(queue, q, id, record, resultTtlMs);
  }

  async chordCreate(spec: ChordSpec, options?: PublishOnce): Promise<void> {
    if (!this.firstTime(`${spec.queue}\0chord\0${spec.id}`, options?.onceTtlMs, Date.now())) return;
    this.queue(spec.queue).chords.set(spec.id, {
      spec: { ...spec },
      results: new Map(),
      expiresAt: this.expiryOf(spec.ttlMs),
    });
  }

  private liveChord(queue: string, id: string) {
    const q = this.queues.get(queue);
    const chord = q?.chords.get(id);
    if (!q || !chord) return undefined;
    if (chord.expiresAt <= Date.now()) {
      q.chords.delete(id);
      return undefined;
    }
    return { q, chord };
  }

  async chordJoin(queue: string, id: string, index: number, resultJson: string): Promise<ChordJoinOutcome> {
    const found = this.liveChord(queue, id);
    if (!found) return 'gone';
    const { q, chord } = found;
    if (chord.results.has(index)) return 'duplicate';
    chord.results.set(index, resultJson);
    const { spec } = chord;
    if (chord.results.size < spec.size) return 'waiting';
    q.chords.delete(id);
    let raw = spec.bodyHead;
    if (spec.insert) {
      const parts: string[] = [];
      for (let i = 0; i < spec.size; i++) parts.push(chord.results.get(i)!);
      raw = `${spec.bodyHead}[${parts.join(',')}]${spec.bodyTail}`;
    }
    q.ready[priorityIndex(spec.bodyPriority)].push(raw);
    this.wake(queue, q);
    return 'complete';
  }

  async chordFail(queue: string, id: string, record: ResultRecord, resultTtlMs: number): Promise<string | null> {
    const found = this.liveChord(queue, id);
    if (!found) return null;
    const { q, chord } = found;
    q.chords.delete(id);
    this.storeFinal(queue, q, chord.spec.bodyId, { ...record, id: chord.spec.bodyId }, resultTtlMs);
    const { insert, bodyHead, bodyTail } = chord.spec;
    return insert ? `${bodyHead}null${bodyTail}` : bodyHead;
  }

  /** Next free start slot per rate-limited task, as the Redis script keeps it. */
  private readonly rates = new Map<string, number>();

  async reserveRateSlot(task: string, limit: number, intervalMs: number): Promise<number> {
    const now = Date.now();
    const slot = Math.max(now, this.rates.get(task) ?? 0);
    this.rates.set(task, slot + intervalMs / limit);
    return Math.ceil(slot - now);
  }

  async getResult(queue: string, id: string): Promise<ResultRecord | null> {
    return this.readResult(this.queues.get(queue), id);
  }

  waitForResult(queue: string | string[], id: string, timeoutMs: number): Promise<ResultRecord | null> {
    const queues = new Set(Array.isArray(queue) ? queue : [queue]);
    for (const q of queues) {
      const current = this.readResult(this.queues.get(q), id);
      if (current && READY_STATES.has(current.state)) return Promise.resolve(current);
    }
    return new Promise<ResultRecord | null>((resolve) => {
      let waiters = this.resultWaiters.get(id);
      if (!waiters) this.resultWaiters.set(id, (waiters = new Set()));
      const set = waiters;
      let settled = false;
      const waiter: ResultWaiter = {
        queues,
        fn: (record) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.timers.delete(timer);
          set.delete(waiter);
          if (set.size === 0 && this.resultWaiters.get(id) === set) this.resultWaiters.delete(id);
          resolve(record);
        },
      };
      const timer = setTimeout(() => waiter.fn(null), Math.min(MAX_TIMER_MS, Math.max(0, timeoutMs)));
      this.timers.add(timer);
      set.add(waiter);
    });
  }

  async findResult(queues: string[], id: string): Promise<{ queue: string; record: ResultRecord } | null> {
    for (const queue of queues) {
      const record = this.readResult(this.queues.get(queue), id);
      if (record) return { queue, record };
    }
    return null;
  }

  async forget(queue: string, id: string): Promise<void> {
    this.queues.get(queue)?.results.delete(id);
  }

  async counts(queue: string): Promise<QueueCounts> {
    const q = this.queues.get(queue);
    if (!q) return { ready: 0, delayed: 0, reserved: 0, dead: 0, rejected: 0 };
    return {
      ready: q.readyCount(),
      delayed: q.delayed.size,
      reserved: q.active.size,
      dead: q.dead.length,
      rejected: q.rejected.length,
    };
  }

  async listScheduled(queue: string, start = 0, count = 100): Promise<ScheduledEntry[]> {
    const q = this.queues.get(queue);
    if (!q) return [];
    return q.delayedOrder
      .slice(start, start + count)
      .map(({ id, dueAt }) => ({ id, dueAt, raw: q.delayed.get(id)!.raw }));
  }

  async listDead(queue: string, start = 0, count = 100): Promise<ParkedEntry[]> {
    return this.listParked(this.queues.get(queue)?.dead, start, count);
  }

  async listRejected(queue: string, start = 0, count = 100): Promise<ParkedEntry[]> {
    return this.listParked(this.queues.get(queue)?.rejected, start, count);
  }

  async listQueues(): Promise<string[]> {
    return [...this.queues.entries()]
      .filter(([, q]) => !q.isEmpty() || q.results.size > 0)
      .map(([name]) => name)
      .sort();
  }

  async purge(queue: string): Promise<void> {
    this.queues.delete(queue);
  }

  private readonly workers = new Map<string, { info: WorkerInfo; expiresAt: number }>();

  async workerHeartbeat(info: WorkerInfo, ttlMs: number): Promise<void> {
    this.workers.set(info.id, { info: { ...info, queues: [...info.queues] }, expiresAt: info.at + ttlMs });
  }

  async workerGone(id: string): Promise<void> {
    this.workers.delete(id);
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    const now = Date.now();
    const live: WorkerInfo[] = [];
    for (const [id, w] of this.workers) {
      if (w.expiresAt > now) live.push({ ...w.info, queues: [...w.info.queues] });
      else this.workers.delete(id);
    }
    return live.sort((a, b) => b.at - a.at);
  }

  private readonly controlHandlers = new Set<(message: ControlMessage) => Promise<ControlReply | undefined>>();

  async control(message: ControlMessage, timeoutMs: number): Promise<ControlReply[]> {
    const copy = () => JSON.parse(JSON.stringify(message)) as ControlMessage;
    const settled = await Promise.allSettled([...this.controlHandlers].map((h) => h(copy())));
    const replies = settled.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
    // Answers arrive at once here; wait out the timeout only when nobody answered, as on Redis.
    if (message.reply && replies.length === 0 && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.timers.delete(t);
          resolve();
        }, timeoutMs);
        this.timers.add(t);
      });
    }
    return message.reply ? replies : [];
  }

  async onControl(
    handler: (message: ControlMessage) => Promise<ControlReply | undefined>,
  ): Promise<() => Promise<void>> {
    this.controlHandlers.add(handler);
    return async () => {
      this.controlHandlers.delete(handler);
    };
  }

  async ping(): Promise<number> {
    return 0;
  }

  /** The event stream: entries oldest first, capped like Redis's (exactly, here). */
  private readonly events: StoredEvent[] = [];
  private eventSeq = 1;
  private readonly eventWaiters = new Set<() => void>();

  async appendEvents(events: string[], maxLength: number): Promise<void> {
    for (const json of events) this.events.push({ cursor: `${Date.now()}-${this.eventSeq++}`, json });
    if (this.events.length > maxLength) this.events.splice(0, this.events.length - maxLength);
    for (const wake of [...this.eventWaiters]) wake();
  }

  async readEvents(from: string, count: number, blockMs?: number): Promise<{ events: StoredEvent[]; cursor: string }> {
    const after = from === '$' ? (this.events[this.events.length - 1]?.cursor ?? '0-0') : from;
    const seq = (cursor: string) => Number(cursor.slice(cursor.indexOf('-') + 1));
    const read = () => {
      const events = this.events.filter((e) => after === '0' || seq(e.cursor) > seq(after)).slice(0, count);
      return { events, cursor: events.length ? events[events.length - 1].cursor : after };
    };
    const now = read();
    if (now.events.length || !blockMs) return now;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.eventWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, blockMs);
      this.eventWaiters.add(done);
    });
    return read();
  }

  async close(): Promise<void> {
    for (const waiter of [...this.workWaiters]) waiter.resolve();
    for (const wake of [...this.eventWaiters]) wake();
    for (const set of [...this.resultWaiters.values()]) for (const w of [...set]) w.fn(null);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  async parked(
    op: 'replay' | 'delete',
    queue: string,
    kind: 'dead' | 'rejected',
    ids: string[] | 'all',
  ): Promise<number> {
    const q = this.queues.get(queue);
    if (!q || (ids !== 'all' && ids.length === 0)) return 0;
    const list = kind === 'dead' ? q.dead : q.rejected;
    const wanted = new Set(ids === 'all' ? [] : ids);
    const kept: string[] = [];
    let n = 0;
    for (const entry of list) {
      let e: Partial<ParkedEntry> | undefined;
      try {
        e = JSON.parse(entry) as Partial<ParkedEntry>;
      } catch {
        e = undefined;
      }
      const id = typeof e?.id === 'string' ? e.id : undefined;
      if (ids !== 'all' && (id === undefined || !wanted.has(id))) {
        kept.push(entry);
        continue;
      }
      n++;
      if (op !== 'replay' || typeof e?.raw !== 'string') continue;
      let h = head(e.raw);
      const rest = e.raw.slice(h.length);
      h = h.replace(/,"retries":\d+,/, ',"retries":0,').replace(/,"expires":\d+,/, ',');
      q.ready[priorityIndex(messagePriority(h))].push(h + rest);
      if (id !== undefined) {
        q.results.delete(id);
        q.redeliveries.delete(id);
      }
    }
    if (n > 0) {
      list.splice(0, list.length, ...kept);
      if (op === 'replay') this.wake(queue, q);
    }
    return n;
  }
}
