import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type Type,
} from '@nestjs/common';
import { TaskRegistry } from '../discovery/task.registry.js';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import { toMs, type Duration, type TaskMessage } from '../protocol/index.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import type { Transport } from '../transport/transport.interface.js';
import { taskContextStorage } from '../worker/task-context.js';
import { TaskWorker } from '../worker/task.worker.js';
import {
  DEFAULT_DRAIN_TIMEOUT_MS,
  TASK_QUEUE_TESTING_OPTIONS,
  type TestingSettings,
} from './task-queue-testing.constants.js';
import type { DrainOptions, DrainResult, WaitForIdleOptions } from './task-queue-testing.options.js';
import { TestingTransport, type PublishedTask } from './testing.transport.js';

type AnyFn = (...args: any[]) => any;

/** Which published tasks to list: a task name, a pattern on it, fields to match, or a predicate. @publicApi */
export type PublishedFilter =
  string | RegExp | { task?: string | RegExp; queue?: string; id?: string } | ((task: PublishedTask) => boolean);

/** A published task whose arguments are typed from its method. @publicApi */
export type TypedPublishedTask<A extends unknown[]> = Omit<PublishedTask, 'args'> & { args: A };

/** A delayed task not yet due on the broker's clock. @publicApi */
export interface DelayedTask {
  id: string;
  task: string;
  queue: string;
  args: unknown[];
  /** When it is due (wall clock). */
  dueAt: Date;
}

/**
 * Drives the private broker of `TaskQueueTestingModule` from a test: what was
 * published, running queued work to completion, and a clock for delayed tasks.
 *
 * @example
 * ```ts
 * await users.register('ada@example.com');
 * expect(tester.published(EmailService, 'sendWelcome')).toEqual([expect.objectContaining({ args: [1, expect.any(String)] })]);
 * await tester.drain();
 * expect(email.outbox()).toHaveLength(1);
 * ```
 * @publicApi
 */
