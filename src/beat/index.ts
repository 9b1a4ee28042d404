export * from './beat-options.interface.js';
export * from './beat.scheduler.js';
export * from './beat.bootstrap.js';
export * from './clock.js';
export { PeriodicSchedules, DEFAULT_MISFIRE_GRACE } from './periodic-schedules.service.js';
