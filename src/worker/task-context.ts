import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { RetryRequested } from '../errors/index.js';
import type { TaskHeaders } from '../protocol/envelope.js';
import { toMs, type Duration } from '../protocol/duration.js';
import { MESSAGES } from '../task-queue.messages.js';

/** What a running task can see of itself. @internal */
export interface TaskContextState {
  id: string;
  name: string;
  queue: string;
  retries: number;
  headers: TaskHeaders;
  parentId?: string;
  rootId?: string;
  signal: AbortSignal;
  progress(meta: unknown): Promise<void>;
}

/** @internal */
export const taskContextStorage = new AsyncLocalStorage<TaskContextState>();

/**
 * The running task, from anywhere in its async call tree (AsyncLocalStorage).
 * Inject it in any provider; read it while a task runs.
 *
 * @example
 * ```ts
 * @Task() async report(n: number) {
 *   for (let i = 0; i < n; i++) { await this.ctx.progress({ done: i, total: n }); }
 * }
 * ```
 * @publicApi
 */
@Injectable()
export class TaskContext {
  private get state(): TaskContextState {
    const s = taskContextStorage.getStore();
    if (!s) throw new Error(MESSAGES.outsideTask('state'));
    return s;
  }

  /** True while a task runs in the current async context. */
  get active(): boolean {
    return taskContextStorage.getStore() !== undefined;
  }

  get id(): string {
    return this.state.id;
  }

  get name(): string {
    return this.state.name;
  }

  get queue(): string {
    return this.state.queue;
  }

  /** Retries done before this run (0 on the first run). */
  get retries(): number {
    return this.state.retries;
  }

  get headers(): Readonly<TaskHeaders> {
    return this.state.headers;
  }

  get parentId(): string | undefined {
    return this.state.parentId;
  }

  get rootId(): string | undefined {
    return this.state.rootId;
  }

  /** Aborted at the soft (or hard) time limit, on revocation, and on worker shutdown past its timeout. */
  get signal(): AbortSignal {
    return this.state.signal;
  }

  /** Records progress: state PROGRESS with `meta`, readable through AsyncResult.info(). */
  progress(meta: unknown): Promise<void> {
    return this.state.progress(meta);
  }

  /**
   * Ends this run and schedules a retry (after `countdown`, else the task's
   * backoff). Throws; use as `throw this.ctx.retry(...)` or `return this.ctx.retry(...)`.
   * Past the task's retry.max the task fails with `error`.
   */
  retry(options: { countdown?: Duration; error?: unknown } = {}): never {
    void this.state;
    throw new RetryRequested(
      options.countdown === undefined ? undefined : toMs(options.countdown, 'retry({ countdown })'),
      options.error,
    );
  }
}
