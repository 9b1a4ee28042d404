import { SetMetadata } from '@nestjs/common';
import { TASK_METADATA } from '../task-queue.constants.js';
import type { TaskOptions } from '../interfaces/task-options.interface.js';

/**
 * Makes a provider method a task. Discovered at bootstrap; call it through
 * `TaskClient.for(Service).method.delay(...)`, or by name with `send()`.
 *
 * @example
 * ```ts
 * @Task({ name: 'email.welcome', queue: 'email', retry: { max: 3 } })
 * async sendWelcome(userId: number) {}
 * ```
 * @publicApi
 */
export function Task(name: string, options?: Omit<TaskOptions, 'name'>): MethodDecorator;
export function Task(options?: TaskOptions): MethodDecorator;
export function Task(nameOrOptions?: string | TaskOptions, options?: Omit<TaskOptions, 'name'>): MethodDecorator {
  const meta: TaskOptions =
    typeof nameOrOptions === 'string' ? { ...options, name: nameOrOptions } : { ...nameOrOptions };
  return SetMetadata(TASK_METADATA, meta);
}

/** The metadata key, for composing decorators of your own. */
Task.KEY = TASK_METADATA;
