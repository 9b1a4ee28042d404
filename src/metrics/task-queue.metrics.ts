import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import { TaskClient } from '../client/index.js';
import { TaskInspector } from '../control/index.js';
import { OutboxRelay } from '../outbox/outbox.relay.js';
import { OnTaskSignal } from '../signals/on-task-signal.decorator.js';
import { TaskSignal } from '../signals/task-signal.constants.js';
import type {
  TaskPostrunSignal,
  TaskRejectedSignal,
  TaskRetrySignal,
  TaskRevokedSignal,
} from '../signals/task-signal.payloads.js';
import {
  DEFAULT_BUCKETS,
  TASK_QUEUE_METRICS_OPTIONS,
  type TaskQueueMetricsOptions,
} from './task-queue-metrics.options.js';

/** Outcomes counted by `<prefix>tasks_total`. */
export type TaskOutcome = 'succeeded' | 'failed' | 'retried' | 'revoked' | 'rejected';

/**
 * The task queue's Prometheus metrics, on prom-client. Counters and histograms
 * are fed by the task signals of this process (so a worker reports what it ran);
 * gauges are read from the broker when the registry is scraped, at a cost that
 * does not grow with the number of tasks (list lengths and set sizes per queue,
 * the workers' heartbeats). Labels are task, queue, outcome and state: never
 * a task id.
 * @publicApi
 */
@Injectable()
export class TaskQueueMetrics {
  private readonly logger = new Logger(TaskQueueMetrics.name);
  readonly registry: Registry;
  readonly tasks: Counter<'task' | 'queue' | 'outcome'>;
  readonly runtime: Histogram<'task' | 'queue' | 'state'>;
  readonly wait: Histogram<'task' | 'queue'>;
  readonly depth: Gauge<'queue' | 'state'>;
  readonly workers: Gauge;
  readonly running: Gauge;
  /** Only when the module has an outbox. */
  readonly outboxLag?: Gauge;
  readonly outboxPending?: Gauge;

  constructor(
    @Inject(TASK_QUEUE_METRICS_OPTIONS) options: TaskQueueMetricsOptions,
    private readonly inspector: TaskInspector,
    private readonly client: TaskClient,
    outbox: OutboxRelay,
  ) {
    const registry = (this.registry = options.registry ?? defaultRegistry);
    const p = options.prefix ?? 'taskqueue_';
    const registers = [registry];
    this.tasks = new Counter({
      name: `${p}tasks_total`,
      help: 'Tasks that ended a run, by task, queue and outcome (succeeded, failed, retried, revoked, rejected).',
      labelNames: ['task', 'queue', 'outcome'],
      registers,
    });
    this.runtime = new Histogram({
      name: `${p}task_runtime_seconds`,
      help: 'How long tasks ran, by task, queue and final state.',
      labelNames: ['task', 'queue', 'state'],
      buckets: options.runtimeBuckets ?? DEFAULT_BUCKETS,
      registers,
    });
    this.wait = new Histogram({
      name: `${p}task_queue_wait_seconds`,
      help: 'How long tasks waited in the queue: start minus publish time, or minus the due time of a countdown/ETA.',
      labelNames: ['task', 'queue'],
      buckets: options.waitBuckets ?? options.runtimeBuckets ?? DEFAULT_BUCKETS,
      registers,
    });
    const queues = () => options.queues ?? this.client.knownQueues();
    const onError = (what: string) => (err: unknown) =>
      this.logger.warn(`Could not read ${what} for the metrics: ${(err as Error).message}`);
    this.depth = new Gauge({
      name: `${p}queue_depth`,
      help: 'Messages per queue and state (ready, delayed, reserved, dead, rejected), read from the broker at scrape time.',
      labelNames: ['queue', 'state'],
      registers,
      collect: async () => {
        const all = await Promise.all(queues().map(async (q) => [q, await this.inspector.counts(q)] as const)).catch(
          onError('the queue depths'),
        );
        this.depth.reset();
        for (const [queue, counts] of all ?? [])
          for (const [state, n] of Object.entries(counts)) this.depth.set({ queue, state }, n);
      },
    });
    const workers = async () => this.inspector.workers().catch(onError('the workers'));
    this.workers = new Gauge({
      name: `${p}workers_online`,
      help: 'Workers whose heartbeat is current.',
      registers,
      collect: async () => {
        const list = await workers();
        if (list) this.workers.set(list.length);
      },
    });
    this.running = new Gauge({
      name: `${p}tasks_running`,
      help: 'Tasks running now, over every worker (from their heartbeats).',
      registers,
      collect: async () => {
        const list = await workers();
        if (list) this.running.set(list.reduce((n, w) => n + w.running, 0));
      },
    });
    if (outbox.enabled) {
      const lag = async () => outbox.lag().catch(onError('the outbox lag'));
      this.outboxLag = new Gauge({
        name: `${p}outbox_lag_seconds`,
        help: 'Age of the oldest outbox row not yet relayed to the broker (0 when none waits).',
        registers,
        collect: async () => {
          const l = await lag();
          if (l) this.outboxLag!.set((l.lagMs ?? 0) / 1000);
        },
      });
      this.outboxPending = new Gauge({
        name: `${p}outbox_pending`,
        help: 'Outbox rows not yet relayed to the broker (counted up to 10,000).',
        registers,
        collect: async () => {
          const l = await lag();
          if (l) this.outboxPending!.set(l.pending);
        },
      });
    }
  }

