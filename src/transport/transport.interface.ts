import type { ResultRecord } from '../protocol/index.js';

/**
 * The one interface to storage. Everything above `transport/` talks to this and
 * nothing else; the Redis and memory implementations pass the same contract
 * suite (test/integration/transport.contract.ts).
 *
 * Life of a message: publish → (delayed → due) → ready → reserved (leased) →
 * ack | retry | fail | reject | release. Every transition is atomic.
 */

export interface PublishItem {
  queue: string;
  id: string;
  /** 0..9, higher first. */
  priority: number;
  /** The encoded message (protocol/envelope encodeMessage). */
  raw: string;
  /** Epoch ms; when in the future the message waits in the delayed set until then. */
  dueAt?: number;
}

/**
 * Publish-if-absent: with `onceTtlMs`, a message (or chord) whose id was
 * published with this option within the last `onceTtlMs` is skipped, atomically,
 * so two publishers racing with the same id put it in the queue once (the outbox relay).
 */
export interface PublishOnce {
  onceTtlMs?: number;
}

export interface ReserveRequest {
  queue: string;
  /** How many messages to take at most. */
  max: number;
  /** How many of them start at once (state STARTED); the rest are prefetched (state RECEIVED). */
  startCount: number;
  /** Lease length; the holder must renew before it runs out or the message is redelivered. */
  leaseMs: number;
  workerId: string;
  /** Redeliveries after lost leases before a message is dead-lettered instead (poison pill guard). */
  maxRedeliveries: number;
  /** Result TTL for the state records written by the reserve (REVOKED, FAILURE). */
  resultTtlMs: number;
}

export interface ReservedItem {
  id: string;
  raw: string;
  /** How many times this message was redelivered after a lost lease. */
  redeliveries: number;
}

export interface DroppedItem {
  id: string;
  raw: string;
  /** 'revoked' (by request), 'expired' (past `expires`), 'lost' (redelivered too often). */
  reason: 'revoked' | 'expired' | 'lost';
}

export interface ReserveResult {
  items: ReservedItem[];
  /** Messages that were due but were not handed out; their state has been written already. */
  dropped: DroppedItem[];
  /** Epoch ms of the next thing that will need the worker (a delayed message due, a lease expiring), or null. */
  nextWakeAt: number | null;
}

export interface QueueCounts {
  ready: number;
  delayed: number;
  reserved: number;
  dead: number;
  rejected: number;
}

/** A message parked by the worker (malformed, unknown task) or dead-lettered (failed for good). */
export interface ParkedEntry {
  id: string | null;
  raw: string;
  reason: string;
  at: number;
  error?: ResultRecord['error'];
}

export interface TerminalUpdate {
  queue: string;
  id: string;
  /** Stored as the task's result record; null deletes it (ignoreResult). */
  record: ResultRecord | null;
  resultTtlMs: number;
}

/** A chord waiting for its header results. */
export interface ChordSpec {
  /** The body's queue; the chord's state lives with it. */
  queue: string;
  id: string;
  size: number;
  bodyId: string;
  bodyPriority: number;
  /**
   * The body's encoded message. When `insert`, it is split around the place of
   * its first argument: the joined results (a JSON array, in header order) go
   * between `bodyHead` and `bodyTail`; otherwise `bodyHead` is the whole message.
   */
  insert: boolean;
  bodyHead: string;
  bodyTail: string;
  ttlMs: number;
}

/** What a worker says of itself in its heartbeat. */
/** What a Redis Cluster says of itself (CLUSTER INFO), for the health indicator. */
export interface ClusterState {
  ok: boolean;
  /** cluster_state: 'ok' or 'fail'. */
  state: string;
  slotsOk: number;
  masters: number;
  knownNodes: number;
}

export interface WorkerInfo {
  id: string;
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: number;
  prefetched: number;
  succeeded: number;
  failed: number;
  retried: number;
  rejected: number;
  startedAt: number;
  /** Epoch ms of this heartbeat. */
  at: number;
}

