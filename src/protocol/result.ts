/** Task states, as in Celery. */
export const TaskState = {
  PENDING: 'PENDING',
  RECEIVED: 'RECEIVED',
  STARTED: 'STARTED',
  PROGRESS: 'PROGRESS',
  RETRY: 'RETRY',
  SUCCESS: 'SUCCESS',
  FAILURE: 'FAILURE',
  REVOKED: 'REVOKED',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

export const READY_STATES: ReadonlySet<TaskState> = new Set([TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVOKED]);

/** The error of a failed task, as stored. */
export interface StoredError {
  type: string;
  message: string;
  stack?: string;
}

/** What the result store keeps for a task (one JSON value). */
export interface ResultRecord {
  id: string;
  task?: string;
  state: TaskState;
  /** Return value (SUCCESS). */
  result?: unknown;
  /** Error (FAILURE, RETRY, REVOKED reason). */
  error?: StoredError;
  /** Progress meta (PROGRESS). */
  meta?: unknown;
  retries?: number;
  /** Epoch ms of the state change. */
  at: number;
  /** Run time in ms (SUCCESS / FAILURE). */
  runtime?: number;
  worker?: string;
  parentId?: string;
  rootId?: string;
  /** Tasks this task published on success (workflow steps, links). */
  children?: Array<{ id: string; queue: string; task: string }>;
}

export function errorToStored(err: unknown): StoredError {
  if (err instanceof Error) {
    // A subclass that does not set `name` still says "Error": its class name says more.
    const ctor = err.constructor?.name;
    const type = err.name && err.name !== 'Error' ? err.name : ctor || err.name || 'Error';
    return { type, message: err.message, stack: err.stack };
  }
  return { type: typeof err, message: String(err) };
}
