import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import { toMs, type Duration } from '../protocol/duration.js';
import { TASK_QUEUE_BEAT_STORE, TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import type { BeatStore } from '../transport/beat-store.interface.js';
import type { ClusterState, Transport, WorkerInfo } from '../transport/transport.interface.js';
import { OutboxRelay } from '../outbox/outbox.relay.js';
import { HEALTH_MESSAGES } from './task-queue-health.messages.js';
import type {
  BacklogCheckOptions,
  BeatCheckOptions,
  OutboxCheckOptions,
  PingCheckOptions,
  TaskQueueHealthOptions,
  WorkerCheckOptions,
} from './task-queue-health.options.js';

/** Default time a check may take before it reports `down`. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 1000;
/** Default age past which the oldest outbox row makes `outboxCheck` down. */
export const DEFAULT_MAX_OUTBOX_LAG_MS = 60_000;
/** Default age past which a worker's or beat's heartbeat no longer counts. */
export const DEFAULT_MAX_HEARTBEAT_AGE_MS = 30_000;

type Data = Record<string, unknown>;

/** A failed check: its message goes into the `down` result. */
class CheckFailed extends Error {
  constructor(
    message: string,
    readonly data: Data = {},
  ) {
    super(message);
  }
}

/**
 * Terminus health indicator for the task queue: is the broker reachable, are
 * workers alive (by their heartbeats in the broker), is a beat leading, is a
 * queue backing up. Each method resolves to `up` or `down` with data saying
 * what was measured and, when down, what failed; none of them throws.
 *
 * Import it from `nestjs-taskqueue/health` with `TaskQueueHealthModule`.
 *
 * @example
 * ```ts
 * @Get('health') @HealthCheck()
 * check() {
 *   return this.health.check([
 *     () => this.taskQueue.pingCheck('broker'),
 *     () => this.taskQueue.workerCheck('workers', { maxHeartbeatAge: '30s', queue: 'email' }),
 *   ]);
 * }
 * ```
 * @publicApi
 */
@Injectable()
export class TaskQueueHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(TASK_QUEUE_TRANSPORT) private readonly transport: Transport,
    @Inject(TASK_QUEUE_BEAT_STORE) private readonly beatStore: BeatStore,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
    private readonly outbox: OutboxRelay,
  ) {}

  /** Up when the broker answers a ping within `timeout`; data: `latencyMs`. */
  pingCheck<const Key extends string>(key: Key, options: PingCheckOptions = {}): Promise<HealthIndicatorResult<Key>> {
    return this.run(key, options.timeout, (timeoutMs) => this.ping(timeoutMs));
  }

  /**
   * Up when at least `minWorkers` (default 1) workers sent a heartbeat within
   * `maxHeartbeatAge` (default 30 s), counting only those consuming `queue`
   * when given. Data: `workers` (live count), `required`, `maxHeartbeatAgeMs`, `queue`.
   */
  workerCheck<const Key extends string>(
    key: Key,
    options: WorkerCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    return this.run(key, options.timeout, (timeoutMs) => this.workers(options, timeoutMs));
  }

  /**
   * Up when a beat leads and its heartbeat is at most `maxHeartbeatAge`
   * (default 30 s) old. Data: `leader` (the beat's id), `heartbeatAgeMs`.
   */
  beatCheck<const Key extends string>(key: Key, options: BeatCheckOptions = {}): Promise<HealthIndicatorResult<Key>> {
    return this.run(key, options.timeout, async (timeoutMs) => {
      const maxAgeMs = toMs(options.maxHeartbeatAge ?? DEFAULT_MAX_HEARTBEAT_AGE_MS, 'maxHeartbeatAge');
      const leader = await this.broker('the beat store', timeoutMs, () => this.beatStore.leaderHeartbeat());
      if (!leader) throw new CheckFailed(HEALTH_MESSAGES.noBeat(), { maxHeartbeatAgeMs: maxAgeMs });
      const ageMs = Math.max(0, Date.now() - leader.at);
      const data = { leader: leader.id, heartbeatAgeMs: ageMs, maxHeartbeatAgeMs: maxAgeMs };
      if (ageMs > maxAgeMs) throw new CheckFailed(HEALTH_MESSAGES.staleBeat(leader.id, ageMs, maxAgeMs), data);
      return data;
    });
  }

  /**
   * Up while `queue` (default: the module's default queue) has at most
   * `threshold` tasks ready. Data: `queue`, `ready`, `delayed`, `reserved`, `threshold`.
   */
  backlogCheck<const Key extends string>(key: Key, options: BacklogCheckOptions): Promise<HealthIndicatorResult<Key>> {
    return this.run(key, options?.timeout, async (timeoutMs) => {
      const threshold = options?.threshold;
      if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) {
        throw new CheckFailed(
          HEALTH_MESSAGES.invalidOption(`threshold must be an integer >= 0, got ${String(threshold)}`),
        );
      }
      const queue = options.queue ?? this.options.defaultQueue;
      const counts = await this.broker('the broker', timeoutMs, () => this.transport.counts(queue));
      const data = { queue, ready: counts.ready, delayed: counts.delayed, reserved: counts.reserved, threshold };
      if (counts.ready > threshold)
        throw new CheckFailed(HEALTH_MESSAGES.backlog(queue, counts.ready, threshold), data);
      return data;
    });
  }

  /**
   * Up while the oldest row of the transactional outbox has waited at most
   * `maxLag` (default 1 min) to be relayed to the broker. Data: `lagMs` (null
   * when the outbox is empty), `pending` (rows waiting, counted up to 10000), `maxLagMs`.
   */
  outboxCheck<const Key extends string>(
    key: Key,
    options: OutboxCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    return this.run(key, options.timeout, async (timeoutMs) => {
      const maxLagMs = toMs(options.maxLag ?? DEFAULT_MAX_OUTBOX_LAG_MS, 'maxLag');
      if (!this.outbox.enabled) throw new CheckFailed(HEALTH_MESSAGES.noOutbox());
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(HEALTH_MESSAGES.timeout('the outbox database', timeoutMs))),
          timeoutMs,
        );
      });
      let lag;
      try {
        lag = await Promise.race([this.outbox.lag(), timeout]);
      } catch (err) {
        throw new CheckFailed(HEALTH_MESSAGES.outboxUnreachable(messageOf(err)));
      } finally {
        clearTimeout(timer);
      }
      const data = { lagMs: lag.lagMs, pending: lag.pending, maxLagMs };
      if (lag.lagMs !== null && lag.lagMs > maxLagMs)
        throw new CheckFailed(HEALTH_MESSAGES.outboxLag(lag.lagMs, maxLagMs, lag.pending), data);
      return data;
    });
  }

  /**
   * The broker answers, and enough workers are live (as `workerCheck`; with
   * `minWorkers: 0` the broker alone). Data: `latencyMs` and the worker data.
   */
  isHealthy<const Key extends string>(
    key: Key,
    options: TaskQueueHealthOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    return this.run(key, options.timeout, async (timeoutMs) => {
      const started = Date.now();
      const ping = await this.ping(timeoutMs);
      const left = Math.max(1, timeoutMs - (Date.now() - started));
      try {
        return { ...ping, ...(await this.workers(options, left)) };
      } catch (err) {
        if (err instanceof CheckFailed) throw new CheckFailed(err.message, { ...ping, ...err.data });
        throw err;
      }
    });
  }

  // ---- internals ---------------------------------------------------------

  private async ping(timeoutMs: number): Promise<{ latencyMs: number; cluster?: ClusterState }> {
    const started = Date.now();
    const latency = await this.broker('the broker', timeoutMs, () => this.transport.ping());
    const latencyMs = Math.round(latency * 100) / 100;
    if (!this.transport.clusterState) return { latencyMs };
    // A Cluster answers pings while some of its slots have no master: report its own view too.
    const left = Math.max(1, timeoutMs - (Date.now() - started));
    const cluster = await this.broker('the broker', left, async () => this.transport.clusterState?.());
    if (!cluster) return { latencyMs };
    if (!cluster.ok)
      throw new CheckFailed(HEALTH_MESSAGES.clusterDown(cluster.state, cluster.slotsOk), { latencyMs, cluster });
    return { latencyMs, cluster };
  }

  private async workers(options: WorkerCheckOptions, timeoutMs: number): Promise<Data> {
    const maxAgeMs = toMs(options.maxHeartbeatAge ?? DEFAULT_MAX_HEARTBEAT_AGE_MS, 'maxHeartbeatAge');
    const required = options.minWorkers ?? 1;
    if (!Number.isInteger(required) || required < 0) {
      throw new CheckFailed(
        HEALTH_MESSAGES.invalidOption(`minWorkers must be an integer >= 0, got ${String(required)}`),
      );
    }
    const all = await this.broker('the broker', timeoutMs, () => this.transport.listWorkers());
    const now = Date.now();
    const live = all.filter(
      (w: WorkerInfo) => now - w.at <= maxAgeMs && (options.queue === undefined || w.queues.includes(options.queue)),
    );
    const data: Data = { workers: live.length, required, maxHeartbeatAgeMs: maxAgeMs };
    if (options.queue !== undefined) data.queue = options.queue;
    if (live.length < required)
      throw new CheckFailed(HEALTH_MESSAGES.noWorkers(maxAgeMs, live.length, required, options.queue), data);
    return data;
  }

  /** Runs a broker call within `timeoutMs`; a failure or a timeout becomes a CheckFailed saying so. */
  private async broker<T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(HEALTH_MESSAGES.timeout(what, timeoutMs))), timeoutMs);
    });
    try {
      // The losing call still settles later; race() has subscribed to it, so its rejection is handled.
      return await Promise.race([Promise.resolve().then(call), timeout]);
    } catch (err) {
      const message = messageOf(err);
      // RedisTransport keeps the last connection error (ECONNREFUSED, auth, TLS): say why, not only that.
      const last = messageOf((this.transport as { lastError?: unknown }).lastError);
      const cause = last && !message.includes(last) ? ` (last connection error: ${last})` : '';
      throw new CheckFailed(HEALTH_MESSAGES.brokerUnreachable(message + cause));
    } finally {
      clearTimeout(timer);
    }
  }

  /** One check: `up` with its data, or `down` with a message saying what failed. Never throws. */
  private async run<const Key extends string>(
    key: Key,
    timeout: Duration | undefined,
    check: (timeoutMs: number) => Promise<Data>,
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    try {
      const timeoutMs = toMs(timeout ?? DEFAULT_HEALTH_TIMEOUT_MS, 'timeout');
      return indicator.up(await check(timeoutMs));
    } catch (err) {
      if (err instanceof CheckFailed) return indicator.down({ message: err.message, ...err.data });
      return indicator.down({ message: HEALTH_MESSAGES.invalidOption(messageOf(err)) });
    }
  }
}

/** The message of an error (duck-typed: errors from Node's own modules may come from another realm). */
function messageOf(err: unknown): string {
  if (err === undefined || err === null) return '';
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' ? message : String(err);
}
