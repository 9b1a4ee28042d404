export * from './task.worker.js';
export * from './task-context.js';
export * from './worker.bootstrap.js';
export * from './backoff.js';
