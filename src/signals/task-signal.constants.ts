/**
 * Celery's signals, as Nest events. Names are dot-delimited under the
 * `task-queue.` prefix, so they never collide with the application's events and
 * match wildcards (`task-queue.task.*`) when EventEmitterModule enables them.
 *
 * @example
 * ```ts
 * @OnEvent(TaskSignal.Failure)
 * onFailure(e: TaskFailureSignal) { this.alerts.send(e.task, e.error.message); }
 * ```
 * @publicApi
 */
export const TaskSignal = {
  /** Before a message leaves; handlers may add or change `headers` (synchronously). */
  BeforePublish: 'task-queue.task.before-publish',
  AfterPublish: 'task-queue.task.after-publish',
  /** A worker received a message. */
  Received: 'task-queue.task.received',
  Prerun: 'task-queue.task.prerun',
  Postrun: 'task-queue.task.postrun',
  Success: 'task-queue.task.success',
  Failure: 'task-queue.task.failure',
  Retry: 'task-queue.task.retry',
  Revoked: 'task-queue.task.revoked',
  /** A message named a task this worker does not know. */
  Unknown: 'task-queue.task.unknown',
  /** A message could not be used (malformed, oversized) and was parked. */
  Rejected: 'task-queue.task.rejected',
  WorkerInit: 'task-queue.worker.init',
  WorkerReady: 'task-queue.worker.ready',
  /** The process that runs tasks is ready (this library runs tasks in the worker process itself). */
  WorkerProcessInit: 'task-queue.worker.process-init',
  WorkerShutdown: 'task-queue.worker.shutdown',
  /** A worker wrote its heartbeat (Celery's heartbeat_sent), with its counters. */
  WorkerHeartbeat: 'task-queue.worker.heartbeat',
  BeatInit: 'task-queue.beat.init',
} as const;

export type TaskSignalName = (typeof TaskSignal)[keyof typeof TaskSignal];

/** Metadata key written by @OnTaskSignal(). */
export const TASK_SIGNAL_HANDLER = 'task-queue:signal-handler';
