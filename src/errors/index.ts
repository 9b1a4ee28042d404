export * from './task-queue.errors.js';
