import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { TaskRegistry } from '../discovery/task.registry.js';
import { TaskQueueConfigError } from '../errors/index.js';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import { buildMessage, toMs } from '../protocol/index.js';
import { TASK_QUEUE_BEAT_STORE, TASK_QUEUE_OPTIONS } from '../task-queue.constants.js';
import type { BeatHeartbeat, BeatStore, ClaimOutcome, StoredSchedule } from '../transport/beat-store.interface.js';
import type { BeatInitInfo, BeatOptions, ResolvedBeatOptions } from './beat-options.interface.js';
import { BEAT_MESSAGES } from './beat.messages.js';
import { systemClock } from './clock.js';
import { SignalEmitter } from '../signals/signal.emitter.js';
import { TaskSignal } from '../signals/task-signal.constants.js';
import { BeatInitSignal, payload } from '../signals/task-signal.payloads.js';
import { DEFAULT_MISFIRE_GRACE, PeriodicSchedules } from './periodic-schedules.service.js';
import { MAX_TICKS_PER_PLAN, planTicks, ticksOf, type Ticks } from './schedule.js';

/** Header names the beat sets on each message it publishes. @publicApi */
export const BEAT_HEADERS = { schedule: 'beat-schedule', tick: 'beat-tick' } as const;

interface Loaded {
  s: StoredSchedule;
  ticks: Ticks;
  /** The last tick run (or `since`), as this beat knows it. */
  last: number;
}

/**
 * Celery's beat: publishes the ticks of periodic schedules. Embedded in a
 * worker (`TaskWorker.start({ beat: true })`) or standalone (`bootstrapBeat`).
 *
 * Any number of beats may run. They elect a leader with a lease in the broker;
 * the leader fires the ticks, and when it dies another takes over within about
 * one lease. Exactly-once does not rest on the election: each tick is claimed
 * with one atomic step that records it as the schedule's last run and publishes
 * its message, so a tick is published once even by two beats that both think
 * they lead, and a beat that dies between ticks neither loses nor repeats one.
 *
 * @publicApi
 */
@Injectable()
export class BeatScheduler implements BeforeApplicationShutdown {
  private readonly logger = new Logger(BeatScheduler.name);
  private opts?: ResolvedBeatOptions;
  private running = false;
  private leader = false;
  private startedAt = 0;
  private closing?: Promise<void>;
  private starting?: Promise<void>;
  private loop?: Promise<void>;
  private leaseTimer?: NodeJS.Timeout;
  private leasing?: Promise<void>;
  private lastLeaseOk = 0;
  private stopSignal = new AbortController();
  private wakeSignal = new AbortController();
  private schedules = new Map<string, Loaded>();
  private dirty = true;
  private knownVersion = -1;
  private published = 0;

  constructor(
    @Inject(TASK_QUEUE_BEAT_STORE) private readonly store: BeatStore,
    private readonly periodic: PeriodicSchedules,
    private readonly tasks: TaskRegistry,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
    private readonly signals: SignalEmitter,
  ) {}

