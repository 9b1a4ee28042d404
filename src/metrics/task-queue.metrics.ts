import { Inject, Injectable, Logger } from '@nestjs/common';
import { Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { LocalCounter, LocalHistogram } from './local-metrics.js';
import { TaskClient } from '../client/index.js';
import { TaskInspector } from '../control/index.js';
import { OutboxRelay } from '../outbox/outbox.relay.js';
import { OnTaskSignal } from '../signals/on-task-signal.decorator.js';
import { SignalEmitter } from '../signals/signal.emitter.js';
import { TaskSignal } from '../signals/task-signal.constants.js';
import type { TaskRejectedSignal, TaskRetrySignal, TaskRevokedSignal } from '../signals/task-signal.payloads.js';
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
  readonly tasks: LocalCounter<'task' | 'queue' | 'outcome'>;
  readonly runtime: LocalHistogram<'task' | 'queue' | 'state'>;
  readonly wait: LocalHistogram<'task' | 'queue'>;
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
    signals: SignalEmitter,
  ) {
    signals.onTaskEnd((msg, queue, state, runtimeMs) =>
      this.ended(msg.task, queue, state, runtimeMs, msg.retries, msg.eta ?? msg.created),
    );
    const registry = (this.registry = options.registry ?? defaultRegistry);
    const p = options.prefix ?? 'taskqueue_';
    const registers = [registry];
    // counted in this process per label set, exported when the registry is read (see local-metrics.ts)
    this.tasks = new LocalCounter(
      `${p}tasks_total`,
      'Tasks that ended a run, by task, queue and outcome (succeeded, failed, retried, revoked, rejected).',
      ['task', 'queue', 'outcome'],
      registry,
    );
    this.runtime = new LocalHistogram(
      `${p}task_runtime_seconds`,
      'How long tasks ran, by task, queue and final state.',
      ['task', 'queue', 'state'],
      registry,
      options.runtimeBuckets ?? DEFAULT_BUCKETS,
    );
    this.wait = new LocalHistogram(
      `${p}task_queue_wait_seconds`,
      'How long tasks waited in the queue: start minus publish time, or minus the due time of a countdown/ETA.',
      ['task', 'queue'],
      registry,
      options.waitBuckets ?? options.runtimeBuckets ?? DEFAULT_BUCKETS,
    );
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
      c = { wait: this.wait.bind({ task, queue }), runtime: new Map(), outcomes: new Map() };
      this.byTask.set(key, c);
    }
    return c;
  }

  private count(task: string, queue: string, outcome: TaskOutcome): void {
    const c = this.of(task, queue);
    let inc = c.outcomes.get(outcome);
    if (!inc) c.outcomes.set(outcome, (inc = this.tasks.bind({ task, queue, outcome })));
    inc();
  }

  /** A run ended (from the worker's task-end hook: no signal payload is built for it). */
  private ended(
    task: string,
    queue: string,
    state: string,
    runtimeMs: number,
    retries: number,
    enqueuedAt: number,
  ): void {
    const c = this.of(task, queue);
    let observe = c.runtime.get(state);
    if (!observe) c.runtime.set(state, (observe = this.runtime.bind({ task, queue, state })));
    observe(runtimeMs / 1000);
    // queue wait: start (now minus the run) minus enqueue or due time; first deliveries only,
    // since a retry's would count its earlier runs and backoff
    if (retries === 0) c.wait(Math.max(0, Date.now() - runtimeMs - enqueuedAt) / 1000);
    if (state === 'SUCCESS') this.count(task, queue, 'succeeded');
    else if (state === 'FAILURE') this.count(task, queue, 'failed');
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
