import { randomUUID } from 'node:crypto';
import { TaskError, TaskRevokedError, TaskTimeoutError } from '../errors/index.js';
import { READY_STATES, TaskState, type ResultRecord } from '../protocol/index.js';
import type { Duration } from '../protocol/duration.js';
import { toMs } from '../protocol/duration.js';
import type { Transport } from '../transport/transport.interface.js';
import type { TaskRef } from '../canvas/planner.js';
import type { ResultHandle } from './group-result.js';

/** Links of a result within a workflow. */
export interface ResultLinks {
  /** The result this task received as its input (the previous step of a chain, a chord's header). */
  parent?: ResultHandle;
  /** Every task of the workflow this handle was returned for; revoke() revokes them all. */
  graph?: TaskRef[];
}

/** setTimeout's largest delay; "wait forever" in practice. */
const FOREVER_MS = 2_147_483_647;

export interface GetOptions {
  /** Give up after this long with TaskTimeoutError. @default forever */
  timeout?: Duration;
  /** Throw the task's failure as TaskError (true) or return the stored error (false). @default true */
  propagate?: boolean;
}

/**
 * A handle on a published task: its state and, once ready, its result.
 * Waiting (`get`) is woken by the broker when the result lands; it never polls.
 * @publicApi
 */
export class AsyncResult<T = unknown> {
  private knownQueue: string | undefined;

  /**
   * @param queue where the task was published; when undefined, the task is
   *   looked for in `candidates` (the queues this application knows).
   */
  constructor(
    readonly id: string,
    queue: string | undefined,
    readonly taskName: string | undefined,
    private readonly transport: Transport,
    private readonly resultTtlMs: number,
    private readonly links: ResultLinks = {},
    private readonly candidates: readonly string[] = [],
  ) {
    this.knownQueue = queue;
  }

  /** The task's queue, once known (always, for a handle returned by publishing). */
  get queue(): string | undefined {
    return this.knownQueue;
  }

  private get searchQueues(): string[] {
    return this.knownQueue ? [this.knownQueue] : [...this.candidates];
  }

  /** The previous step's result, for a task that was part of a workflow published here. */
  get parent(): ResultHandle | undefined {
    return this.links.parent;
  }

  /** The tasks this task published when it succeeded (the next steps of its workflow, its links). */
  async children(): Promise<AsyncResult[]> {
    const rec = await this.record();
    return (rec?.children ?? []).map((c) => new AsyncResult(c.id, c.queue, c.task, this.transport, this.resultTtlMs));
  }

  /** The stored record, or null while PENDING (unknown, waiting, or expired). */
  async record(): Promise<ResultRecord | null> {
    if (this.knownQueue) return this.transport.getResult(this.knownQueue, this.id);
    const found = await this.transport.findResult(this.searchQueues, this.id);
    if (!found) return null;
    this.knownQueue = found.queue;
    return found.record;
  }

  async state(): Promise<TaskState> {
    return (await this.record())?.state ?? TaskState.PENDING;
  }

  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.state());
  }

  async successful(): Promise<boolean> {
    return (await this.state()) === TaskState.SUCCESS;
  }

  async failed(): Promise<boolean> {
    return (await this.state()) === TaskState.FAILURE;
  }

  /**
   * Waits for the task to finish and returns its return value. A failure
   * throws TaskError (or, with `propagate: false`, returns the stored error); a
   * revoked task throws TaskRevokedError; past `timeout`, TaskTimeoutError.
   */
  async get(options: GetOptions = {}): Promise<T> {
    const timeoutMs =
      options.timeout === undefined ? FOREVER_MS : Math.min(FOREVER_MS, toMs(options.timeout, 'get({ timeout })'));
    const rec = await this.transport.waitForResult(this.searchQueues, this.id, timeoutMs);
    if (!rec) throw new TaskTimeoutError(this.id, timeoutMs);
    return this.unwrap(rec, options.propagate ?? true);
  }

  private unwrap(rec: ResultRecord, propagate: boolean): T {
    if (rec.state === TaskState.SUCCESS) return rec.result as T;
    if (rec.state === TaskState.REVOKED) {
      if (!propagate) return rec.error as T;
      throw new TaskRevokedError(this.id, rec.error?.message ?? 'revoked');
    }
    const err = rec.error ?? { type: 'Error', message: 'unknown failure' };
    if (!propagate) return err as T;
    throw new TaskError(this.id, rec.task ?? this.taskName ?? 'unknown', err.type, err.message, err.stack);
  }

  /** Progress meta while PROGRESS; the result when SUCCESS; the error when FAILURE or RETRY. */
  async info(): Promise<unknown> {
    const rec = await this.record();
    if (!rec) return undefined;
    if (rec.state === TaskState.SUCCESS) return rec.result;
    if (rec.state === TaskState.PROGRESS) return rec.meta;
    return rec.error ?? rec.meta;
  }

  /** The remote stack trace of a failed (or retrying) task. */
  async traceback(): Promise<string | undefined> {
    return (await this.record())?.error?.stack;
  }

  /**
   * Revokes the task if it has not started: it will not run, and ends REVOKED.
   * On the handle a workflow returned, revokes every task of the workflow that
   * has not started. With `terminate: true`, a running task is aborted too (its
   * signal fires and its worker records REVOKED at once), on whichever worker runs it.
   */
  async revoke(options: { terminate?: boolean } = {}): Promise<void> {
    if (!this.links.graph && !this.knownQueue) await this.record();
    const refs =
      this.links.graph ?? this.searchQueues.map((queue) => ({ id: this.id, queue, task: this.taskName ?? '' }));
    for (const ref of refs) {
      const record: ResultRecord = {
        id: ref.id,
        task: ref.task || undefined,
        state: TaskState.REVOKED,
        at: Date.now(),
        error: { type: 'TaskRevokedError', message: 'revoked' },
      };
      await this.transport.revoke(ref.queue, ref.id, record, this.resultTtlMs);
    }
    // Every worker drops the prefetched ones; with terminate, running ones are aborted too.
    const ids = [...new Set(refs.map((r) => r.id))];
    await this.transport.control(
      { id: randomUUID(), command: 'revoke', args: { ids, terminate: options.terminate === true }, reply: false },
      0,
    );
  }

  /** Deletes the stored result. */
  async forget(): Promise<void> {
    if (!this.knownQueue) await this.record();
    for (const queue of this.searchQueues) await this.transport.forget(queue, this.id);
  }

  toJSON(): { id: string; queue?: string; task?: string } {
    return { id: this.id, queue: this.queue, task: this.taskName };
  }
}