/** A remote-control message to every worker (Celery's broadcast). */
/** Celery's inspect and control verbs. */
export type ControlCommand =
  | 'ping'
  | 'active'
  | 'reserved'
  | 'registered'
  | 'stats'
  | 'conf'
  | 'revoke'
  | 'rate_limit'
  | 'time_limit'
  | 'add_consumer'
  | 'cancel_consumer'
  | 'pool_grow'
  | 'pool_shrink'
  | 'shutdown';

export interface ControlMessage {
  /** Request id; replies go to it. */
  id: string;
  command: ControlCommand;
  args?: Record<string, unknown>;
  /** Worker ids this message is for; every worker when absent. */
  destination?: string[];
  /** Whether workers should answer. */
  reply: boolean;
}

export interface ControlReply {
  worker: string;
  ok: boolean;
  data?: unknown;
  error?: string;
}

export type ChordJoinOutcome = 'complete' | 'waiting' | 'duplicate' | 'gone';

/** Unique tasks skipped by a publish: their id → the id of the task holding their key. */
export type Skipped = Map<string, string>;

/** A message waiting in the broker for its due time. */
export interface ScheduledEntry {
  id: string;
  dueAt: number;
  raw: string;
}

/** An event as the stream keeps it: its position, and the event's JSON. */
export interface StoredEvent {
  cursor: string;
  json: string;
}

export interface Transport {
  /**
   * Publishes messages, one round trip for the whole batch. A unique task whose
   * key another task holds is skipped: the result maps its id to the holder's.
   */
  publish(items: PublishItem[], options?: PublishOnce): Promise<Skipped>;

  /** Frees a unique task's key if `id` still holds it (the task ended for good). */
  releaseUnique(queue: string, key: string, id: string): Promise<void>;

  /** Takes up to `max` messages due now, promoting due delayed messages and recovering expired leases first. */
  reserve(req: ReserveRequest): Promise<ReserveResult>;

  /** Resolves when any of `queues` may have work, or at `untilMs` (epoch), or when `signal` aborts. */
  waitForWork(queues: string[], untilMs: number, signal: AbortSignal): Promise<void>;

  /** Renews the leases of messages this worker holds. Returns the ids whose lease was already lost. */
  renew(queue: string, ids: string[], leaseMs: number): Promise<string[]>;

  /** Writes a non-terminal state (STARTED, PROGRESS) for a held message. */
  setState(queue: string, record: ResultRecord, resultTtlMs: number): Promise<void>;

  /**
   * Success (or a final state chosen by the worker): removes the held message, stores
   * the record, wakes waiters. Several updates of one queue go in one call (a
   * worker acks what finished in the same tick together). With `next`, also
   * reserves in the same round trip.
   */
  ack(update: TerminalUpdate | TerminalUpdate[], next?: ReserveRequest): Promise<ReserveResult | undefined>;

  /** Replaces the held message by `raw` (retries + 1), due at `dueAt`, and stores the RETRY record. */
  retry(update: TerminalUpdate & { record: ResultRecord }, raw: string, priority: number, dueAt: number): Promise<void>;

  /** Failed for good: removes the held message, stores the FAILURE record, keeps it in the dead-letter list. */
  fail(update: TerminalUpdate & { record: ResultRecord }, raw: string): Promise<void>;

  /** Parks an unusable held message (malformed, unknown task) with the reason; removes it from the held set. */
  reject(queue: string, id: string, raw: string, reason: string): Promise<void>;

  /** Gives held messages back to the front of the ready lists (graceful shutdown). */
  release(queue: string, ids: string[]): Promise<void>;

  /** Marks a task revoked: it will not start; its state becomes REVOKED unless already final. */
  revoke(queue: string, id: string, record: ResultRecord, resultTtlMs: number): Promise<void>;

  /** Creates a chord's state; header tasks join it as they succeed. */
  chordCreate(spec: ChordSpec, options?: PublishOnce): Promise<void>;

  /**
   * Records header result `index` (JSON). The call that completes the chord
   * publishes the body, atomically: exactly one call returns 'complete'.
   * A repeated index returns 'duplicate'; a finished, failed or expired chord 'gone'.
   */
  chordJoin(queue: string, id: string, index: number, resultJson: string): Promise<ChordJoinOutcome>;

