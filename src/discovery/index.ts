export * from './task.registry.js';
export * from './task-queue.explorer.js';
