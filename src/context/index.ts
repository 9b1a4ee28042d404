export * from './correlation.js';
export * from './task-correlation.middleware.js';
