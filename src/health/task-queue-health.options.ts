import type { Duration } from '../protocol/duration.js';

/** Options of `TaskQueueHealthIndicator.pingCheck`. @publicApi */
export interface PingCheckOptions {
  /** Give up (down) when the broker has not answered within this long. @default 1000 */
  timeout?: Duration;
}

/** Options of `TaskQueueHealthIndicator.workerCheck`. @publicApi */
export interface WorkerCheckOptions {
  /**
   * A worker counts as live when its last heartbeat is at most this old.
   * Workers send one every third of their lease (5 s by default), and drop out
   * of the list by themselves three missed heartbeats later. @default '30s'
   */
  maxHeartbeatAge?: Duration;
  /** Down when fewer live workers than this. @default 1 */
  minWorkers?: number;
  /** Count only the workers that consume this queue. */
  queue?: string;
  /** @default 1000 */
  timeout?: Duration;
}

/** Options of `TaskQueueHealthIndicator.beatCheck`. @publicApi */
export interface BeatCheckOptions {
  /**
   * Down when the beat leader's last heartbeat is older than this. A beat
   * renews its lease (and heartbeat) every third of its lease (5 s by default). @default '30s'
   */
  maxHeartbeatAge?: Duration;
  /** @default 1000 */
  timeout?: Duration;
}

/** Options of `TaskQueueHealthIndicator.backlogCheck`. @publicApi */
export interface BacklogCheckOptions {
  /** The queue to look at. @default the module's defaultQueue */
  queue?: string;
  /** Down when more tasks than this are ready (waiting for a worker). */
  threshold: number;
  /** @default 1000 */
  timeout?: Duration;
}

/** Options of `TaskQueueHealthIndicator.outboxCheck`. @publicApi */
export interface OutboxCheckOptions {
  /** Down when the oldest outbox row waiting to be relayed is older than this. @default '1m' */
  maxLag?: Duration;
  /** @default 1000 */
  timeout?: Duration;
}

/** Options of `TaskQueueHealthIndicator.isHealthy`: the broker answers, and enough workers are live. @publicApi */
export type TaskQueueHealthOptions = WorkerCheckOptions;
