export * from './async-result.js';
export * from './task.client.js';
export * from './group-result.js';
