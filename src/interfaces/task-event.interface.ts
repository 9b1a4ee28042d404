/** The kinds of events, as Celery names them. @publicApi */
export type TaskEventType =
  | 'task-sent'
  | 'task-received'
  | 'task-started'
  | 'task-succeeded'
  | 'task-failed'
  | 'task-retried'
  | 'task-revoked'
  | 'task-rejected'
  | 'worker-online'
  | 'worker-heartbeat'
  | 'worker-offline';

/**
 * One event of the stream. Task events carry `id` (the task's), `task` and
 * `queue`; worker events carry `worker`. The type's own fields follow:
 * `argsrepr` (sent, received), `retries`, `enqueuedAt` (due or publish time), `parentId`, `rootId`
 * (received), `runtime` (ms) and `resultrepr` (succeeded), `exception`
 * (failed, retried), `countdown` (retried), `terminated`, `expired`,
 * `reason` (revoked, rejected), `queues`, `concurrency`, `running`,
 * `succeeded`, `failed` (worker events). `*repr` fields are JSON cut to 200
 * characters.
 * @publicApi
 */
export interface TaskEvent {
  /** Where this event stands in the stream: pass it as `from` to read what came after it. */
  cursor: string;
  type: TaskEventType;
  /** Epoch ms. */
  at: number;
  id?: string;
  task?: string;
  queue?: string;
  worker?: string;
  [field: string]: unknown;
}
