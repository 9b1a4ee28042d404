import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Observable, type Subscriber } from 'rxjs';
import { TaskInspector } from '../control/task-inspector.js';
import type { ResolvedTaskQueueOptions, TaskEvent } from '../interfaces/index.js';
import { TASK_QUEUE_OPTIONS } from '../task-queue.constants.js';
import { EVENT_STATE } from '../events/event-states.js';

/** One task as the event stream tells it (the dashboard's task list). @publicApi */
export interface DashboardTaskSummary {
  id: string;
  task?: string;
  queue?: string;
  worker?: string;
  /** The state of its last event: SENT, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED, REJECTED. */
  state: string;
  /** Epoch ms of its first and last events. */
  sentAt: number;
  at: number;
  argsrepr?: string;
  resultrepr?: string;
  exception?: string;
  retries?: number;
  runtime?: number;
}

/** Filters of the task list; every one optional. @internal */
export interface DashboardTaskFilter {
  state?: string;
  task?: string;
  queue?: string;
  worker?: string;
  /** Epoch ms: last event at or after / at or before. */
  from?: number;
  to?: number;
  /** Part of the id or of the arguments' text. */
  search?: string;
  limit?: number;
}

const PAGE = 1000;
/** Most events one request reads (the stream is capped near the `events` option's maxLength anyway). */
const MAX_SCAN = 100_000;

/**
 * What the dashboard builds from the event stream: the task list, a task's
 * timeline, throughput per minute, and the live feed. The feed is one blocking
 * reader per application process, started when the first page subscribes and
 * stopped when the last one leaves, whatever the number of viewers.
 * @internal
 */
@Injectable()
export class DashboardEvents implements OnModuleDestroy {
  private readonly logger = new Logger('TaskQueueDashboard');
  private readonly subscribers = new Set<Subscriber<TaskEvent>>();
  private reading?: Promise<void>;
  private stopped = false;
  /** This process's copy of the stream's window, and where it was read up to. */
  private readonly copy: TaskEvent[] = [];
  private copyCursor = '0';
  private catchingUp?: Promise<TaskEvent[]>;

  constructor(
    private readonly inspector: TaskInspector,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
  ) {}

  get enabled(): boolean {
    return this.options.events.enabled;
  }

  /**
   * Every event kept, oldest first. The process keeps a copy of the stream's
   * window (about the `events` option's maxLength) and reads only what came
   * since its last read, so a page refresh costs one short read, not the window.
   */
  all(): Promise<TaskEvent[]> {
    this.catchingUp ??= this.catchUp().finally(() => (this.catchingUp = undefined));
    return this.catchingUp;
  }

  private async catchUp(): Promise<TaskEvent[]> {
    const keep = this.options.events.maxLength + 100;
    for (let read = 0; read < MAX_SCAN;) {
      const page = await this.inspector.events({ from: this.copyCursor, count: PAGE });
      this.copy.push(...page.events);
      this.copyCursor = page.cursor;
      read += page.events.length;
      if (page.events.length < PAGE) break;
    }
    if (this.copy.length > keep) this.copy.splice(0, this.copy.length - keep);
    return this.copy.slice();
  }

  /** The task list: one summary per task id, newest activity first, filtered. */
  async tasks(filter: DashboardTaskFilter): Promise<DashboardTaskSummary[]> {
    const byId = new Map<string, DashboardTaskSummary>();
    for (const e of await this.all()) {
      if (!e.id || !EVENT_STATE[e.type]) continue;
      let t = byId.get(e.id);
      if (!t) byId.set(e.id, (t = { id: e.id, state: EVENT_STATE[e.type], sentAt: e.at, at: e.at }));
      fold(t, e);
    }
    const search = filter.search?.toLowerCase();
    const rows = [...byId.values()].filter(
      (t) =>
        (!filter.state || t.state === filter.state) &&
        (!filter.task || t.task === filter.task) &&
        (!filter.queue || t.queue === filter.queue) &&
        (!filter.worker || t.worker === filter.worker) &&
        (filter.from === undefined || t.at >= filter.from) &&
        (filter.to === undefined || t.at <= filter.to) &&
        (!search || t.id.toLowerCase().includes(search) || (t.argsrepr ?? '').toLowerCase().includes(search)),
    );
    rows.sort((a, b) => b.at - a.at);
    return rows.slice(0, filter.limit ?? 200);
  }

