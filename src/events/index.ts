export { TaskEventsWriter, repr } from './task-events.writer.js';
