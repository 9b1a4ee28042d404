export { TaskQueueModule } from './task-queue.module.js';
export { TASK_QUEUE_MODULE_OPTIONS } from './task-queue.module-definition.js';
export { TASK_QUEUE_OPTIONS, TASK_METADATA, ENV_BROKER_URL, ENV_RESULT_BACKEND } from './task-queue.constants.js';
export { Task } from './decorators/index.js';
export {
  Periodic,
  type PeriodicSchedule,
  type PeriodicOptions,
  type PeriodicMetadata,
  type CatchUpPolicy,
} from './decorators/index.js';
export {
  BeatScheduler,
  PeriodicSchedules,
  bootstrapBeat,
  ManualClock,
  systemClock,
  BEAT_HEADERS,
  type BeatClock,
  type BeatOptions,
  type BeatInitInfo,
  type BootstrapBeatOptions,
  type ScheduleOptions,
  type ScheduleInfo,
} from './beat/index.js';
export { PERIODIC_METADATA } from './task-queue.constants.js';
export type {
  BeatStore,
  BeatHeartbeat,
  StoredSchedule,
  ScheduleDefinition,
  ClaimOutcome,
} from './transport/beat-store.interface.js';
export {
  TaskClient,
  AsyncResult,
  GroupResult,
  type TaskHandle,
  type TaskHandles,
  type GetOptions,
  type ResultHandle,
  type PartialArgs,
} from './client/index.js';
export {
  Canvas,
  Signature,
  Chain,
  Group,
  Chord,
  chain,
  group,
  chord,
  canvasFromJSON,
  type SignatureOptions,
  type CanvasResult,
} from './canvas/index.js';
export {
  TaskWorker,
  TaskContext,
  bootstrapWorker,
  type BootstrapWorkerOptions,
  type WorkerStats,
} from './worker/index.js';
export { TaskRegistry } from './discovery/task.registry.js';
export * from './errors/index.js';
export * from './interfaces/index.js';
export {
  TaskState,
  type ResultRecord,
  type StoredError,
  type TaskMessage,
  type Duration,
  type CanvasJSON,
} from './protocol/index.js';
export type { Transport, QueueCounts, ParkedEntry } from './transport/transport.interface.js';
export * from './signals/index.js';
export { TaskCorrelationMiddleware, currentCorrelationId } from './context/index.js';
export { TaskLogger } from './worker/task-logger.js';
export {
  TaskInspector,
  TaskControl,
  type ActiveTask,
  type WorkerStatsReply,
  type ControlOptions,
  type WorkerReply,
} from './control/index.js';
export { OutboxRelay, outboxMigration, DEFAULT_OUTBOX_TABLE, type OutboxLag } from './outbox/index.js';
export type { WorkerInfo } from './transport/transport.interface.js';
