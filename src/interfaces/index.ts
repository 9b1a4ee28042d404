export * from './task-options.interface.js';
export * from './worker-options.interface.js';
export * from './task-queue-module-options.interface.js';
export * from './task-event.interface.js';
