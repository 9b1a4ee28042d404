import type { Registry } from 'prom-client';

/** Options of `TaskQueueMetricsModule.forRoot()`. @publicApi */
export interface TaskQueueMetricsOptions {
  /** The prom-client registry the metrics are registered on. @default prom-client's default registry */
  registry?: Registry;
  /** Prefix of every metric name. @default 'taskqueue_' */
  prefix?: string;
  /**
   * Serve the registry at this path (GET, Prometheus text format). Leave it
   * unset when the application already exposes one (e.g. @willsoto/nestjs-prometheus
   * on the same registry). @default undefined (no endpoint)
   */
  path?: string;
  /**
   * Queues whose depth is reported at scrape time.
   * @default the queues this application knows: its tasks' queues, the default queue and the worker's
   */
  queues?: string[];
  /** Buckets of the task runtime histogram, in seconds. @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] */
  runtimeBuckets?: number[];
  /** Buckets of the queue wait histogram, in seconds. @default the same as runtimeBuckets */
  waitBuckets?: number[];
}

/** @internal */
export const TASK_QUEUE_METRICS_OPTIONS = 'task-queue:metrics-options';

export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
