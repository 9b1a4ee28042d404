import type { TaskEventType } from '../interfaces/task-event.interface.js';

/**
 * The state each event stands for: a task's (SENT … REJECTED, the names the
 * CLI's `events --state` and the dashboard's task list use) or a worker's.
 * @internal
 */
export const EVENT_STATE: Readonly<Record<TaskEventType, string>> = {
  'task-sent': 'SENT',
  'task-received': 'RECEIVED',
  'task-started': 'STARTED',
  'task-succeeded': 'SUCCESS',
  'task-failed': 'FAILURE',
  'task-retried': 'RETRY',
  'task-revoked': 'REVOKED',
  'task-rejected': 'REJECTED',
  'worker-online': 'ONLINE',
  'worker-heartbeat': 'HEARTBEAT',
  'worker-offline': 'OFFLINE',
};
