/**
 * Error classes. Each builds its message in the constructor and names what was
 * wrong (the option, task, argument or message) so the log line alone is enough.
 */

/** Base of every error this library throws. @publicApi */
export class TaskQueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Invalid module, task or call options. Names the option and the value. @publicApi */
export class TaskQueueConfigError extends TaskQueueError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`Invalid option "${option}" (${describeValue(value)}): ${reason}`);
  }
}

/** A task name that no registered @Task() method carries. @publicApi */
export class UnknownTaskError extends TaskQueueError {
  constructor(
    readonly taskName: string,
    hint = 'Decorate a provider method with @Task() or call it by its registered name.',
  ) {
    super(`Unknown task "${taskName}". ${hint}`);
  }
}

/** Two @Task() methods share one name. Lists both sites. @publicApi */
export class DuplicateTaskError extends TaskQueueError {
  constructor(
    readonly taskName: string,
    readonly sites: [string, string],
  ) {
    super(
      `Task name "${taskName}" is used twice: by ${sites[0]} and by ${sites[1]}. Give one of them an explicit @Task({ name }).`,
    );
  }
}

/** An argument JSON cannot carry faithfully. Names the argument path. @publicApi */
export class NonSerializableArgumentError extends TaskQueueError {
  constructor(
    readonly taskName: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(
      `Task "${taskName}": argument ${path} cannot be sent: ${reason}. Pass plain JSON data (numbers, strings, booleans, null, arrays, plain objects).`,
    );
  }
}

/** A message that failed validation (malformed, oversized, wrong shape). @publicApi */
export class InvalidMessageError extends TaskQueueError {
  constructor(readonly reason: string) {
    super(`Invalid task message: ${reason}`);
  }
}

/** The remote task failed. Carries the remote error's type, message and stack. @publicApi */
export class TaskError extends TaskQueueError {
  constructor(
    readonly taskId: string,
    readonly taskName: string,
    readonly type: string,
    readonly remoteMessage: string,
    readonly traceback: string | undefined,
  ) {
    super(`Task ${taskName}[${taskId}] failed with ${type}: ${remoteMessage}`);
  }
}

/** Waiting for a result took longer than the timeout given. @publicApi */
export class TaskTimeoutError extends TaskQueueError {
  constructor(
    readonly taskId: string,
    readonly timeoutMs: number,
    what = 'the result',
  ) {
    super(`Timed out after ${timeoutMs} ms waiting for ${what} of task ${taskId}.`);
  }
}

/** A task exceeded its hard time limit and was failed. @publicApi */
export class TimeLimitExceededError extends TaskQueueError {
  constructor(
    readonly taskName: string,
    readonly limitMs: number,
  ) {
    super(`Task ${taskName} exceeded its hard time limit of ${limitMs} ms.`);
  }
}

/** The reason of the abort signal when the soft time limit passes. @publicApi */
export class SoftTimeLimitExceededError extends TaskQueueError {
  constructor(
    readonly taskName: string,
    readonly limitMs: number,
  ) {
    super(`Task ${taskName} exceeded its soft time limit of ${limitMs} ms.`);
  }
}

/** The task was revoked (by request, or because it expired). @publicApi */
export class TaskRevokedError extends TaskQueueError {
  constructor(
    readonly taskId: string,
    readonly reason: string,
  ) {
    super(`Task ${taskId} was revoked: ${reason}.`);
  }
}

/**
 * Thrown by `TaskContext.retry()` to end the current run and schedule the next
 * one. The worker catches it; user code should let it propagate.
 */
export class RetryRequested extends Error {
  constructor(
    readonly countdownMs: number | undefined,
    readonly error: unknown,
  ) {
    super('Retry requested');
    this.name = 'RetryRequested';
  }
}

/**
 * Published to the master, but fewer replicas than `durability.replicas`
 * acknowledged it within `durability.timeout`: if the master fails now, the
 * messages may be lost (they may also still run, so do not blindly resend
 * what is not idempotent). @publicApi
 */
export class NotReplicatedError extends TaskQueueError {
  constructor(
    readonly ids: string[],
    readonly acknowledged: number,
    readonly required: number,
    readonly timeoutMs: number,
  ) {
    super(
      `Published ${ids.length === 1 ? `task ${ids[0]}` : `${ids.length} tasks (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`}, but only ${acknowledged} of the ${required} replicas required by durability.replicas acknowledged within ${timeoutMs} ms: a failover now may lose it.`,
    );
  }
}

/** Throw from a task to fail it at once, without the retry policy. @publicApi */
export class UnrecoverableError extends TaskQueueError {}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
