/**
 * `nestjs-taskqueue/health`: the Terminus health indicator. A subpath of its
 * own so that applications without `@nestjs/terminus` never load it.
 */
export { TaskQueueHealthModule } from './task-queue-health.module.js';
export {
  TaskQueueHealthIndicator,
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_MAX_HEARTBEAT_AGE_MS,
  DEFAULT_MAX_OUTBOX_LAG_MS,
} from './task-queue.health.js';
export type {
  BacklogCheckOptions,
  BeatCheckOptions,
  OutboxCheckOptions,
  PingCheckOptions,
  TaskQueueHealthOptions,
  WorkerCheckOptions,
} from './task-queue-health.options.js';
