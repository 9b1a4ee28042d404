export { TaskTracing, tracingPublishHooks, type TaskOutcome } from './task-tracing.js';
