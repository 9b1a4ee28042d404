export * from './task-inspector.js';
