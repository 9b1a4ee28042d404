import type { TaskHeaders } from '../protocol/envelope.js';
import type { StoredError, TaskState } from '../protocol/result.js';
import { TaskSignal } from './task-signal.constants.js';

/** Fields every task signal carries. */
abstract class TaskSignalBase {
  /** The task's id. */
  id!: string;
  /** The task's name: the `sender` of Celery's signals. */
  task!: string;
  queue!: string;
}

/** @publicApi */
export class BeforePublishSignal extends TaskSignalBase {
  args!: unknown[];
  priority!: number;
  eta?: number;
  /** Mutable: what handlers put here travels with the message. */
  headers!: TaskHeaders;
}

/** @publicApi */
export class AfterPublishSignal extends TaskSignalBase {
  args!: unknown[];
  headers!: TaskHeaders;
}

/** What a worker knows of a message it runs (Celery's `request`). @publicApi */
export class TaskReceivedSignal extends TaskSignalBase {
  args!: unknown[];
  retries!: number;
  headers!: TaskHeaders;
  parentId?: string;
  rootId?: string;
  worker!: string;
  /** Epoch ms from which the task could start: its due time (countdown, ETA), else when it was published. */
  enqueuedAt!: number;
}

/** @publicApi */
export class TaskPrerunSignal extends TaskReceivedSignal {}

/** @publicApi */
export class TaskPostrunSignal extends TaskReceivedSignal {
  /** The return value (SUCCESS), or undefined. */
  retval?: unknown;
  state!: TaskState;
  runtime!: number;
}

/** @publicApi */
export class TaskSuccessSignal extends TaskSignalBase {
  result!: unknown;
  runtime!: number;
}

/** @publicApi */
export class TaskFailureSignal extends TaskSignalBase {
  args!: unknown[];
  /** The error as stored (type, message, stack). */
  error!: StoredError;
  /** The error thrown, when it was thrown in this process. */
  exception?: unknown;
  traceback?: string;
}

/** @publicApi */
export class TaskRetrySignal extends TaskSignalBase {
  reason!: StoredError;
  /** Delay before the next attempt, ms. */
  countdown!: number;
  /** Retries done including this one. */
  retries!: number;
}

/** @publicApi */
export class TaskRevokedSignal extends TaskSignalBase {
  /** True when a running task was terminated. */
  terminated!: boolean;
  /** True when it was dropped for being past `expires`. */
  expired!: boolean;
  reason!: string;
}

/** @publicApi */
export class TaskUnknownSignal extends TaskSignalBase {
  raw!: string;
}

/** @publicApi */
export class TaskRejectedSignal {
  id?: string;
  queue!: string;
  reason!: string;
  raw!: string;
}

/** @publicApi */
export class WorkerSignal {
  worker!: string;
  queues!: string[];
  concurrency!: number;
}

/** A worker's heartbeat: what it consumes and how it does. @publicApi */
export class WorkerHeartbeatSignal extends WorkerSignal {
  running!: number;
  succeeded!: number;
  failed!: number;
  retried!: number;
}

/** @publicApi */
export class BeatInitSignal {
  beat!: string;
  schedules!: string[];
}

/** The payload of each signal. @publicApi */
export interface TaskSignalPayloads {
  [TaskSignal.BeforePublish]: BeforePublishSignal;
  [TaskSignal.AfterPublish]: AfterPublishSignal;
  [TaskSignal.Received]: TaskReceivedSignal;
  [TaskSignal.Prerun]: TaskPrerunSignal;
  [TaskSignal.Postrun]: TaskPostrunSignal;
  [TaskSignal.Success]: TaskSuccessSignal;
  [TaskSignal.Failure]: TaskFailureSignal;
  [TaskSignal.Retry]: TaskRetrySignal;
  [TaskSignal.Revoked]: TaskRevokedSignal;
  [TaskSignal.Unknown]: TaskUnknownSignal;
  [TaskSignal.Rejected]: TaskRejectedSignal;
  [TaskSignal.WorkerInit]: WorkerSignal;
  [TaskSignal.WorkerReady]: WorkerSignal;
  [TaskSignal.WorkerProcessInit]: WorkerSignal;
  [TaskSignal.WorkerShutdown]: WorkerSignal;
  [TaskSignal.WorkerHeartbeat]: WorkerHeartbeatSignal;
  [TaskSignal.BeatInit]: BeatInitSignal;
}

/** Builds a payload object of the signal's class (so `instanceof` works in handlers). */
export function payload<T extends object>(cls: new () => T, fields: Partial<T>): T {
  return Object.assign(new cls(), fields);
}
