export * from './task-inspector.js';
export * from './task-control.js';
export type { ControlOptions, WorkerReply } from './broadcast.js';
