import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ResolvedTaskQueueOptions } from '../interfaces/task-queue-module-options.interface.js';
import type { TaskEvent, TaskEventType } from '../interfaces/task-event.interface.js';
import { SignalEmitter } from '../signals/signal.emitter.js';
import { TaskSignal, type TaskSignalName } from '../signals/task-signal.constants.js';
import type { TaskSignalPayloads } from '../signals/task-signal.payloads.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import type { Transport } from '../transport/transport.interface.js';

const REPR_CHARS = 200;

/** JSON of a value, cut to REPR_CHARS (Celery's argsrepr / resultrepr). */
export function repr(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value) ?? 'undefined';
  } catch {
    json = String(value);
  }
  return json.length > REPR_CHARS ? `${json.slice(0, REPR_CHARS - 1)}…` : json;
}

type EventFields = Omit<TaskEvent, 'cursor' | 'at'>;

/** How each signal becomes an event. */
const EVENTS: { [S in TaskSignalName]?: (p: TaskSignalPayloads[S]) => EventFields } = {
  [TaskSignal.AfterPublish]: (p) => ({
    type: 'task-sent',
    id: p.id,
    task: p.task,
    queue: p.queue,
    argsrepr: repr(p.args),
  }),
  [TaskSignal.Received]: (p) => ({
    type: 'task-received',
    id: p.id,
    task: p.task,
    queue: p.queue,
    worker: p.worker,
    argsrepr: repr(p.args),
    retries: p.retries,
    enqueuedAt: p.enqueuedAt,
    parentId: p.parentId,
    rootId: p.rootId,
  }),
  [TaskSignal.Prerun]: (p) => ({ type: 'task-started', id: p.id, task: p.task, queue: p.queue, worker: p.worker }),
  [TaskSignal.Success]: (p) => ({
    type: 'task-succeeded',
    id: p.id,
    task: p.task,
    queue: p.queue,
    runtime: p.runtime,
    resultrepr: repr(p.result),
  }),
  [TaskSignal.Failure]: (p) => ({
    type: 'task-failed',
    id: p.id,
    task: p.task,
    queue: p.queue,
    exception: `${p.error.type}: ${p.error.message}`,
  }),
  [TaskSignal.Retry]: (p) => ({
    type: 'task-retried',
    id: p.id,
    task: p.task,
    queue: p.queue,
    exception: `${p.reason.type}: ${p.reason.message}`,
    countdown: p.countdown,
    retries: p.retries,
  }),
  [TaskSignal.Revoked]: (p) => ({
    type: 'task-revoked',
    id: p.id,
    task: p.task,
    queue: p.queue,
    terminated: p.terminated,
    expired: p.expired,
    reason: p.reason,
  }),
  [TaskSignal.Rejected]: (p) => ({ type: 'task-rejected', id: p.id, queue: p.queue, reason: p.reason }),
  [TaskSignal.WorkerReady]: (p) => ({
    type: 'worker-online',
    worker: p.worker,
    queues: p.queues,
    concurrency: p.concurrency,
  }),
  [TaskSignal.WorkerHeartbeat]: (p) => ({
    type: 'worker-heartbeat',
    worker: p.worker,
    queues: p.queues,
    concurrency: p.concurrency,
    running: p.running,
    succeeded: p.succeeded,
    failed: p.failed,
  }),
  [TaskSignal.WorkerShutdown]: (p) => ({ type: 'worker-offline', worker: p.worker, queues: p.queues }),
};

/**
 * Writes Celery's task and worker events to the capped event stream, when the
 * module's `events` option is on. It listens to this process's signals and
 * writes what a tick produced in one round trip. With events off it subscribes
 * to nothing, so nothing is built or written.
 * @internal
 */
@Injectable()
export class TaskEventsWriter implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('TaskEvents');
  private pending: string[] = [];
  private flushing?: Promise<void>;
  private unsubscribe: Array<() => void> = [];
  private lastWarning = 0;

  constructor(
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
    @Inject(TASK_QUEUE_TRANSPORT) private readonly transport: Transport,
    private readonly signals: SignalEmitter,
  ) {}

  onModuleInit(): void {
    if (!this.options.events.enabled) return;
    for (const [signal, toEvent] of Object.entries(EVENTS) as Array<[TaskSignalName, (p: unknown) => EventFields]>) {
      this.unsubscribe.push(this.signals.subscribe(signal, (p) => this.add(toEvent(p)), 'task events'));
    }
  }

  private add(fields: EventFields): void {
    // `at` after the type; fields left undefined are dropped by JSON.stringify
    this.pending.push(JSON.stringify({ type: fields.type, at: Date.now(), ...fields }));
    if (this.pending.length === 1) setImmediate(() => void this.flush());
  }

  /** Writes what is pending, one round trip; resolves when written (or given up on). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.pending.length ? this.flush() : undefined));
    const batch = this.pending;
    if (batch.length === 0) return Promise.resolve();
    this.pending = [];
    this.flushing = this.transport
      .appendEvents(batch, this.options.events.maxLength)
      .catch((err: unknown) => {
        // events are best effort: never let them hold up or break a task
        if (Date.now() - this.lastWarning > 10_000) {
          this.lastWarning = Date.now();
          this.logger.warn(`Could not write ${batch.length} events: ${(err as Error).message}`);
        }
      })
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async onApplicationShutdown(): Promise<void> {
    // the last events (worker-offline) are written before the transport closes
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    await this.flush();
  }
}
