import type { Duration } from '../protocol/duration.js';
import type { BeatOptions } from '../beat/beat-options.interface.js';

/** Options of a worker (TaskWorker.start, bootstrapWorker, or the module's `worker`). @publicApi */
export interface WorkerOptions {
  /** Queues to consume, in order of preference. @default [defaultQueue] */
  queues?: string[];
  /** Tasks run at once in this process. @default 10 */
  concurrency?: number;
  /** Extra messages reserved beyond concurrency (they wait in this worker). @default 0 */
  prefetch?: number;
  /** Lease of a reserved message; renewed every third of it while the task runs. @default '15s' */
  lease?: Duration;
  /** On stop: how long running tasks may finish before they are given back. @default '30s' */
  shutdownTimeout?: Duration;
  /** Redeliveries after lost leases before a message is dead-lettered (poison pill guard). @default 5 */
  maxRedeliveries?: number;
  /** Level of the per-task log lines (received, succeeded, retried); failures are always warned. @default 'debug' */
  logLevel?: 'log' | 'debug' | 'verbose' | 'off';
  /** Also run a beat in this process (periodic tasks); any number of beats may run. @default false */
  beat?: boolean | BeatOptions;
}

/** What a worker needs of an embedded beat (BeatScheduler provides it). @internal */
export interface EmbeddedBeat {
  start(options?: BeatOptions): Promise<void>;
  stop(): Promise<void>;
}

/** @internal */
export interface ResolvedWorkerOptions {
  queues: string[];
  concurrency: number;
  prefetch: number;
  leaseMs: number;
  shutdownTimeoutMs: number;
  maxRedeliveries: number;
  beat: false | BeatOptions;
  logLevel: 'log' | 'debug' | 'verbose' | 'off';
}
