/**
 * Celery's Redis result backend format (`celery-task-meta-<id>`), to and from
 * our ResultRecord. Pure: no I/O.
 */
import { TaskState, type ResultRecord, type StoredError } from '../result.js';
import { toCeleryTime, fromCeleryTime } from './celery-message.js';

/** Key (and pub/sub channel) of a task's result in Celery's Redis backend. */
export const CELERY_RESULT_PREFIX = 'celery-task-meta-';

/** Celery's encoding of an exception (`Backend.prepare_exception`, JSON serializer). */
export interface CeleryException {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string;
}

export interface CeleryResultMeta {
  status: string;
  result: unknown;
  traceback: string | null;
  children: unknown[];
  date_done: string | null;
  task_id: string;
  parent_id?: string;
  group_id?: string;
  name?: string;
  retries?: number;
}

/**
 * Python's built-in exception classes whose names JavaScript errors may share:
 * an error of one of these types reaches a Python caller as that very class.
 * Any other type arrives as a class Celery makes up with that name (module
 * `nestjs_taskqueue`, which Python cannot import).
 */
const PY_BUILTIN_EXCEPTIONS = new Set([
  'ArithmeticError',
  'AssertionError',
  'AttributeError',
  'ConnectionError',
  'Exception',
  'FileNotFoundError',
  'IndexError',
  'KeyError',
  'LookupError',
  'NotImplementedError',
  'OSError',
  'OverflowError',
  'PermissionError',
  'RecursionError',
  'RuntimeError',
  'TimeoutError',
  'TypeError',
  'ValueError',
  'ZeroDivisionError',
]);

/** Our error types that Celery has its own class for. */
const CELERY_EXCEPTIONS: Record<string, string> = {
  UnknownTaskError: 'NotRegistered',
  TaskRevokedError: 'TaskRevokedError',
  TimeLimitExceededError: 'TimeLimitExceeded',
  SoftTimeLimitExceededError: 'SoftTimeLimitExceeded',
  ChordError: 'ChordError',
};

/** Module name our own error classes claim (not importable in Python, so Celery makes a class of that name). */
export const JS_EXCEPTION_MODULE = 'nestjs_taskqueue';

/** Our stored error as Celery's exception dict. `args` overrides exc_message (NotRegistered takes the task name). */
export function toCeleryException(error: StoredError, args?: unknown[]): CeleryException {
  const celery = CELERY_EXCEPTIONS[error.type];
  if (celery) return { exc_type: celery, exc_message: args ?? [error.message], exc_module: 'celery.exceptions' };
  const type = /^[A-Za-z_][A-Za-z0-9_]*$/.test(error.type) ? error.type : 'Error';
  return {
    exc_type: type,
    exc_message: args ?? [error.message],
    exc_module: PY_BUILTIN_EXCEPTIONS.has(type) ? 'builtins' : JS_EXCEPTION_MODULE,
  };
}

/** Celery's exception dict as our stored error: the Python class name, and str(exception) as message. */
export function fromCeleryException(value: unknown, traceback: string | null | undefined): StoredError {
  const e = (typeof value === 'object' && value !== null ? value : {}) as Partial<CeleryException>;
  const type = typeof e.exc_type === 'string' ? e.exc_type : 'Error';
  const args = Array.isArray(e.exc_message) ? e.exc_message : e.exc_message === undefined ? [] : [e.exc_message];
  const message =
    args.length === 1 ? (typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0])) : JSON.stringify(args);
  const stored: StoredError = { type, message };
  if (typeof traceback === 'string') stored.stack = traceback;
  return stored;
}

const STATES = new Set<string>(Object.values(TaskState));

/** Our record as the JSON value Celery's Redis backend keeps (and publishes). */
export function toCeleryResult(r: ResultRecord): CeleryResultMeta {
  let result: unknown = null;
  let traceback: string | null = null;
  switch (r.state) {
    case TaskState.SUCCESS:
      result = r.result ?? null;
      break;
    case TaskState.FAILURE:
    case TaskState.RETRY:
    case TaskState.REVOKED: {
      const error = r.error ?? { type: r.state === TaskState.REVOKED ? 'TaskRevokedError' : 'Error', message: '' };
      result = toCeleryException(error, error.type === 'UnknownTaskError' && r.task ? [r.task] : undefined);
      traceback = error.stack ?? null;
      break;
    }
    default:
      result = r.meta ?? null;
  }
  const meta: CeleryResultMeta = {
    status: r.state,
    result,
    traceback,
    children: (r.children ?? []).map((c) => [[c.id, null], null]),
    date_done:
      r.state === TaskState.SUCCESS || r.state === TaskState.FAILURE || r.state === TaskState.REVOKED
        ? toCeleryTime(r.at)
        : null,
    task_id: r.id,
  };
  if (r.parentId) meta.parent_id = r.parentId;
  if (r.task) meta.name = r.task;
  if (r.retries !== undefined) meta.retries = r.retries;
  return meta;
}

/** A value of `celery-task-meta-<id>` as our record; null when it is not one. */
export function fromCeleryResult(id: string, raw: string): ResultRecord | null {
  let meta: Partial<CeleryResultMeta>;
  try {
    meta = JSON.parse(raw) as Partial<CeleryResultMeta>;
  } catch {
    return null;
  }
  if (typeof meta !== 'object' || meta === null || typeof meta.status !== 'string') return null;
  const state = (STATES.has(meta.status) ? meta.status : TaskState.PROGRESS) as TaskState;
  const record: ResultRecord = {
    id: typeof meta.task_id === 'string' ? meta.task_id : id,
    state,
    at: fromCeleryTime(meta.date_done) ?? Date.now(),
  };
  if (typeof meta.name === 'string') record.task = meta.name;
  if (typeof meta.parent_id === 'string') record.parentId = meta.parent_id;
  if (typeof meta.retries === 'number') record.retries = meta.retries;
  if (state === TaskState.SUCCESS) record.result = meta.result ?? null;
  else if (state === TaskState.FAILURE || state === TaskState.RETRY || state === TaskState.REVOKED)
    record.error = fromCeleryException(meta.result, meta.traceback);
  else if (meta.result !== null && meta.result !== undefined) record.meta = meta.result;
  return record;
}
