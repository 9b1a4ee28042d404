/**
 * `nestjs-taskqueue/testing`: what an application's own jest tests import.
 * See docs/testing.md.
 */
export { TaskQueueTestingModule } from './task-queue-testing.module.js';
export {
  TaskQueueTester,
  type PublishedFilter,
  type TypedPublishedTask,
  type DelayedTask,
} from './task-queue.tester.js';
export type { PublishedTask } from './testing.transport.js';
export type {
  TaskQueueTestingModuleOptions,
  DrainOptions,
  DrainResult,
  WaitForIdleOptions,
} from './task-queue-testing.options.js';
