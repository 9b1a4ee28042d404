/** Resolved settings of TaskQueueTestingModule. @internal */
export const TASK_QUEUE_TESTING_OPTIONS = Symbol('TASK_QUEUE_TESTING_OPTIONS');

export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
export const DEFAULT_EAGER_TIMEOUT_MS = 10_000;

/** @internal */
export interface TestingSettings {
  /** Start the worker at bootstrap. */
  worker: boolean;
  alwaysEager: boolean;
  eagerTimeoutMs: number;
  /** Extra queues the worker consumes. */
  queues: string[];
}