  /** Labelled children per task and queue, so the per-task path does not hash label objects. */
  private readonly byTask = new Map<
    string,
    { wait: ObserveFn; runtime: Map<string, ObserveFn>; outcomes: Map<TaskOutcome, () => void> }
  >();

  private of(task: string, queue: string) {
    const key = `${task}\u0000${queue}`;
    let c = this.byTask.get(key);
    if (!c) {
      const wait = this.wait.labels({ task, queue });
      c = { wait: (v) => wait.observe(v), runtime: new Map(), outcomes: new Map() };
      this.byTask.set(key, c);
    }
    return c;
  }

  private count(task: string, queue: string, outcome: TaskOutcome): void {
    const c = this.of(task, queue);
    let inc = c.outcomes.get(outcome);
    if (!inc) {
      const child = this.tasks.labels({ task, queue, outcome });
      c.outcomes.set(outcome, (inc = () => child.inc()));
    }
    inc();
  }

  @OnTaskSignal(TaskSignal.Postrun)
  protected onPostrun(e: TaskPostrunSignal): void {
    const c = this.of(e.task, e.queue);
    let observe = c.runtime.get(e.state);
    if (!observe) {
      const child = this.runtime.labels({ task: e.task, queue: e.queue, state: e.state });
      c.runtime.set(e.state, (observe = (v) => child.observe(v)));
    }
    observe(e.runtime / 1000);
    // queue wait: start (now minus the run) minus enqueue or due time; first deliveries only,
    // since a retry's would count its earlier runs and backoff
    if (e.retries === 0) c.wait(Math.max(0, Date.now() - e.runtime - e.enqueuedAt) / 1000);
    if (e.state === 'SUCCESS') this.count(e.task, e.queue, 'succeeded');
    else if (e.state === 'FAILURE') this.count(e.task, e.queue, 'failed');
  }

  @OnTaskSignal(TaskSignal.Retry)
  protected onRetry(e: TaskRetrySignal): void {
    this.count(e.task, e.queue, 'retried');
  }

  @OnTaskSignal(TaskSignal.Revoked)
  protected onRevoked(e: TaskRevokedSignal): void {
    this.count(e.task, e.queue, 'revoked');
  }

  @OnTaskSignal(TaskSignal.Rejected)
  protected onRejected(e: TaskRejectedSignal): void {
    this.count('', e.queue, 'rejected'); // a rejected message has no usable task name
  }
}

type ObserveFn = (value: number) => void;