  /** A task's events, oldest first. */
  async timeline(id: string): Promise<TaskEvent[]> {
    return (await this.all()).filter((e) => e.id === id);
  }

  /**
   * Tasks that finished per minute and queue over the last `minutes`:
   * succeeded and failed counts (retried counts as neither).
   */
  async throughput(
    minutes: number,
    now = Date.now(),
  ): Promise<{ start: number; minutes: number; queues: Record<string, { succeeded: number[]; failed: number[] }> }> {
    const start = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
    const queues: Record<string, { succeeded: number[]; failed: number[] }> = {};
    for (const e of this.enabled ? await this.all() : []) {
      if ((e.type !== 'task-succeeded' && e.type !== 'task-failed') || e.at < start || !e.queue) continue;
      const q = (queues[e.queue] ??= { succeeded: Array(minutes).fill(0), failed: Array(minutes).fill(0) });
      const i = Math.min(minutes - 1, Math.floor((e.at - start) / 60_000));
      (e.type === 'task-succeeded' ? q.succeeded : q.failed)[i]++;
    }
    return { start, minutes, queues };
  }

  /** The live feed: every event from now on. */
  live(): Observable<TaskEvent> {
    return new Observable<TaskEvent>((subscriber) => {
      if (this.stopped) return subscriber.complete();
      this.subscribers.add(subscriber);
      this.ensureReading();
      return () => {
        this.subscribers.delete(subscriber);
      };
    });
  }

  private ensureReading(): void {
    if (this.reading || this.stopped || !this.enabled) return;
    this.reading = this.read().finally(() => {
      this.reading = undefined;
      if (this.subscribers.size && !this.stopped) this.ensureReading();
    });
  }

  private async read(): Promise<void> {
    let cursor = '$';
    let failures = 0;
    while (!this.stopped && this.subscribers.size > 0) {
      try {
        const page = await this.inspector.events({ from: cursor, count: 500, block: 1000 });
        cursor = page.cursor;
        failures = 0;
        for (const e of page.events) for (const s of [...this.subscribers]) s.next(e);
      } catch (err) {
        if (this.stopped) return;
        if (failures++ === 0) this.logger.warn(`Reading the event stream failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * failures)));
      }
    }
  }

  onModuleDestroy(): void {
    this.stopped = true;
    for (const s of [...this.subscribers]) s.complete();
    this.subscribers.clear();
  }
}

function fold(t: DashboardTaskSummary, e: TaskEvent): void {
  // The publisher writes 'task-sent' after publishing, so a fast worker's events
  // may come before it in the stream: it never takes a task back to SENT.
  const late = e.type === 'task-sent' && t.state !== 'SENT';
  if (!late) {
    t.at = Math.max(t.at, e.at);
    t.state = EVENT_STATE[e.type];
  }
  t.sentAt = Math.min(t.sentAt, e.at);
  if (e.task) t.task = e.task;
  if (e.queue) t.queue = e.queue;
  if (e.worker) t.worker = e.worker;
  if (typeof e.argsrepr === 'string') t.argsrepr = e.argsrepr;
  if (typeof e.resultrepr === 'string') t.resultrepr = e.resultrepr;
  if (typeof e.exception === 'string') t.exception = e.exception;
  if (typeof e.retries === 'number') t.retries = e.retries;
  if (typeof e.runtime === 'number') t.runtime = e.runtime;
}