  /** This beat's id (set by start()). */
  get id(): string | undefined {
    return this.opts?.id;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Whether this beat fires the ticks now (always, without leader election). */
  get isLeader(): boolean {
    return this.running && this.leader;
  }

  /** Ticks this beat has published since it started. */
  get publishedCount(): number {
    return this.published;
  }

  /**
   * Starts the beat: upserts the @Periodic() schedules of this application,
   * campaigns for leadership and fires ticks while it leads. Calling it while
   * running does nothing.
   */
  start(options: BeatOptions = {}): Promise<void> {
    if (this.running) return Promise.resolve();
    this.starting ??= this.boot(options).finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async boot(options: BeatOptions): Promise<void> {
    if (this.closing) await this.closing;
    const opts = resolveBeatOptions(options);
    const declared = this.periodic.decorated();
    this.periodic.configure(opts.clock, opts.graceMs);
    // Upsert what this application declares; drop what an older version declared and this one no longer does.
    const now = opts.clock.now();
    for (const def of declared) {
      const { site: _site, ...plain } = def;
      await this.store.upsert(plain, now);
    }
    const names = new Set(declared.map((d) => d.name));
    for (const s of await this.store.list()) {
      if (s.source === 'decorator' && !names.has(s.name)) {
        await this.store.remove(s.name);
        this.logger.log(BEAT_MESSAGES.pruned(s.name));
      }
    }
    this.opts = opts;
    this.closing = undefined;
    this.stopSignal = new AbortController();
    this.wakeSignal = new AbortController();
    this.schedules.clear();
    this.dirty = true;
    this.knownVersion = -1;
    this.leader = !opts.leaderElection;
    this.published = 0;
    this.startedAt = Date.now();
    this.running = true;
    await this.renewLease();
    this.leaseTimer = setInterval(() => void this.renewLease(), Math.max(50, Math.floor(opts.leaseMs / 3)));
    this.leaseTimer.unref?.();
    this.loop = this.run();
    this.logger.log(BEAT_MESSAGES.started(opts.id, declared.length, opts.leaderElection));
    const info: BeatInitInfo = { id: opts.id, schedules: [...names], leaderElection: opts.leaderElection };
    opts.onInit?.(info);
    this.onInit(info);
  }

  /** Emits the `beat.init` signal; called once each time the beat has started. */
  onInit(info: BeatInitInfo): void {
    this.signals.emit(TaskSignal.BeatInit, () => payload(BeatInitSignal, { beat: info.id, schedules: info.schedules }));
  }

  /** Stops firing, gives up the lease (so another beat takes over at once) and resolves when done. Idempotent. */
  stop(): Promise<void> {
    if (!this.running && !this.closing) return Promise.resolve();
    this.closing ??= this.shutdown();
    return this.closing;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  private async shutdown(): Promise<void> {
    this.running = false;
    this.stopSignal.abort();
    this.wakeSignal.abort();
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
    try {
      await this.loop;
    } catch (err) {
      this.logger.error(BEAT_MESSAGES.loopError(err));
    }
    try {
      await this.leasing;
    } catch {
      // reported by renewLease
    }
    try {
      if (this.opts) await this.store.release(this.opts.id);
    } catch (err) {
      this.logger.warn(BEAT_MESSAGES.leaseError(err));
    }
    this.leader = false;
  }

  /** Ends the current wait of the loop (schedules changed, leadership changed, or stopping). */
  private wake(): void {
    this.wakeSignal.abort();
  }

  private heartbeat(): BeatHeartbeat {
    return { id: this.opts!.id, at: Date.now(), startedAt: this.startedAt, pid: process.pid, hostname: hostname() };
  }

  private renewLease(): Promise<void> {
    if (this.leasing || !this.running) return this.leasing ?? Promise.resolve();
    const opts = this.opts!;
    this.leasing = (async () => {
      try {
        const started = Date.now();
        const r = await this.store.lease(this.heartbeat(), opts.leaseMs, opts.leaderElection);
        if (!this.running) return;
        this.lastLeaseOk = started;
        if (r.version !== this.knownVersion) {
          this.knownVersion = r.version;
          this.dirty = true;
          this.wake();
        }
        if (opts.leaderElection && r.leader !== this.leader) {
          this.leader = r.leader;
          this.logger.log(r.leader ? BEAT_MESSAGES.leader(opts.id) : BEAT_MESSAGES.follower(opts.id, r.leaderId));
          this.dirty = true;
          this.wake();
        }
      } catch (err) {
        this.logger.warn(BEAT_MESSAGES.leaseError(err));
        // Not renewed for a whole lease: another beat may lead by now.
        if (opts.leaderElection && this.leader && Date.now() - this.lastLeaseOk >= opts.leaseMs) {
          this.leader = false;
          this.wake();
        }
      } finally {
        this.leasing = undefined;
      }
    })();
    return this.leasing;
  }

  private async run(): Promise<void> {
    const { clock } = this.opts!;
    while (this.running) {
      if (this.wakeSignal.signal.aborted) this.wakeSignal = new AbortController();
      const wake = this.wakeSignal.signal;
      try {
        if (!this.leader) {
          await waitAbort(wake); // woken when the lease renewal makes this beat the leader, or on stop
          continue;
        }
        if (this.dirty) await this.reload();
        const nextAt = await this.fireDue();
        if (nextAt === undefined) continue; // something changed under us: reload at once
        if (!this.running || wake.aborted) continue;
        await clock.sleep(nextAt === null ? Number.MAX_SAFE_INTEGER : nextAt - clock.now(), wake);
      } catch (err) {
        if (!this.running) break;
        this.logger.error(BEAT_MESSAGES.loopError(err));
        this.dirty = true;
        await delay(Math.min(1000, this.opts!.leaseMs / 3), this.stopSignal.signal);
      }
    }
  }

  private async reload(): Promise<void> {
    this.dirty = false;
    const next = new Map<string, Loaded>();
    for (const s of await this.store.list()) {
      if (s.paused) continue;
      const known = this.schedules.get(s.name);
      const stored = Math.max(s.lastRun ?? -Infinity, s.since);
      // A tick this beat published may not be visible in a list read right after; keep the later one.
      const last = known && known.s.rev === s.rev ? Math.max(known.last, stored) : stored;
      next.set(s.name, { s, ticks: ticksOf(s, s.since), last });
    }
    this.schedules = next;
  }

  /** Claims every due tick. Returns when to look again (epoch ms; null: nothing scheduled), or undefined to reload first. */
  private async fireDue(): Promise<number | null | undefined> {
    const { clock, graceMs } = this.opts!;
    let nextAt: number | null = null;
    for (const entry of this.schedules.values()) {
      if (!this.running || !this.leader) return undefined;
      const now = clock.now();
      const plan = planTicks(entry.ticks, entry.last, now, graceMs, entry.s.catchUp);
      if (plan.missed) this.logger.warn(BEAT_MESSAGES.missed(entry.s.name, entry.s.catchUp));
      for (const tick of plan.ticks) {
        const outcome = await this.fire(entry.s, tick);
        if (outcome === 'published' || outcome === 'duplicate') {
          entry.last = tick;
        } else {
          // stale, paused or gone: the schedule changed; load it again before anything else
          this.dirty = true;
          return undefined;
        }
      }
      if (plan.missed && plan.ticks.length === 0) {
        // The missed ticks are skipped ('skip'): go on from now, without warning again.
        entry.last = Math.max(entry.last, entry.ticks.latestBefore(now + 1) ?? entry.last);
      }
      const after = plan.ticks.length >= MAX_TICKS_PER_PLAN ? now : plan.nextAt;
      if (after !== null && (nextAt === null || after < nextAt)) nextAt = after;
    }
    return nextAt;
  }

  private async fire(s: StoredSchedule, tick: number): Promise<ClaimOutcome> {
    let item;
    try {
      ({ item } = buildMessage(
        s.task,
        s.args,
        {
          queue: s.queue,
          priority: s.priority,
          expires: s.expiresMs === undefined ? undefined : new Date(tick + s.expiresMs),
          headers: { [BEAT_HEADERS.schedule]: s.name, [BEAT_HEADERS.tick]: tick },
        },
        this.tasks.get(s.task),
        this.options,
      ));
    } catch (err) {
      this.logger.error(BEAT_MESSAGES.buildFailed(s.name, err));
      return 'duplicate'; // move past this tick; the next one is tried afresh
    }
    const outcome = await this.store.claim(s, tick, item);
    if (outcome === 'published') this.published++;
    return outcome;
  }
}

/** Applies defaults and validates beat options. @internal */
export function resolveBeatOptions(o: BeatOptions = {}): ResolvedBeatOptions {
  if (typeof o !== 'object' || o === null) throw new TaskQueueConfigError('beat', o, 'expected an object');
  const leaseMs = toMs(o.lease ?? '5s', 'beat.lease');
  if (leaseMs < 100) throw new TaskQueueConfigError('beat.lease', o.lease, 'must be at least 100 ms');
  const graceMs = toMs(o.misfireGrace ?? DEFAULT_MISFIRE_GRACE, 'beat.misfireGrace');
  const clock = o.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.sleep !== 'function')
    throw new TaskQueueConfigError('beat.clock', clock, 'expected { now(), sleep(ms, signal) }');
  const id = o.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  if (typeof id !== 'string' || id.length === 0 || id.length > 200)
    throw new TaskQueueConfigError('beat.id', id, 'expected a string of 1 to 200 characters');
  if (o.onInit !== undefined && typeof o.onInit !== 'function')
    throw new TaskQueueConfigError('beat.onInit', o.onInit, 'expected a function');
  return { leaseMs, graceMs, leaderElection: o.leaderElection ?? true, clock, id, onInit: o.onInit };
}

function waitAbort(signal: AbortSignal): Promise<void> {
  return signal.aborted
    ? Promise.resolve()
    : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
