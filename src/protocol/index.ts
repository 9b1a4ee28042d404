export * from './duration.js';
export * from './envelope.js';
export * from './validate.js';
export * from './result.js';
