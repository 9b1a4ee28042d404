export * from './signature.js';
export * from './planner.js';
export * from './workflow.publisher.js';
