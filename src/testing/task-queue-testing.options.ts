import type { TaskQueueModuleOptions } from '../interfaces/task-queue-module-options.interface.js';
import type { WorkerOptions } from '../interfaces/worker-options.interface.js';
import type { Duration } from '../protocol/duration.js';

/** Options of `TaskQueueTestingModule.forRoot()`. @publicApi */
export interface TaskQueueTestingModuleOptions extends Omit<
  TaskQueueModuleOptions,
  'brokerUrl' | 'resultBackend' | 'redis' | 'client' | 'worker'
> {
  /**
   * The embedded worker. `true` (the default): started when the application
   * bootstraps (`init()`), consuming the default queue and every queue of the
   * application's `@Task()` methods, so tasks run as they are published.
   * `false`: nothing runs by itself; the broker only records what is published
   * (`TaskQueueTester.published()`), until `drain()` runs it. Worker options
   * (concurrency, lease, extra `queues`, `beat`) imply `true`.
   * @default true
   */
  worker?: boolean | WorkerOptions;
  /**
   * Celery's `task_always_eager`: publishing (`delay`, `applyAsync`, `send`, a
   * workflow) returns only once the task, and whatever it set off, has run,
   * so the `AsyncResult` is settled. Countdown, eta and retry backoff are
   * ignored. Needs the worker. See docs/testing.md for what differs from a
   * real broker. @default false
   */
  alwaysEager?: boolean;
  /** How long an eager publish waits for the tasks to finish before it throws. @default '10s' */
  eagerTimeout?: Duration;
}

/** Options of `TaskQueueTester.drain()`. @publicApi */
export interface DrainOptions {
  /** Throw when the broker is not idle by then. @default '10s' */
  timeout?: Duration;
  /**
   * Delayed tasks (countdown, eta, retry backoff): `'run'` makes them due at
   * once, as they come (the default); `'wait'` waits for them in real time
   * (within `timeout`); `'leave'` leaves them delayed (idle = nothing ready or running).
   * @default 'run'
   */
  delayed?: 'run' | 'wait' | 'leave';
}

/** What `drain()` ran: worker counters over the drain. @publicApi */
export interface DrainResult {
  succeeded: number;
  failed: number;
  retried: number;
  rejected: number;
}

/** Options of `TaskQueueTester.waitForIdle()`. @publicApi */
export interface WaitForIdleOptions {
  /** @default '10s' */
  timeout?: Duration;
}
