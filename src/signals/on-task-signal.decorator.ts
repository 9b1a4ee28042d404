import { SetMetadata } from '@nestjs/common';
import { TASK_SIGNAL_HANDLER, type TaskSignalName } from './task-signal.constants.js';

export interface OnTaskSignalOptions {
  /** Only this task's signals (Celery's `sender=`); a name or a list. */
  task?: string | string[];
}

/** @internal */
export interface SignalHandlerMeta {
  signal: TaskSignalName;
  tasks?: string[];
}

/**
 * Runs the method on a signal, optionally only for one task. Works without
 * @nestjs/event-emitter; a handler that throws is logged and never breaks the
 * task or the worker.
 *
 * @example
 * ```ts
 * @OnTaskSignal(TaskSignal.Failure, { task: 'email.welcome' })
 * onWelcomeFailed(e: TaskFailureSignal) {}
 * ```
 * @publicApi
 */
export function OnTaskSignal(signal: TaskSignalName, options: OnTaskSignalOptions = {}): MethodDecorator {
  const tasks = options.task === undefined ? undefined : Array.isArray(options.task) ? options.task : [options.task];
  return (target, key, descriptor) => {
    const list: SignalHandlerMeta[] = Reflect.getMetadata(TASK_SIGNAL_HANDLER, descriptor.value as object) ?? [];
    return SetMetadata(TASK_SIGNAL_HANDLER, [...list, { signal, tasks }])(target, key, descriptor);
  };
}

OnTaskSignal.KEY = TASK_SIGNAL_HANDLER;
