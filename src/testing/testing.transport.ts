import type { ResultRecord, TaskHeaders, TaskMessage } from '../protocol/index.js';
import { MemoryTransport } from '../transport/memory/memory.transport.js';
import type {
  Skipped,
  ChordJoinOutcome,
  ChordSpec,
  PublishItem,
  PublishOnce,
  ReserveRequest,
  ReserveResult,
  TerminalUpdate,
} from '../transport/transport.interface.js';

/** A task as it was published (through `delay`, `applyAsync`, `send`, a workflow step, a beat tick). @publicApi */
export interface PublishedTask {
  id: string;
  task: string;
  /** The arguments after the JSON round trip the broker gives them. */
  args: unknown[];
  queue: string;
  priority: number;
  /** When it may start (countdown / eta), when it was delayed. */
  eta?: Date;
  /** When it expires (`expires`). */
  expires?: Date;
  headers: TaskHeaders;
  parentId?: string;
  rootId?: string;
  timeLimit?: number;
  softTimeLimit?: number;
  /** When it was published. */
  publishedAt: Date;
  /** The whole message, decoded. */
  message: TaskMessage;
}

/** A delayed message this transport still holds back (countdown, eta, retry backoff). */
interface Delayed {
  queue: string;
  id: string;
  priority: number;
  raw: string;
  dueAt: number;
}

/**
 * The broker of `TaskQueueTestingModule`: a private `MemoryTransport` that
 * also records what is published, keeps track of delayed messages so a test
 * can make them due (a fake clock for the broker), and tells the tester when
 * anything changes. Every override makes its whole state change synchronously
 * (through `super`) before it awaits, so transitions stay atomic.
 * @internal
 */
export class TestingTransport extends MemoryTransport {
  /** Everything published, oldest first. */
  readonly records: PublishedTask[] = [];
  /** Queues anything was published or retried to. */
  readonly queuesSeen = new Set<string>();
  /** How far the broker's clock is ahead of the wall clock (advanceTime). */
  offsetMs = 0;
  /** alwaysEager: countdown / eta and retry backoff are ignored (everything is due at once). */
  eager = false;
  /** Called after each publish (alwaysEager waits there). */
  afterPublish?: (items: PublishItem[]) => Promise<void>;
  private readonly delayed = new Map<string, Delayed>();
  private readonly changeWaiters = new Set<() => void>();
  private closed = false;

  // ---- what tests read ----------------------------------------------------

