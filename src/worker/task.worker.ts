import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { TaskRegistry, type TaskDefinition } from '../discovery/task.registry.js';
import { parseRateLimit, resolveRetry } from '../discovery/task-queue.explorer.js';
import {
  InvalidMessageError,
  RetryRequested,
  TaskQueueError,
  TaskRevokedError,
  SoftTimeLimitExceededError,
  TimeLimitExceededError,
  UnknownTaskError,
  UnrecoverableError,
} from '../errors/index.js';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import type { EmbeddedBeat, ResolvedWorkerOptions, WorkerOptions } from '../interfaces/worker-options.interface.js';
import {
  DEFAULT_PRIORITY,
  TaskState,
  decodeMessage,
  encodeMessage,
  errorToStored,
  sniffId,
  NAME_PATTERN,
  type ResultRecord,
  type TaskMessage,
} from '../protocol/index.js';
import { TASK_QUEUE_EMBEDDED_BEAT, TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import { MESSAGES } from '../task-queue.messages.js';
import { resolveWorkerOptions } from '../task-queue.options.js';
import type {
  ControlMessage,
  ControlReply,
  ReserveRequest,
  ReserveResult,
  ReservedItem,
  TerminalUpdate,
  Transport,
  WorkerInfo,
} from '../transport/transport.interface.js';
import {
  JOIN_TASK,
  WorkflowPublisher,
  errbacksOf,
  plan,
  signalPublishHooks,
  taskRefs,
  type Plan,
  type TaskRef,
} from '../canvas/index.js';
import type { CanvasJSON, ChordMembership } from '../protocol/canvas-json.js';
import { CELERY_IGNORE_RESULT_HEADER, CELERY_KWARGS_HEADER } from '../protocol/celery/index.js';
import { assertName, toMs, type Duration, type StoredError } from '../protocol/index.js';
import { backoffDelay } from './backoff.js';
import { SignalEmitter } from '../signals/signal.emitter.js';
import { TaskSignal } from '../signals/task-signal.constants.js';
import {
  TaskFailureSignal,
  TaskPostrunSignal,
  TaskPrerunSignal,
  TaskReceivedSignal,
  TaskRejectedSignal,
  TaskRetrySignal,
  TaskRevokedSignal,
  TaskSuccessSignal,
  TaskUnknownSignal,
  WorkerHeartbeatSignal,
  WorkerSignal,
  payload,
} from '../signals/task-signal.payloads.js';
import { taskContextStorage, type TaskContextState } from './task-context.js';
import { correlationStorage } from '../context/correlation.js';
import { TaskTracing, tracingPublishHooks, type TaskOutcome } from '../tracing/task-tracing.js';

/** Header of a message that holds a rate-limit slot already (it waited for it). @internal */
export const RATE_SLOT_HEADER = 'taskqueue-rate-slot';

interface Running {
  queue: string;
  item: ReservedItem;
  controller: AbortController;
  /** Set once the message is decoded. */
  task?: string;
  startedAt: number;
  /** Terminated by a remote revoke: record REVOKED, whatever the task did. */
  revoked?: boolean;
  /** Ends the wait for the task's promise (terminate): the slot is freed even if the task ignores its signal. */
  terminate?: (reason: unknown) => void;
  /** Given back at shutdown: its outcome is no longer ours to record. */
  released: boolean;
  done: Promise<void>;
}

/** A task name pattern: `*` matches any run of characters, everything else itself. */
function globPattern(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** Counters since start (the part of a worker's heartbeat it counts itself). @publicApi */
export type WorkerStats = Pick<
  WorkerInfo,
  'id' | 'running' | 'prefetched' | 'succeeded' | 'failed' | 'retried' | 'rejected'
>;

/** Held message ids, grouped by queue (each queue is one broker call). */
function idsByQueue(entries: Iterable<{ queue: string; item: ReservedItem }>): Map<string, string[]> {
  const byQueue = new Map<string, string[]>();
  for (const { queue, item } of entries) {
    const ids = byQueue.get(queue);
    if (ids) ids.push(item.id);
    else byQueue.set(queue, [item.id]);
  }
  return byQueue;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Consumes queues and runs tasks in this process, with the application's own
 * providers. Started by `bootstrapWorker()`, by `worker: { autostart: true }`,
 * or by calling `start()`; an API process that does neither never consumes.
 * @publicApi
 */
@Injectable()
export class TaskWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('TaskWorker');
  readonly id: string;
  private opts?: ResolvedWorkerOptions;
  private readonly inFlight = new Map<string, Running>();
  private readonly buffer: Array<{ queue: string; item: ReservedItem }> = [];
  private loopAbort?: AbortController;
  private loopDone?: Promise<void>;
  private renewTimer?: NodeJS.Timeout;
  private slotWaiter?: () => void;
  private stopping = false;
  private closing?: Promise<void>;
  private rotation = 0;
  private stopControl?: () => Promise<void>;
  private starting?: Promise<void>;
  private readonly pendingAcks = new Map<
    string,
    {
      updates: TerminalUpdate[];
      runnings: Running[];
      waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
    }
  >();
  private startedAt = 0;
  private readonly counters = { succeeded: 0, failed: 0, retried: 0, rejected: 0 };
  private readonly workflow: WorkflowPublisher;
  /** The built-in join task of workflows: hands a group's results on (see the planner). */
  private readonly join: TaskDefinition = {
    name: JOIN_TASK,
    site: 'nestjs-taskqueue#join',
    target: TaskWorker,
    methodName: 'join',
    instance: this,
    handler: (results: unknown) => results,
    queue: JOIN_TASK,
    priority: DEFAULT_PRIORITY,
    ignoreResult: false,
  };

  constructor(
    @Inject(TASK_QUEUE_TRANSPORT) private readonly transport: Transport,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
    private readonly registry: TaskRegistry,
    @Inject(TASK_QUEUE_EMBEDDED_BEAT) private readonly beat: EmbeddedBeat,
    private readonly signals: SignalEmitter,
    private readonly tracing: TaskTracing,
  ) {
    this.workflow = new WorkflowPublisher(
      transport,
      (t) => registry.get(t),
      options,
      tracingPublishHooks(tracing, signalPublishHooks(signals, options.defaultQueue), options.defaultQueue),
    );
    const host = hostname()
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 60);
    this.id = `${host}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  get running(): boolean {
    return this.loopDone !== undefined && !this.stopping;
  }

  stats(): WorkerStats {
    return { id: this.id, running: this.inFlight.size, prefetched: this.buffer.length, ...this.counters };
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.worker.autostart) await this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Starts consuming. Options not given come from the module's `worker` options. */
  async start(options: WorkerOptions = {}): Promise<void> {
    if (this.loopDone || this.starting) throw new Error(`Worker ${this.id} is already started.`);
    this.starting = this.begin(options);
    try {
      await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  private async begin(options: WorkerOptions): Promise<void> {
    this.opts = resolveWorkerOptions(options, this.options.defaultQueue, '', this.options.worker);
    await this.signals.whenReady();
    this.signals.emit(TaskSignal.WorkerInit, () => this.workerPayload());
    this.signals.emit(TaskSignal.WorkerProcessInit, () => this.workerPayload());
    this.stopping = false;
    this.closing = undefined;
    this.startedAt = Date.now();
    this.loopAbort = new AbortController();
    const every = Math.max(50, Math.floor(this.opts.leaseMs / 3));
    this.renewTimer = setInterval(() => {
      void this.renewLeases();
      void this.heartbeat();
    }, every);
    this.renewTimer.unref();
    this.logger.log(MESSAGES.workerStarted(this.id, this.opts.queues, this.opts.concurrency));
    this.loopDone = this.loop(this.loopAbort.signal);
    void this.heartbeat();
    this.stopControl = await this.transport.onControl((m) => this.onControl(m));
    if (this.opts.beat) await this.beat.start(this.opts.beat);
    this.signals.emit(TaskSignal.WorkerReady, () => this.workerPayload());
  }

  private workerPayload(): WorkerSignal {
    return payload(WorkerSignal, {
      worker: this.id,
      queues: this.opts?.queues ?? [],
      concurrency: this.opts?.concurrency ?? 0,
    });
  }

  /** Logs one line per task event at the configured level (worker.logLevel). */
  private taskLog(message: () => string): void {
    const level = this.opts?.logLevel ?? 'debug';
    if (level === 'off' || !Logger.isLevelEnabled(level)) return;
    this.logger[level](message());
  }

  /**
   * Stops fetching, lets running tasks finish for up to `shutdownTimeout`, then
   * gives back whatever is left. Idempotent.
   */
  stop(): Promise<void> {
    // A stop that arrives while the worker starts (a signal at boot) waits for the start, then stops.
    if (this.starting)
      return this.starting.then(
        () => this.stop(),
        () => undefined,
      );
    if (!this.loopDone) return Promise.resolve();
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const opts = this.opts!;
    this.stopping = true;
    if (opts.beat) {
      try {
        await this.beat.stop();
      } catch (err) {
        this.logger.error(`Could not stop the embedded beat: ${String(err)}`);
      }
    }
    this.loopAbort?.abort();
    this.slotWaiter?.();
    await this.stopControl?.().catch(() => undefined);
    this.stopControl = undefined;
    try {
      await this.loopDone;
    } catch (err) {
      this.logger.error(MESSAGES.loopError(err));
    }
    try {
      await this.giveBack(this.buffer.splice(0));
    } catch (err) {
      this.logger.error(`Could not give back prefetched tasks: ${String(err)}`);
    }
    const pending = [...this.inFlight.values()].map((r) => r.done);
    if (pending.length) {
      const timeout = new AbortController();
      await Promise.race([Promise.allSettled(pending), sleep(opts.shutdownTimeoutMs, timeout.signal)]);
      timeout.abort();
    }
    const left = [...this.inFlight.values()];
    for (const r of left) {
      r.released = true;
      r.controller.abort(new Error('The worker is shutting down; the task was given back to the queue.'));
    }
    try {
      await this.giveBack(left.map((r) => ({ queue: r.queue, item: r.item })));
    } catch (err) {
      this.logger.error(`Could not give back running tasks: ${String(err)}`);
    }
    for (const r of left) this.inFlight.delete(r.item.id);
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    this.loopDone = undefined;
    await this.transport.workerGone(this.id).catch(() => undefined);
    this.logger.log(`Worker ${this.id} stopped (${left.length} running task(s) given back).`);
    this.signals.emit(TaskSignal.WorkerShutdown, () => this.workerPayload());
  }

  private async giveBack(entries: Array<{ queue: string; item: ReservedItem }>): Promise<void> {
    for (const [queue, ids] of idsByQueue(entries)) await this.transport.release(queue, ids);
  }

  private request(queue: string, max: number, startCount: number): ReserveRequest {
    const o = this.opts!;
    return {
      queue,
      max,
      startCount,
      leaseMs: o.leaseMs,
      workerId: this.id,
      maxRedeliveries: o.maxRedeliveries,
      resultTtlMs: this.options.resultExpiresMs,
    };
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const o = this.opts!;
    while (!signal.aborted) {
      const capacity = o.concurrency + o.prefetch - this.inFlight.size - this.buffer.length;
      if (capacity <= 0) {
        await new Promise<void>((resolve) => (this.slotWaiter = resolve));
        this.slotWaiter = undefined;
        continue;
      }
      let got = 0;
      let nextWake = Number.POSITIVE_INFINITY;
      try {
        const queues = this.rotate(o.queues);
        for (const queue of queues) {
          const room = capacity - got;
          if (room <= 0 || signal.aborted) break;
          const startable = Math.max(0, o.concurrency - this.inFlight.size);
          const res = await this.transport.reserve(this.request(queue, room, startable));
          got += res.items.length;
          if (res.nextWakeAt !== null) nextWake = Math.min(nextWake, res.nextWakeAt);
          this.accept(queue, res);
        }
        if (got === 0 && !signal.aborted) {
          const until = Number.isFinite(nextWake) ? nextWake : Date.now() + 30_000;
          await this.transport.waitForWork(o.queues, until, signal);
        }
      } catch (err) {
        if (signal.aborted) break;
        this.logger.error(MESSAGES.loopError(err));
        await sleep(1000, signal);
      }
    }
  }

  /** Round-robin start, so a busy first queue cannot starve the others. */
  private rotate(queues: string[]): string[] {
    if (queues.length === 1) return queues;
    const k = this.rotation++ % queues.length;
    return [...queues.slice(k), ...queues.slice(0, k)];
  }

  private accept(queue: string, res: ReserveResult): void {
    for (const d of res.dropped) this.dropped(queue, d);
    for (const item of res.items) {
      if (this.inFlight.size < this.opts!.concurrency && !this.stopping) this.run(queue, item, true);
      else this.buffer.push({ queue, item });
    }
  }

  /** A message the broker did not hand out: revoked, expired, or lost too often. */
  private dropped(queue: string, d: { id: string; raw: string; reason: 'revoked' | 'expired' | 'lost' }): void {
    const task = /"task":"([^"\\]+)"/.exec(d.raw)?.[1] ?? 'unknown';
    this.taskLog(
      () => `Task ${task}[${d.id}] ${d.reason === 'lost' ? 'failed: its worker was lost too many times' : d.reason}`,
    );
    if (d.reason === 'lost') {
      this.signals.emit(TaskSignal.Failure, () =>
        payload(TaskFailureSignal, {
          id: d.id,
          task,
          queue,
          args: [],
          error: {
            type: 'WorkerLostError',
            message: 'the worker holding the task stopped renewing its lease too many times',
          },
        }),
      );
    } else {
      this.signals.emit(TaskSignal.Revoked, () =>
        payload(TaskRevokedSignal, {
          id: d.id,
          task,
          queue,
          terminated: false,
          expired: d.reason === 'expired',
          reason: d.reason,
        }),
      );
    }
  }

  private run(queue: string, item: ReservedItem, startedByReserve: boolean): void {
    const running: Running = {
      queue,
      item,
      controller: new AbortController(),
      released: false,
      done: Promise.resolve(),
      startedAt: Date.now(),
    };
    this.inFlight.set(item.id, running);
    running.done = this.execute(running, startedByReserve).catch((err) => {
      // Only a broker failure while recording the outcome gets here; the lease
      // runs out and the task is delivered again.
      this.logger.error(`Could not record the outcome of ${item.id}: ${String(err)}`);
      if (this.inFlight.get(item.id) === running) this.inFlight.delete(item.id);
      this.wakeLoop();
    });
  }

  private wakeLoop(): void {
    this.slotWaiter?.();
    // Start prefetched tasks in freed slots.
    while (this.buffer.length && this.inFlight.size < this.opts!.concurrency && !this.stopping) {
      const { queue, item } = this.buffer.shift()!;
      this.run(queue, item, false);
    }
  }

  private record(msg: TaskMessage, state: TaskState, extra: Partial<ResultRecord> = {}): ResultRecord {
    return {
      id: msg.id,
      task: msg.task,
      state,
      at: Date.now(),
      worker: this.id,
      retries: msg.retries,
      parentId: msg.parentId,
      rootId: msg.rootId,
      ...extra,
    };
  }

  private async execute(running: Running, startedByReserve: boolean): Promise<void> {
    const { queue, item } = running;
    const ttl = this.options.resultExpiresMs;
    let msg: TaskMessage;
    try {
      msg = decodeMessage(item.raw, this.options.maxMessageBytes);
      if (!NAME_PATTERN.test(msg.id))
        throw new InvalidMessageError(
          `field "id" ${JSON.stringify(msg.id.slice(0, 50))} has characters outside A-Z a-z 0-9 . _ : -`,
        );
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return this.rejectMessage(running, reason, sniffId(item.raw), new InvalidMessageError(reason));
    }
    running.task = msg.task;
    const def = this.registry.get(msg.task) ?? (msg.task === JOIN_TASK ? this.join : undefined);
    if (!def) {
      const err = new UnknownTaskError(
        msg.task,
        `No @Task() of this name in worker ${this.id}; known: ${this.registry.names().join(', ') || '(none)'}.`,
      );
      return this.rejectMessage(running, err.message, msg.id, err, msg);
    }
    const kwargs = msg.headers?.[CELERY_KWARGS_HEADER];
    if (typeof kwargs === 'string' && !def.kwargs) {
      const err = new InvalidMessageError(MESSAGES.kwargsRefused(def.name, def.site, kwargs.split(',')));
      return this.rejectMessage(running, err.message, msg.id, err, msg);
    }
    if (this.isRevokedName(msg.task)) {
      // revoked by task name (TaskControl.revoke({ task })): never runs
      const record = this.record(msg, TaskState.REVOKED, { error: { type: 'TaskRevokedError', message: 'revoked' } });
      try {
        await this.transport.ack({ queue, id: msg.id, record, resultTtlMs: this.options.resultExpiresMs });
        await this.releaseUnique(queue, msg);
      } finally {
        this.inFlight.delete(item.id);
        this.wakeLoop();
      }
      this.signals.emit(TaskSignal.Revoked, () =>
        payload(TaskRevokedSignal, {
          id: msg.id,
          task: msg.task,
          queue,
          terminated: false,
          expired: false,
          reason: 'revoked',
        }),
      );
      return;
    }
    if (def.rateLimit) {
      const admitted = await this.admitRate(running, msg, def.rateLimit);
      if (!admitted) return;
      msg = admitted;
    }
    const admitted = msg;
    if (!this.tracing.enabled) return void (await this.runTask(running, admitted, def, startedByReserve));
    await this.tracing.process(admitted, queue, this.id, () => this.runTask(running, admitted, def, startedByReserve));
  }

  /** Runs an admitted message's task, records the outcome and continues its workflow; returns the outcome. */
  private async runTask(
    running: Running,
    msg: TaskMessage,
    def: TaskDefinition,
    startedByReserve: boolean,
  ): Promise<TaskOutcome | undefined> {
    const { queue } = running;
    const ttl = this.options.resultExpiresMs;
    const request = () =>
      ({
        id: msg.id,
        task: msg.task,
        queue,
        args: msg.args,
        retries: msg.retries,
        headers: msg.headers ?? {},
        parentId: msg.parentId,
        rootId: msg.rootId,
        worker: this.id,
        enqueuedAt: msg.eta ?? msg.created,
      }) as const;
    this.signals.emit(TaskSignal.Received, () => payload(TaskReceivedSignal, request()));
    this.taskLog(() => `Task ${msg.task}[${msg.id}] received${msg.retries ? ` (retry ${msg.retries})` : ''}`);
    if (!startedByReserve) await this.transport.setState(queue, this.record(msg, TaskState.STARTED), ttl);

    const controller = running.controller;
    const timers: NodeJS.Timeout[] = [];
    // limits changed at runtime (TaskControl.timeLimit) win over those the message was published with
    const changed = this.timeLimits.get(msg.task);
    const softMs = changed && 'softMs' in changed ? changed.softMs : msg.softTimeLimit;
    const hardMs = changed && 'hardMs' in changed ? changed.hardMs : msg.timeLimit;
    if (softMs !== undefined)
      timers.push(setTimeout(() => controller.abort(new SoftTimeLimitExceededError(msg.task, softMs)), softMs));
    let hardLimit: Promise<never> | undefined;
    if (hardMs !== undefined) {
      hardLimit = new Promise<never>((_, reject) => {
        timers.push(
          setTimeout(() => {
            const err = new TimeLimitExceededError(msg.task, hardMs);
            controller.abort(err);
            reject(err);
          }, hardMs),
        );
      });
    }
    const ctx: TaskContextState = {
      id: msg.id,
      name: msg.task,
      queue,
      retries: msg.retries,
      headers: msg.headers ?? {},
      parentId: msg.parentId,
      rootId: msg.rootId,
      signal: controller.signal,
      progress: (meta: unknown) => this.transport.setState(queue, this.record(msg, TaskState.PROGRESS, { meta }), ttl),
    };
    this.signals.emit(TaskSignal.Prerun, () => payload(TaskPrerunSignal, request()));
    const t0 = performance.now();
    let value: unknown;
    let error: unknown;
    let failed = false;
    try {
      const cid = msg.headers?.[this.options.correlation.header];
      const run = () =>
        taskContextStorage.run(ctx, () => Promise.resolve().then(() => def.handler.apply(def.instance, msg.args)));
      const call = typeof cid === 'string' ? correlationStorage.run(cid, run) : run();
      const terminated = new Promise<never>((_, reject) => (running.terminate = reject));
      value = await Promise.race(hardLimit ? [call, hardLimit, terminated] : [call, terminated]);
    } catch (err) {
      failed = true;
      // An API that honours the signal rejects with a generic AbortError; the
      // signal's reason (soft limit, hard limit, shutdown) says what happened.
      error =
        controller.signal.aborted && err instanceof Error && err.name === 'AbortError' ? controller.signal.reason : err;
    } finally {
      for (const t of timers) clearTimeout(t);
    }
    if (running.released) return undefined;
    const runtime = Math.round((performance.now() - t0) * 1000) / 1000;
    if (running.revoked) {
      const record = this.record(msg, TaskState.REVOKED, {
        runtime,
        error: { type: 'TaskRevokedError', message: 'terminated' },
      });
      await this.releaseUnique(queue, msg);
      await this.finish(running, record);
      this.taskLog(() => `Task ${msg.task}[${msg.id}] terminated by a revoke after ${runtime} ms`);
      this.signals.emit(TaskSignal.Revoked, () =>
        payload(TaskRevokedSignal, {
          id: msg.id,
          task: msg.task,
          queue,
          terminated: true,
          expired: false,
          reason: 'terminated',
        }),
      );
      this.signals.emit(TaskSignal.Postrun, () =>
        payload(TaskPostrunSignal, { ...request(), state: TaskState.REVOKED, runtime }),
      );
      this.signals.ended(msg, queue, TaskState.REVOKED, runtime);
      return { state: TaskState.REVOKED };
    }
    if (!failed) {
      let result: unknown;
      try {
        result = value === undefined ? null : JSON.parse(JSON.stringify(value));
      } catch (err) {
        failed = true;
        error = new InvalidMessageError(
          `the return value of ${def.name} cannot be stored as JSON (${(err as Error).message})`,
        );
      }
      if (!failed) {
        // Next steps are published before the ack: a crash in between redelivers
        // this task, and the steps (with the same ids) at worst run twice, never zero times.
        const children = await this.continueWorkflow(msg, result);
        this.counters.succeeded++;
        const record = this.record(msg, TaskState.SUCCESS, {
          result,
          runtime,
          ...(children.length ? { children } : {}),
        });
        // the key is free before the result shows: whoever sees the task ended can publish it again
        await this.releaseUnique(queue, msg);
        const ignore = def.ignoreResult || msg.headers?.[CELERY_IGNORE_RESULT_HEADER] === true;
        await this.finish(running, ignore ? null : record);
        this.taskLog(() => `Task ${msg.task}[${msg.id}] succeeded in ${runtime} ms`);
        this.signals.emit(TaskSignal.Success, () =>
          payload(TaskSuccessSignal, { id: msg.id, task: msg.task, queue, result, runtime }),
        );
        this.signals.emit(TaskSignal.Postrun, () =>
          payload(TaskPostrunSignal, { ...request(), retval: result, state: TaskState.SUCCESS, runtime }),
        );
        this.signals.ended(msg, queue, TaskState.SUCCESS, runtime);
        return { state: TaskState.SUCCESS };
      }
    }
    const state = await this.handleError(running, msg, def, error, runtime);
    this.signals.emit(TaskSignal.Postrun, () => payload(TaskPostrunSignal, { ...request(), state, runtime }));
    this.signals.ended(msg, queue, state, runtime);
    return { state, error: errorToStored(error), retries: msg.retries + 1 };
  }

  /**
   * Acknowledges, batched: tasks of one queue that finish in the same tick are
   * acknowledged in one call, which also reserves as many next messages when
   * slots are wanted. One round trip and one script call for the lot.
   */
  private finish(running: Running, record: ResultRecord | null): Promise<void> {
    const { queue, item } = running;
    let batch = this.pendingAcks.get(queue);
    if (!batch) {
      batch = { updates: [], runnings: [], waiters: [] };
      this.pendingAcks.set(queue, batch);
      setImmediate(() => void this.flushAcks(queue));
    }
    batch.updates.push({ queue, id: item.id, record, resultTtlMs: this.options.resultExpiresMs });
    batch.runnings.push(running);
    return new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  private async flushAcks(queue: string): Promise<void> {
    const batch = this.pendingAcks.get(queue);
    if (!batch) return;
    this.pendingAcks.delete(queue);
    const n = batch.runnings.length;
    const wantNext = !this.stopping && this.buffer.length === 0;
    // Round-robin over the worker's queues; when the turn falls on this queue
    // (always, with one queue) the next reserve rides on the ack's round trip.
    const nextQueue = wantNext ? this.rotate(this.opts!.queues)[0] : queue;
    const next = wantNext ? this.request(nextQueue, n, n) : undefined;
    try {
      const res = await this.transport.ack(batch.updates, next);
      for (const r of batch.runnings) this.inFlight.delete(r.item.id);
      if (res) this.accept(nextQueue, res);
      this.wakeLoop();
      for (const w of batch.waiters) w.resolve();
    } catch (err) {
      for (const w of batch.waiters) w.reject(err);
    }
  }

  private async handleError(
    running: Running,
    msg: TaskMessage,
    def: TaskDefinition,
    error: unknown,
    runtime: number,
  ): Promise<TaskState> {
    const { queue, item } = running;
    const ttl = this.options.resultExpiresMs;
    let retryable = false;
    let countdown: number | undefined;
    let cause = error;
    if (error instanceof RetryRequested) {
      retryable = true;
      countdown = error.countdownMs;
      cause = error.error ?? new Error(`${msg.task} asked to be retried`);
    } else if (!(error instanceof UnrecoverableError) && def.retry) {
      retryable = !def.autoretryFor || def.autoretryFor.some((cls) => error instanceof cls);
    }
    const policy = def.retry ?? resolveRetry({}, 'retry');
    try {
      if (retryable && msg.retries < policy.max) {
        const delay = countdown ?? backoffDelay(policy, msg.retries);
        const nextMsg: TaskMessage = { ...msg, retries: msg.retries + 1 };
        const stored = errorToStored(cause);
        await this.transport.retry(
          {
            queue,
            id: msg.id,
            record: this.record(msg, TaskState.RETRY, { error: stored, retries: msg.retries + 1, runtime }),
            resultTtlMs: ttl,
          },
          encodeMessage(nextMsg),
          msg.priority,
          Date.now() + delay,
        );
        this.counters.retried++;
        this.taskLog(
          () =>
            `Task ${msg.task}[${msg.id}] retry ${msg.retries + 1}/${policy.max} in ${delay} ms after ${runtime} ms: ${stored.type}: ${stored.message}`,
        );
        this.signals.emit(TaskSignal.Retry, () =>
          payload(TaskRetrySignal, {
            id: msg.id,
            task: msg.task,
            queue,
            reason: stored,
            countdown: delay,
            retries: msg.retries + 1,
          }),
        );
        return TaskState.RETRY;
      } else {
        const stored = errorToStored(cause);
        await this.releaseUnique(queue, msg);
        await this.failDownstream(msg, stored, msg.chain ?? [], msg.chord, msg.linkError ?? [], msg.id);
        await this.transport.fail(
          {
            queue,
            id: msg.id,
            record: this.record(msg, TaskState.FAILURE, { error: stored, runtime }),
            resultTtlMs: ttl,
          },
          item.raw,
        );
        this.counters.failed++;
        this.logger.warn(`Task ${msg.task}[${msg.id}] failed after ${runtime} ms: ${stored.type}: ${stored.message}`);
        this.signals.emit(TaskSignal.Failure, () =>
          payload(TaskFailureSignal, {
            id: msg.id,
            task: msg.task,
            queue,
            args: msg.args,
            error: stored,
            exception: cause,
            traceback: stored.stack,
          }),
        );
        return TaskState.FAILURE;
      }
    } finally {
      this.inFlight.delete(item.id);
      this.wakeLoop();
    }
  }

  /**
   * Publishes what follows a successful task: the next chain step, chord join,
   * links. Returns the tasks published. A continuation that cannot be published
   * (bad options, a message over the size limit) fails what it would have
   * started, with that error, and runs their error callbacks: the task itself
   * succeeded and is never run again because of it.
   */
  private async continueWorkflow(msg: TaskMessage, result: unknown): Promise<TaskRef[]> {
    if (!msg.chain?.length && !msg.chord && !msg.link?.length) return [];
    const cont = { parentId: msg.id, rootId: msg.rootId ?? msg.id };
    const children: TaskRef[] = [];
    if (msg.chain?.length) {
      const next = plan(msg.chain[0], [result], { ...cont, rest: msg.chain.slice(1), member: msg.chord });
      const published = await this.publishOrFail(msg, next, msg.chain, msg.chord);
      children.push(...published);
    } else if (msg.chord) {
      await this.transport.chordJoin(msg.chord.queue, msg.chord.id, msg.chord.index, JSON.stringify(result ?? null));
    }
    if (msg.link?.length) {
      const links: Plan = { chords: [], publishes: [] };
      for (const link of msg.link) plan(link, [result], { ...cont, rest: [] }, links);
      children.push(...(await this.publishOrFail(msg, links, msg.link, undefined)));
    }
    return children;
  }

  /**
   * Publishes `next` on behalf of `msg`. When it cannot be (a TaskQueueError:
   * nothing was written), the nodes it stands for fail with that error.
   */
  private async publishOrFail(
    msg: TaskMessage,
    next: Plan,
    nodes: CanvasJSON[],
    member: ChordMembership | undefined,
  ): Promise<TaskRef[]> {
    try {
      return await this.workflow.execute(next, this.inherited(msg));
    } catch (err) {
      if (!(err instanceof TaskQueueError)) throw err; // the broker is unreachable: the task is redelivered
      this.logger.error(`Could not publish what follows ${msg.task}[${msg.id}]; failing it: ${err.message}`);
      const entry = taskRefs(nodes[0])[0]?.id ?? msg.id;
      await this.failDownstream(msg, errorToStored(err), nodes, member, nodes.flatMap(errbacksOf), entry);
      return [];
    }
  }

  /** A unique task held its key while running (`while: 'running'`): it ended for good, so the key is free. */
  private async releaseUnique(queue: string, msg: TaskMessage): Promise<void> {
    if (msg.uniqueKey === undefined || msg.uniqueWhile !== 'running') return;
    try {
      await this.transport.releaseUnique(queue, msg.uniqueKey, msg.id);
    } catch (err) {
      // the key's ttl frees it in the end
      this.logger.warn(`Could not free the unique key of ${msg.task}[${msg.id}]: ${(err as Error).message}`);
    }
  }

  /** Headers every task published on behalf of `msg` inherits: its correlation id. */
  private inherited(msg: TaskMessage): Record<string, string> | undefined {
    const key = this.options.correlation.header;
    const cid = msg.headers?.[key];
    return typeof cid === 'string' ? { [key]: cid } : undefined;
  }

  /**
   * Something failed for good (a task, or a step that could not be published):
   * every task waiting on it fails with the same error, so no caller waits
   * forever: the tasks of `rest`, and through the chord it belongs to
   * (`member`) that chord's body and what follows it, with a ChordError that
   * names the failed task. `errbacks` run with (failedId, error), and the
   * chord body's own error callbacks with (body id, ChordError).
   */
  private async failDownstream(
    origin: TaskMessage,
    error: StoredError,
    rest: CanvasJSON[],
    member: ChordMembership | undefined,
    errbacks: CanvasJSON[],
    failedId: string,
  ): Promise<void> {
    const ttl = this.options.resultExpiresMs;
    const failure = (id: string, task: string | undefined, err: StoredError): ResultRecord => ({
      id,
      task,
      state: TaskState.FAILURE,
      at: Date.now(),
      worker: this.id,
      parentId: origin.id,
      rootId: origin.rootId ?? origin.id,
      error: err,
    });
    let body: TaskMessage | undefined;
    const chordError: StoredError = {
      type: 'ChordError',
      message: `Dependency ${failedId} raised ${error.type}: ${error.message}`,
    };
    if (member) {
      const raw = await this.transport.chordFail(member.queue, member.id, failure('', undefined, chordError), ttl);
      if (raw) body = this.decodeOwn(raw);
    }
    const records = rest.flatMap(taskRefs).map((ref) => ({
      queue: ref.queue,
      id: ref.id,
      record: failure(ref.id, ref.task, error),
      resultTtlMs: ttl,
    }));
    if (records.length) await this.transport.ack(records);
    if (errbacks.length) {
      const calls: Plan = { chords: [], publishes: [] };
      const cont = { rest: [], parentId: failedId, rootId: origin.rootId ?? origin.id };
      for (const eb of errbacks) plan(eb, [failedId, error], cont, calls);
      try {
        await this.workflow.execute(calls, this.inherited(origin));
      } catch (err) {
        if (!(err instanceof TaskQueueError)) throw err;
        this.logger.error(`Could not publish the error callbacks of ${failedId}: ${err.message}`);
      }
    }
    if (body) await this.failDownstream(body, chordError, body.chain ?? [], body.chord, body.linkError ?? [], body.id);
  }

  /** Decodes a message this library wrote (a chord body handed back by the broker). */
  private decodeOwn(raw: string): TaskMessage | undefined {
    try {
      return decodeMessage(raw, Number.MAX_SAFE_INTEGER);
    } catch (err) {
      this.logger.error(`Could not decode a failed chord's body: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Rate limit: a message without a slot reserves the task's next one; when it
   * is in the future, the message waits in the broker until then and runs
   * without reserving again. Returns the message to run (its slot header
   * removed), or undefined when it was put off.
   */
  private async admitRate(
    running: Running,
    msg: TaskMessage,
    rate: { limit: number; intervalMs: number },
  ): Promise<TaskMessage | undefined> {
    const { [RATE_SLOT_HEADER]: slot, ...headers } = msg.headers ?? {};
    if (slot !== undefined) return { ...msg, headers };
    const wait = await this.transport.reserveRateSlot(msg.task, rate.limit, rate.intervalMs);
    if (wait <= 0) return msg;
    const { queue, item } = running;
    const until = Date.now() + wait;
    try {
      await this.transport.retry(
        {
          queue,
          id: msg.id,
          record: this.record(msg, TaskState.RECEIVED, { meta: { rateLimitedUntil: until } }),
          resultTtlMs: this.options.resultExpiresMs,
        },
        encodeMessage({ ...msg, headers: { ...headers, [RATE_SLOT_HEADER]: until } }),
        msg.priority,
        until,
      );
      this.taskLog(() => `Task ${msg.task}[${msg.id}] rate limited: its slot is in ${wait} ms`);
    } finally {
      this.inFlight.delete(item.id);
      this.wakeLoop();
    }
    return undefined;
  }

  /** Parks an unusable message and, when it has an id, stores a FAILURE so no caller waits forever. */
  private async rejectMessage(
    running: Running,
    reason: string,
    id: string | undefined,
    error: Error,
    msg?: TaskMessage,
  ): Promise<void> {
    const { queue, item } = running;
    try {
      this.logger.warn(MESSAGES.rejected(id ?? null, reason));
      await this.transport.reject(queue, item.id, item.raw, reason);
      this.counters.rejected++;
      if (msg) await this.releaseUnique(queue, msg);
      if (msg && error instanceof UnknownTaskError) {
        this.signals.emit(TaskSignal.Unknown, () =>
          payload(TaskUnknownSignal, { id: msg.id, task: msg.task, queue, raw: item.raw }),
        );
      } else {
        this.signals.emit(TaskSignal.Rejected, () => payload(TaskRejectedSignal, { id, queue, reason, raw: item.raw }));
      }
      if (id && NAME_PATTERN.test(id)) {
        const record: ResultRecord = {
          id,
          task: msg?.task,
          state: TaskState.FAILURE,
          at: Date.now(),
          worker: this.id,
          error: errorToStored(error),
        };
        await this.transport.ack({ queue, id, record, resultTtlMs: this.options.resultExpiresMs });
      }
    } finally {
      this.inFlight.delete(item.id);
      this.wakeLoop();
    }
  }

  /**
   * Remote control (Celery's inspect and control). Reading: ping, active,
   * reserved, registered, stats, conf. Acting: revoke (ids or a task name
   * pattern, with terminate), rate_limit, time_limit, add_consumer,
   * cancel_consumer, pool_grow, pool_shrink, shutdown. A message with a
   * `destination` is for those workers only.
   */
  private async onControl(m: ControlMessage): Promise<ControlReply | undefined> {
    if (m.destination && !m.destination.includes(this.id)) return undefined;
    try {
      return { worker: this.id, ok: true, data: await this.control(m) };
    } catch (err) {
      return { worker: this.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private async control(m: ControlMessage): Promise<unknown> {
    const o = this.opts;
    if (!o) throw new Error('the worker is not running');
    const args = m.args ?? {};
    const taskArg = (): TaskDefinition => {
      const name = args.task;
      if (typeof name !== 'string') throw new Error('name the task');
      const def = this.registry.get(name);
      if (!def) throw new UnknownTaskError(name, `No @Task() of this name in worker ${this.id}.`);
      return def;
    };
    const count = (): number => {
      const n = args.n ?? 1;
      if (!Number.isInteger(n) || (n as number) < 1) throw new Error(`expected a positive integer, not ${String(n)}`);
      return n as number;
    };
    switch (m.command) {
      case 'ping':
        return { pong: true };
      case 'active':
        return [...this.inFlight.values()].map((r) => ({
          id: r.item.id,
          task: r.task,
          queue: r.queue,
          startedAt: r.startedAt,
        }));
      case 'reserved':
        return this.buffer.map(({ queue, item }) => ({
          id: item.id,
          task: /"task":"([^"\\]+)"/.exec(item.raw)?.[1],
          queue,
        }));
      case 'registered':
        return this.registry.names();
      case 'stats':
        return {
          ...this.stats(),
          hostname: hostname(),
          pid: process.pid,
          uptimeMs: Date.now() - this.startedAt,
          queues: o.queues,
          concurrency: o.concurrency,
          prefetch: o.prefetch,
          memory: { rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed },
        };
      case 'conf':
        return {
          worker: { ...o, beat: o.beat ? true : false },
          prefix: this.options.prefix,
          defaultQueue: this.options.defaultQueue,
          resultExpiresMs: this.options.resultExpiresMs,
          maxMessageBytes: this.options.maxMessageBytes,
          events: this.options.events,
          transport: this.options.transport,
        };
      case 'revoke':
        return { revoked: await this.revokeHeld(args) };
      case 'rate_limit': {
        const def = taskArg();
        const rate = args.rate;
        def.rateLimit =
          rate === null || rate === undefined ? undefined : parseRateLimit(rate as string | number, 'rateLimit(rate)');
        return { task: def.name, rateLimit: def.rateLimit ?? null };
      }
      case 'time_limit': {
        const def = taskArg();
        const changed = { ...this.timeLimits.get(def.name) };
        if (args.soft !== undefined)
          def.softTimeLimitMs = changed.softMs =
            args.soft === null ? undefined : toMs(args.soft as Duration, 'timeLimit(soft)');
        if (args.hard !== undefined)
          def.timeLimitMs = changed.hardMs =
            args.hard === null ? undefined : toMs(args.hard as Duration, 'timeLimit(hard)');
        this.timeLimits.set(def.name, changed);
        return { task: def.name, softTimeLimitMs: def.softTimeLimitMs ?? null, timeLimitMs: def.timeLimitMs ?? null };
      }
      case 'add_consumer':
      case 'cancel_consumer': {
        const queue = assertName('queue', args.queue);
        const has = o.queues.includes(queue);
        if (m.command === 'add_consumer' && !has) o.queues = [...o.queues, queue];
        if (m.command === 'cancel_consumer' && has) {
          if (o.queues.length === 1) throw new Error(`${queue} is the only queue this worker consumes`);
          o.queues = o.queues.filter((q) => q !== queue);
        }
        if (has !== (m.command === 'add_consumer')) await this.restartLoop();
        return { queues: o.queues };
      }
      case 'pool_grow':
        o.concurrency += count();
        this.wakeLoop();
        return { concurrency: o.concurrency };
      case 'pool_shrink':
        o.concurrency = Math.max(1, o.concurrency - count());
        return { concurrency: o.concurrency };
      case 'shutdown':
        // after the reply is sent: a worker process exits as on SIGTERM, an embedded worker stops
        setImmediate(() => {
          if (this.exitOnShutdown) process.kill(process.pid, 'SIGTERM');
          else void this.stop();
        });
        return { shutdown: true };
      default:
        throw new Error(`unknown command ${JSON.stringify((m as { command: unknown }).command)}`);
    }
  }

  /** Time limits changed by remote control, per task (a key present with undefined: removed). */
  private readonly timeLimits = new Map<string, { softMs?: number; hardMs?: number }>();

  /** Set by bootstrapWorker: a remote `shutdown` ends the process (as SIGTERM does), not only the worker. */
  exitOnShutdown = false;

  /** Revoked task name patterns, until when (a worker applies them to what it holds and receives). */
  private readonly revokedNames = new Map<string, { pattern: RegExp; until: number }>();

  private isRevokedName(task: string): boolean {
    if (this.revokedNames.size === 0) return false;
    const now = Date.now();
    for (const [key, r] of this.revokedNames) {
      if (r.until <= now) this.revokedNames.delete(key);
      else if (r.pattern.test(task)) return true;
    }
    return false;
  }

  /** Revokes what this worker holds: by id, or by task name pattern (glob: `email.*`). */
  private async revokeHeld(args: Record<string, unknown>): Promise<string[]> {
    const ids = new Set(Array.isArray(args.ids) ? (args.ids as string[]) : []);
    let byName: RegExp | undefined;
    if (typeof args.task === 'string') {
      byName = globPattern(args.task);
      const ttl = typeof args.ttlMs === 'number' ? args.ttlMs : this.options.resultExpiresMs;
      this.revokedNames.set(args.task, { pattern: byName, until: Date.now() + ttl });
    }
    const matches = (id: string, task: string | undefined) =>
      ids.has(id) || (byName !== undefined && task !== undefined && byName.test(task));
    const done: string[] = [];
    // prefetched, not started: never run
    for (let i = this.buffer.length - 1; i >= 0; i--) {
      const { queue, item } = this.buffer[i];
      if (!matches(item.id, /"task":"([^"\\]+)"/.exec(item.raw)?.[1])) continue;
      this.buffer.splice(i, 1);
      const record: ResultRecord = {
        id: item.id,
        state: TaskState.REVOKED,
        at: Date.now(),
        worker: this.id,
        error: { type: 'TaskRevokedError', message: 'revoked' },
      };
      await this.transport.ack({ queue, id: item.id, record, resultTtlMs: this.options.resultExpiresMs });
      done.push(item.id);
    }
    if (args.terminate === true) {
      for (const r of this.inFlight.values()) {
        if (!matches(r.item.id, r.task) || r.revoked) continue;
        r.revoked = true;
        const reason = new TaskRevokedError(r.item.id, 'terminated');
        r.controller.abort(reason);
        r.terminate?.(reason);
        done.push(r.item.id);
      }
    }
    return done;
  }

  /** Starts the fetch loop afresh (after the queues changed), keeping what runs and what is prefetched. */
  private async restartLoop(): Promise<void> {
    this.loopAbort?.abort();
    this.slotWaiter?.();
    await this.loopDone?.catch(() => undefined);
    if (this.stopping || !this.opts) return;
    this.loopAbort = new AbortController();
    this.loopDone = this.loop(this.loopAbort.signal);
  }

  /** How long a worker's heartbeat stays valid: three missed beats. */
  get heartbeatTtlMs(): number {
    return Math.max(150, Math.floor((this.opts?.leaseMs ?? 15_000) / 3)) * 3;
  }

  /** Tells the broker this worker is alive, with what it consumes and how it does (health, inspection). */
  private async heartbeat(): Promise<void> {
    const o = this.opts;
    if (!o) return;
    try {
      await this.transport.workerHeartbeat(
        {
          ...this.stats(),
          hostname: hostname(),
          pid: process.pid,
          queues: o.queues,
          concurrency: o.concurrency,
          startedAt: this.startedAt,
          at: Date.now(),
        },
        this.heartbeatTtlMs,
      );
      this.signals.emit(TaskSignal.WorkerHeartbeat, () => {
        const { running, succeeded, failed, retried } = this.stats();
        return payload(WorkerHeartbeatSignal, { ...this.workerPayload(), running, succeeded, failed, retried });
      });
    } catch (err) {
      this.logger.warn(`Could not write the worker heartbeat: ${String(err)}`);
    }
  }

  private async renewLeases(): Promise<void> {
    if (!this.opts) return;
    for (const [queue, ids] of idsByQueue([...this.inFlight.values(), ...this.buffer])) {
      try {
        const lost = await this.transport.renew(queue, ids, this.opts.leaseMs);
        for (const id of lost) {
          const r = this.inFlight.get(id);
          if (r) this.logger.warn(MESSAGES.leaseLost(queue, id));
        }
      } catch (err) {
        this.logger.warn(`Could not renew leases on ${queue}: ${String(err)}`);
      }
    }
  }
}
