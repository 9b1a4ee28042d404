export * from './task-signal.constants.js';
export * from './task-signal.payloads.js';
export * from './on-task-signal.decorator.js';
export * from './signal.emitter.js';
