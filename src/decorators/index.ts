export * from './task.decorator.js';
