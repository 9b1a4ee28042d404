import { TaskTimeoutError } from '../errors/index.js';
import { toMs, type Duration } from '../protocol/duration.js';
import type { AsyncResult, GetOptions } from './async-result.js';

/** A result handle: one task's, or a group's. @publicApi */
export type ResultHandle<T = unknown> = AsyncResult<T> | GroupResult<T extends unknown[] ? T : unknown[]>;

const FOREVER_MS = 2_147_483_647;

/**
 * The results of a group, in the order its members were given.
 * @publicApi
 */
export class GroupResult<T extends unknown[] = unknown[]> {
  constructor(
    readonly id: string,
    readonly results: ReadonlyArray<ResultHandle>,
    /** The result this group's tasks received as their input, when it came from a workflow. */
    readonly parent?: ResultHandle,
  ) {}

  /** Waits for every member; returns their results in order. The first failure throws (unless propagate: false). */
  async get(options: GetOptions = {}): Promise<T> {
    const timeoutMs =
      options.timeout === undefined ? FOREVER_MS : toMs(options.timeout as Duration, 'get({ timeout })');
    const deadline = Date.now() + timeoutMs;
    const out: unknown[] = [];
    for (const r of this.results) {
      const left = deadline - Date.now();
      if (left <= 0) throw new TaskTimeoutError(this.id, timeoutMs, 'the results');
      out.push(await r.get({ ...options, timeout: left }));
    }
    return out as T;
  }

  private async flat<V>(fn: (r: AsyncResult) => Promise<V>): Promise<V[]> {
    const out: V[] = [];
    for (const r of this.results) {
      if (r instanceof GroupResult) out.push(...(await r.flat(fn)));
      else out.push(await fn(r as AsyncResult));
    }
    return out;
  }

  /** How many member tasks succeeded. */
  async completedCount(): Promise<number> {
    return (await this.flat((r) => r.successful())).filter(Boolean).length;
  }

  /** True when every member task is ready (SUCCESS, FAILURE or REVOKED). */
  async ready(): Promise<boolean> {
    return (await this.flat((r) => r.ready())).every(Boolean);
  }

  async successful(): Promise<boolean> {
    return (await this.flat((r) => r.successful())).every(Boolean);
  }

  /** True when any member task failed. */
  async failed(): Promise<boolean> {
    return (await this.flat((r) => r.failed())).some(Boolean);
  }

  /** Revokes every member task that has not started. */
  async revoke(options: { terminate?: boolean } = {}): Promise<void> {
    await this.flat((r) => r.revoke(options));
  }

  async forget(): Promise<void> {
    await this.flat((r) => r.forget());
  }

  toJSON(): { id: string; results: unknown[] } {
    return { id: this.id, results: this.results.map((r) => r.toJSON()) };
  }
}

declare module '../canvas/signature.js' {
  interface CanvasResultTypes<R> {
    task: AsyncResult<R>;
    group: GroupResult<R extends unknown[] ? R : unknown[]>;
  }
}