  /** The delayed messages not yet due on the broker's (possibly advanced) clock, soonest first. */
  pendingDelayed(): Delayed[] {
    this.prune();
    return [...this.delayed.values()].sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : 1));
  }

  /**
   * Makes the delayed messages due by `until` (epoch ms, on the broker's
   * clock) due now; every one when `until` is omitted. Returns how many.
   */
  makeDue(until = Number.POSITIVE_INFINITY): number {
    const now = Date.now();
    let moved = 0;
    for (const [key, d] of this.delayed) {
      // Due on the wall clock already: the broker promotes it by itself (it may have run).
      if (d.dueAt <= now) {
        this.delayed.delete(key);
        continue;
      }
      if (d.dueAt > until) continue;
      this.delayed.delete(key);
      // Publishing a delayed id again replaces its entry in the delayed set (as
      // ZADD does in Redis): due in 1 ms, the next reserve promotes it.
      void super.publish([{ queue: d.queue, id: d.id, priority: d.priority, raw: d.raw, dueAt: now + 1 }]);
      moved++;
    }
    if (moved) this.changed();
    return moved;
  }

  /** Resolves at the next change of the broker's state, or after `ms`. */
  nextChange(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.changeWaiters.add(done);
    });
  }

  // ---- Transport overrides --------------------------------------------------

  override async publish(items: PublishItem[], options?: PublishOnce): Promise<Skipped> {
    const now = Date.now();
    // publish-if-absent first, so that only what is published is recorded
    if (options?.onceTtlMs)
      items = items.filter((it) => this.firstTime(`${it.queue}\0${it.id}`, options.onceTtlMs, now));
    const virtualNow = now + this.offsetMs;
    const forwarded = items.map((it) =>
      it.dueAt !== undefined && (this.eager || it.dueAt <= virtualNow) ? { ...it, dueAt: undefined } : it,
    );
    const skipped = await super.publish(forwarded);
    forwarded.forEach((it, i) => {
      if (skipped.has(it.id)) return; // a unique task already there
      this.queuesSeen.add(it.queue);
      this.record(items[i], now); // as asked for: with its countdown / eta, even when made due at once
      if (it.dueAt !== undefined && it.dueAt > now) this.track(it.queue, it.id, it.priority, it.raw, it.dueAt);
    });
    this.changed();
    if (this.afterPublish) await this.afterPublish(items.filter((it) => !skipped.has(it.id)));
    return skipped;
  }

  override reserve(req: ReserveRequest): Promise<ReserveResult> {
    const res = super.reserve(req);
    this.changed();
    return res;
  }

  override ack(update: TerminalUpdate, next?: ReserveRequest): Promise<ReserveResult | undefined> {
    const res = super.ack(update, next);
    this.changed();
    return res;
  }

  override retry(
    update: TerminalUpdate & { record: ResultRecord },
    raw: string,
    priority: number,
    dueAt: number,
  ): Promise<void> {
    const now = Date.now();
    const due = this.eager || dueAt <= now + this.offsetMs ? 0 : dueAt;
    const res = super.retry(update, raw, priority, due);
    this.queuesSeen.add(update.queue);
    if (due > now) this.track(update.queue, update.id, priority, raw, due);
    this.changed();
    return res;
  }

  override fail(update: TerminalUpdate & { record: ResultRecord }, raw: string): Promise<void> {
    const res = super.fail(update, raw);
    this.changed();
    return res;
  }

  override reject(queue: string, id: string, raw: string, reason: string): Promise<void> {
    const res = super.reject(queue, id, raw, reason);
    this.changed();
    return res;
  }

  override release(queue: string, ids: string[]): Promise<void> {
    const res = super.release(queue, ids);
    this.changed();
    return res;
  }

  override revoke(queue: string, id: string, record: ResultRecord, resultTtlMs: number): Promise<void> {
    const res = super.revoke(queue, id, record, resultTtlMs);
    this.delayed.delete(key(queue, id));
    this.changed();
    return res;
  }

  override chordCreate(spec: ChordSpec, options?: PublishOnce): Promise<void> {
    this.queuesSeen.add(spec.queue);
    return super.chordCreate(spec, options);
  }

  override chordJoin(queue: string, id: string, index: number, resultJson: string): Promise<ChordJoinOutcome> {
    const res = super.chordJoin(queue, id, index, resultJson);
    this.changed();
    return res;
  }

  override purge(queue: string): Promise<void> {
    const res = super.purge(queue);
    for (const [k, d] of this.delayed) if (d.queue === queue) this.delayed.delete(k);
    this.changed();
    return res;
  }

  override async close(): Promise<void> {
    this.closed = true;
    this.afterPublish = undefined;
    for (const done of [...this.changeWaiters]) done();
    this.delayed.clear();
    await super.close();
  }

  // ---- internals --------------------------------------------------------------

  private track(queue: string, id: string, priority: number, raw: string, dueAt: number): void {
    this.delayed.set(key(queue, id), { queue, id, priority, raw, dueAt });
  }

  /** Forgets delayed messages the broker promotes by itself (due on the wall clock). */
  private prune(): void {
    const now = Date.now();
    for (const [k, d] of this.delayed) if (d.dueAt <= now) this.delayed.delete(k);
  }

  private changed(): void {
    for (const done of [...this.changeWaiters]) done();
  }

  private record(it: PublishItem, now: number): void {
    let message: TaskMessage;
    try {
      message = JSON.parse(it.raw) as TaskMessage;
    } catch {
      return; // not a message of ours; the worker rejects it
    }
    const dueAt = it.dueAt ?? message.eta;
    this.records.push({
      id: message.id,
      task: message.task,
      args: message.args,
      queue: it.queue,
      priority: message.priority,
      ...(dueAt !== undefined && dueAt > now ? { eta: new Date(dueAt) } : {}),
      ...(message.expires !== undefined ? { expires: new Date(message.expires) } : {}),
      headers: message.headers ?? {},
      ...(message.parentId !== undefined ? { parentId: message.parentId } : {}),
      ...(message.rootId !== undefined ? { rootId: message.rootId } : {}),
      ...(message.timeLimit !== undefined ? { timeLimit: message.timeLimit } : {}),
      ...(message.softTimeLimit !== undefined ? { softTimeLimit: message.softTimeLimit } : {}),
      publishedAt: new Date(now),
      message,
    });
  }
}

function key(queue: string, id: string): string {
  return `${queue}\u0000${id}`;
}