@Injectable()
export class TaskQueueTester implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly transport: TestingTransport;
  private queues?: string[];
  private closing = false;

  constructor(
    @Inject(TASK_QUEUE_TRANSPORT) transport: Transport,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
    @Inject(TASK_QUEUE_TESTING_OPTIONS) private readonly settings: TestingSettings,
    private readonly worker: TaskWorker,
    private readonly registry: TaskRegistry,
  ) {
    if (!(transport instanceof TestingTransport)) {
      throw new Error(
        'TaskQueueTester works only with TaskQueueTestingModule.forRoot() (it found another broker); import that instead of TaskQueueModule.',
      );
    }
    this.transport = transport;
    transport.eager = settings.alwaysEager;
    if (settings.alwaysEager) transport.afterPublish = (items) => this.runEagerly(items.map((i) => i.raw));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.settings.worker && !this.worker.running) await this.startWorker();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.worker.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close(); // also done by the connection; close is idempotent
  }

  /** The queues the worker consumes (or would): the default queue, every task's queue, and any extra ones. */
  workerQueues(): string[] {
    return (
      this.queues ?? [
        ...new Set([this.options.defaultQueue, ...this.registry.all().map((d) => d.queue), ...this.settings.queues]),
      ]
    );
  }

  // ---- what was published --------------------------------------------------

  /** What was published since the start (or `clearPublished()`), oldest first; optionally only some. */
  published(filter?: PublishedFilter): PublishedTask[];
  /** What was published of one `@Task()` method, with its arguments typed from the method. */
  published<T extends object, K extends keyof T>(
    service: Type<T>,
    method: K,
  ): Array<TypedPublishedTask<T[K] extends AnyFn ? Parameters<T[K]> : unknown[]>>;
  published(filter?: PublishedFilter | Type<object>, method?: PropertyKey): PublishedTask[] {
    const all = this.transport.records;
    if (filter === undefined) return [...all];
    if (method !== undefined) {
      const name = this.registry.forMethod(filter as Type<object>, String(method)).name;
      return all.filter((t) => t.task === name);
    }
    if (typeof filter === 'function') return all.filter(filter as (t: PublishedTask) => boolean);
    if (typeof filter === 'string') return all.filter((t) => t.task === filter);
    if (filter instanceof RegExp) return all.filter((t) => filter.test(t.task));
    const f = filter as Exclude<PublishedFilter, string | RegExp | AnyFn>;
    return all.filter(
      (t) =>
        (f.task === undefined || (typeof f.task === 'string' ? t.task === f.task : f.task.test(t.task))) &&
        (f.queue === undefined || t.queue === f.queue) &&
        (f.id === undefined || t.id === f.id),
    );
  }

  /** Forgets what was published so far (the tasks stay queued). */
  clearPublished(): void {
    this.transport.records.length = 0;
  }

  // ---- time ---------------------------------------------------------------

  /** The broker's clock: the wall clock plus every `advanceTime()`. */
  now(): Date {
    return new Date(Date.now() + this.transport.offsetMs);
  }

  /** Delayed tasks (countdown, eta, retry backoff) not yet due on the broker's clock, soonest first. */
  delayed(): DelayedTask[] {
    const now = Date.now() + this.transport.offsetMs;
    return this.transport
      .pendingDelayed()
      .filter((d) => d.dueAt > now)
      .map((d) => {
        const m = JSON.parse(d.raw) as TaskMessage;
        return { id: d.id, task: m.task, queue: d.queue, args: m.args, dueAt: new Date(d.dueAt) };
      });
  }

  /**
   * Moves the broker's clock forward: delayed tasks that fall due within
   * `by` become due now (the worker, or the next `drain()`, runs them).
   * Returns how many became due. Only the broker's clock moves: `Date.now()`
   * in your code and `expires` keep the wall clock.
   */
  advanceTime(by: Duration): number {
    const ms = toMs(by, 'advanceTime(by)');
    this.transport.offsetMs += ms;
    return this.transport.makeDue(Date.now() + this.transport.offsetMs);
  }

  /** Makes every delayed task due now. Returns how many. */
  runDelayed(): number {
    return this.transport.makeDue();
  }

  // ---- running --------------------------------------------------------------

  /**
   * Runs queued tasks until the broker is idle: the tasks they publish,
   * retries, workflow steps and, unless told otherwise, delayed tasks too
   * (made due as they come). Starts the worker for the drain when the module
   * was created with `worker: false`. Throws, saying what is left, when it is
   * not idle within `timeout`.
   */
  async drain(options: DrainOptions = {}): Promise<DrainResult> {
    const timeoutMs = toMs(options.timeout ?? DEFAULT_DRAIN_TIMEOUT_MS, 'drain({ timeout })');
    const delayed = options.delayed ?? 'run';
    if (!['run', 'wait', 'leave'].includes(delayed))
      throw new Error(`drain({ delayed }): expected 'run', 'wait' or 'leave', got ${JSON.stringify(delayed)}`);
    const startedHere = !this.worker.running;
    if (startedHere) await this.startWorker();
    const before = this.worker.stats();
    try {
      await this.settle('drain()', timeoutMs, delayed);
    } finally {
      if (startedHere && !this.settings.worker) await this.worker.stop();
    }
    const after = this.worker.stats();
    return {
      succeeded: after.succeeded - before.succeeded,
      failed: after.failed - before.failed,
      retried: after.retried - before.retried,
      rejected: after.rejected - before.rejected,
    };
  }

  /**
   * Resolves when nothing is ready or running on the worker's queues (delayed
   * tasks may remain). Neither starts a worker nor moves time.
   */
  async waitForIdle(options: WaitForIdleOptions = {}): Promise<void> {
    await this.settle(
      'waitForIdle()',
      toMs(options.timeout ?? DEFAULT_DRAIN_TIMEOUT_MS, 'waitForIdle({ timeout })'),
      'leave',
    );
  }

  // ---- internals --------------------------------------------------------------

  private async startWorker(): Promise<void> {
    this.queues = this.workerQueues();
    await this.worker.start({ queues: this.queues });
  }

  private async settle(what: string, timeoutMs: number, delayed: 'run' | 'wait' | 'leave'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (delayed === 'run') this.transport.makeDue();
      const busy = await this.busy(delayed !== 'leave');
      if (busy.length === 0) return;
      const left = deadline - Date.now();
      if (left <= 0 || this.closing) {
        const hint = this.worker.running
          ? ''
          : ' No worker is running (the module was created with worker: false): use drain().';
        throw new Error(`${what} gave up after ${timeoutMs} ms with work left: ${busy.join('; ')}.${hint}`);
      }
      await this.transport.nextChange(Math.min(left, 25));
    }
  }

  /** A line per queue that still has work, or none. */
  private async busy(includeDelayed: boolean): Promise<string[]> {
    const out: string[] = [];
    for (const queue of this.workerQueues()) {
      const c = await this.transport.counts(queue);
      if (c.ready + c.reserved + (includeDelayed ? c.delayed : 0) > 0) {
        out.push(`queue "${queue}": ${c.ready} ready, ${c.reserved} running, ${c.delayed} delayed`);
      }
    }
    return out;
  }

  /** alwaysEager: a publish from outside the worker waits until what it set off has run. */
  private async runEagerly(raws: string[]): Promise<void> {
    // Published by a running task, or by the worker continuing a workflow (the
    // message has a parent): that task holds a worker slot, so waiting here
    // would wait for itself. Its caller's own eager wait covers these tasks.
    if (taskContextStorage.getStore() !== undefined) return;
    if (raws.some((raw) => hasParent(raw))) return;
    if (this.closing) return;
    if (!this.worker.running) {
      throw new Error(
        'alwaysEager: the embedded worker is not running. Call init() on the testing module (or app) before publishing.',
      );
    }
    await this.settle('alwaysEager publish', this.settings.eagerTimeoutMs, 'run');
  }
}

function hasParent(raw: string): boolean {
  try {
    return (JSON.parse(raw) as TaskMessage).parentId !== undefined;
  } catch {
    return false;
  }
}
