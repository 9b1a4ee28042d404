export * from './duration.js';
export * from './envelope.js';
export * from './validate.js';
export * from './result.js';
export * from './message.factory.js';
export * from './canvas-json.js';
export * from './celery/index.js';
