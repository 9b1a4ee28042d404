import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The correlation id of the current unit of work: an HTTP request (set by
 * TaskCorrelationMiddleware) or a running task (set by the worker from the
 * task's headers). Publishing copies it into the new task's headers, so it
 * follows a request through every task and workflow it causes.
 * @internal
 */
export const correlationStorage = new AsyncLocalStorage<string>();

/** The current correlation id, if any. @publicApi */
export function currentCorrelationId(): string | undefined {
  return correlationStorage.getStore();
}
