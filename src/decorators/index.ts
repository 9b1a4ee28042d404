export * from './task.decorator.js';
export * from './periodic.decorator.js';