  /**
   * Fails a chord: its body never runs, and `record` (with the body's id filled
   * in) is stored as the body's result. Returns the body's message (its results
   * argument null), so the caller can fail what follows the body and run its
   * error callbacks; null when the chord had completed, failed or expired already.
   */
  chordFail(queue: string, id: string, record: ResultRecord, resultTtlMs: number): Promise<string | null>;

  /**
   * Reserves the next start slot of a rate-limited task: starts are spaced by
   * `intervalMs / limit` across every worker, so no window of `intervalMs`
   * holds more than `limit`. Returns how many ms from now the
   * slot is (0: start now); the slot is the caller's, whether it waits or not.
   */
  reserveRateSlot(task: string, limit: number, intervalMs: number): Promise<number>;

  getResult(queue: string, id: string): Promise<ResultRecord | null>;

  /** Looks for a task's record in each of `queues` (one round trip); null when none has one. */
  findResult(queues: string[], id: string): Promise<{ queue: string; record: ResultRecord } | null>;

  /**
   * Waits without polling until the task's state is final, or `timeoutMs`
   * passes (null). With several queues, the task may be in any of them.
   */
  waitForResult(queue: string | string[], id: string, timeoutMs: number): Promise<ResultRecord | null>;

  forget(queue: string, id: string): Promise<void>;

  counts(queue: string): Promise<QueueCounts>;
  listDead(queue: string, start?: number, count?: number): Promise<ParkedEntry[]>;
  /** Messages waiting for their due time (countdown, ETA, retry backoff), soonest first. */
  listScheduled(queue: string, start?: number, count?: number): Promise<ScheduledEntry[]>;
  listRejected(queue: string, start?: number, count?: number): Promise<ParkedEntry[]>;

  /** Names of the queues that hold anything (messages, parked entries, results). */
  listQueues(): Promise<string[]>;

  /** Removes every key of the queue (tests, `purge`). */
  purge(queue: string): Promise<void>;

  /** Records that a worker is alive; it counts as gone once `ttlMs` pass without another heartbeat. */
  workerHeartbeat(info: WorkerInfo, ttlMs: number): Promise<void>;

  /** Removes a worker's heartbeat (clean stop). */
  workerGone(id: string): Promise<void>;

  /** Workers whose heartbeat has not expired, newest heartbeat first. */
  listWorkers(): Promise<WorkerInfo[]>;

  /** Delivers `message` to every subscribed worker; with `message.reply`, collects replies for `timeoutMs`. */
  control(message: ControlMessage, timeoutMs: number): Promise<ControlReply[]>;

  /** Calls `handler` for every control message; its return value is sent back as the reply. Returns an unsubscribe function. */
  onControl(handler: (message: ControlMessage) => Promise<ControlReply | undefined>): Promise<() => Promise<void>>;

  /** Round-trip time to the broker in ms. */
  ping(): Promise<number>;

  /** Appends events (JSON each) to the capped event stream, keeping about `maxLength`; one round trip. */
  appendEvents(events: string[], maxLength: number): Promise<void>;

  /**
   * Events after `from` (a cursor; '0' for the oldest kept, '$' for only those
   * still to come), at most `count`, oldest first. With `blockMs`, waits up to
   * that long when there are none yet. `cursor` is where to read on from: the
   * last event's, or `from` made concrete when none came ('$' becomes the
   * stream's last cursor, so nothing written meanwhile is skipped).
   */
  readEvents(from: string, count: number, blockMs?: number): Promise<{ events: StoredEvent[]; cursor: string }>;

  /**
   * The state of a distributed broker (a Redis Cluster): `ok` false when it says
   * it cannot serve every slot. Undefined (or absent) on a broker that is one server.
   */
  clusterState?(): Promise<ClusterState | undefined>;

  close(): Promise<void>;

  /**
   * Replays (back to the end of its ready list, as a fresh delivery: retry
   * count 0, no `expires`, redelivery count and stored result cleared) or
   * deletes parked entries of a queue, atomically: those whose id is in `ids`,
   * or every one with 'all'. Oldest first. Returns how many it took.
   */
  parked(op: 'replay' | 'delete', queue: string, kind: 'dead' | 'rejected', ids: string[] | 'all'): Promise<number>;
}
