export { TaskEventsWriter, repr } from './task-events.writer.js';
export { EVENT_STATE } from './event-states.js';
