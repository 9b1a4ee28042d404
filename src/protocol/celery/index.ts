export * from './celery-message.js';
export * from './celery-result.js';
