import { Inject, Injectable } from '@nestjs/common';
import { TaskQueueConfigError } from '../errors/index.js';
import type { ResolvedTaskQueueOptions, TaskEvent } from '../interfaces/index.js';
import { toMs, type Duration } from '../protocol/duration.js';
import { assertName } from '../protocol/validate.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import type { ResultRecord } from '../protocol/result.js';
import type { ParkedEntry, QueueCounts, Transport, WorkerInfo } from '../transport/transport.interface.js';
import { broadcast, type ControlOptions } from './broadcast.js';

/** A task a worker runs now. @publicApi */
export interface ActiveTask {
  id: string;
  task?: string;
  queue: string;
  startedAt: number;
}

/** What `inspect stats` answers for one worker. @publicApi */
export interface WorkerStatsReply {
  id: string;
  hostname: string;
  pid: number;
  uptimeMs: number;
  queues: string[];
  concurrency: number;
  prefetch: number;
  running: number;
  prefetched: number;
  succeeded: number;
  failed: number;
  retried: number;
  rejected: number;
  memory: { rss: number; heapUsed: number };
}

/**
 * Inspection for operators and dashboards: queue depths, dead-lettered and
 * rejected messages, live workers (Celery's `inspect`).
 * @publicApi
 */
@Injectable()
export class TaskInspector {
  constructor(
    @Inject(TASK_QUEUE_TRANSPORT) private readonly transport: Transport,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
  ) {}

  /** Queues that hold anything in the broker. */
  queues(): Promise<string[]> {
    return this.transport.listQueues();
  }

  /** Finds a task's record in any queue of the broker (one round trip after listing the queues). */
  async findTask(id: string): Promise<{ queue: string; record: ResultRecord } | null> {
    assertName('task id', id);
    return this.transport.findResult(await this.transport.listQueues(), id);
  }

  /** Messages ready, delayed and reserved, and the sizes of the dead-letter and rejected lists. */
  counts(queue: string = this.options.defaultQueue): Promise<QueueCounts> {
    return this.transport.counts(assertName('queue', queue));
  }

  /** Tasks that failed for good, newest first, each with its message and last error. */
  deadLetters(queue: string = this.options.defaultQueue, start = 0, count = 100): Promise<ParkedEntry[]> {
    return this.transport.listDead(assertName('queue', queue), start, count);
  }

  /** Messages a worker could not use (malformed, oversized, unknown task), newest first, each with the reason. */
  rejected(queue: string = this.options.defaultQueue, start = 0, count = 100): Promise<ParkedEntry[]> {
    return this.transport.listRejected(assertName('queue', queue), start, count);
  }

  /** Workers whose heartbeat is current: id, host, pid, queues, concurrency, counters. */
  workers(): Promise<WorkerInfo[]> {
    return this.transport.listWorkers();
  }

  /** Round-trip time to the broker, ms. */
  brokerLatency(): Promise<number> {
    return this.transport.ping();
  }

  /** Asks the workers to answer; returns the ids of those that did within the timeout. */
  async ping(options: ControlOptions | Duration = '1s'): Promise<string[]> {
    return (await broadcast(this.transport, 'ping', undefined, options)).filter((r) => r.ok).map((r) => r.worker);
  }

  /** The tasks each worker is running now (Celery's `inspect active`). */
  async active(options: ControlOptions | Duration = '1s'): Promise<Array<{ worker: string; tasks: ActiveTask[] }>> {
    return this.ask('active', options, (worker, tasks: ActiveTask[]) => ({ worker, tasks }));
  }

  /** The tasks each worker has prefetched and not started yet (Celery's `inspect reserved`). */
  async reserved(
    options: ControlOptions | Duration = '1s',
  ): Promise<Array<{ worker: string; tasks: Array<{ id: string; task?: string; queue: string }> }>> {
    return this.ask('reserved', options, (worker, tasks: Array<{ id: string; task?: string; queue: string }>) => ({
      worker,
      tasks,
    }));
  }

  /** The task names each worker runs (Celery's `inspect registered`). */
  async registered(options: ControlOptions | Duration = '1s'): Promise<Array<{ worker: string; tasks: string[] }>> {
    return this.ask('registered', options, (worker, tasks: string[]) => ({ worker, tasks }));
  }

  /** Per worker: uptime, counters, concurrency, prefetch, queues, memory, host and pid (Celery's `inspect stats`). */
  async stats(options: ControlOptions | Duration = '1s'): Promise<Array<{ worker: string; stats: WorkerStatsReply }>> {
    return this.ask('stats', options, (worker, stats: WorkerStatsReply) => ({ worker, stats }));
  }

  /** Each worker's settings: its worker options and the module's (no credentials) (Celery's `inspect conf`). */
  async conf(
    options: ControlOptions | Duration = '1s',
  ): Promise<Array<{ worker: string; conf: Record<string, unknown> }>> {
    return this.ask('conf', options, (worker, conf: Record<string, unknown>) => ({ worker, conf }));
  }

  /**
   * Tasks waiting in the broker for their due time (countdown, ETA, retry
   * backoff), soonest first (Celery's `inspect scheduled`; here they live in the
   * broker, not in a worker's memory).
   */
  async scheduled(
    queue: string = this.options.defaultQueue,
    start = 0,
    count = 100,
  ): Promise<Array<{ id: string; task?: string; queue: string; dueAt: number }>> {
    const entries = await this.transport.listScheduled(assertName('queue', queue), start, count);
    return entries.map((e) => ({ id: e.id, task: /"task":"([^"\\]+)"/.exec(e.raw)?.[1], queue, dueAt: e.dueAt }));
  }

  private async ask<T, R>(
    command: 'active' | 'reserved' | 'registered' | 'stats' | 'conf',
    options: ControlOptions | Duration,
    shape: (worker: string, data: T) => R,
  ): Promise<R[]> {
    const replies = await broadcast<T>(this.transport, command, undefined, options);
    return replies.filter((r) => r.ok).map((r) => shape(r.worker, r.data as T));
  }

  /**
   * Task and worker events (the module's `events` option must be on where they
   * happen), oldest first: those after `from` ('0', the default, for the oldest
   * kept; '$' for only those still to come; or the `cursor` of an event read
   * before), at most `count`. With `block`, waits up to that long when there are
   * none yet. Read on from the last event's cursor (or `from`, when none came).
   */
  async events(
    options: { from?: string; count?: number; block?: Duration } = {},
  ): Promise<{ events: TaskEvent[]; cursor: string }> {
    const from = options.from ?? '0';
    if (!/^(\$|0|\d+(-\d+)?)$/.test(from))
      throw new TaskQueueConfigError('events({ from })', from, "expected '0', '$' or the cursor of an event");
    const count = options.count ?? 100;
    if (!Number.isInteger(count) || count < 1)
      throw new TaskQueueConfigError('events({ count })', count, 'expected a positive integer');
    const blockMs = options.block === undefined ? undefined : toMs(options.block, 'events({ block })');
    const read = await this.transport.readEvents(from, count, blockMs);
    const events: TaskEvent[] = [];
    for (const s of read.events) {
      try {
        events.push({ ...(JSON.parse(s.json) as object), cursor: s.cursor } as TaskEvent);
      } catch {
        // not ours: an entry someone else wrote under the prefix; skip it
      }
    }
    return { events, cursor: read.cursor };
  }

  /** Deletes every message, result and parked entry of a queue. */
  purge(queue: string): Promise<void> {
    return this.transport.purge(assertName('queue', queue));
  }

  /**
   * Sends dead letters back to their queue (Celery-style "replay"): those with
   * the given ids, or every one with 'all', oldest first, atomically. Each runs
   * as a fresh delivery: its retry count starts again at 0 (the whole retry
   * budget), a past `expires` no longer applies, and its FAILURE record is
   * cleared (the state reads PENDING until it runs). Returns how many went back.
   */
  replayDead(queue: string, ids: string[] | 'all'): Promise<number> {
    return this.transport.parked('replay', assertName('queue', queue), 'dead', parkedIds(ids));
  }

  /** Deletes dead letters (by id, or 'all'); their results expire with their TTL. Returns how many. */
  deleteDead(queue: string, ids: string[] | 'all'): Promise<number> {
    return this.transport.parked('delete', assertName('queue', queue), 'dead', parkedIds(ids));
  }

  /** Sends rejected messages back to their queue, as `replayDead` does (once the task they name is deployed, say). */
  replayRejected(queue: string, ids: string[] | 'all'): Promise<number> {
    return this.transport.parked('replay', assertName('queue', queue), 'rejected', parkedIds(ids));
  }

  /** Deletes rejected messages (by id, or 'all'). Returns how many. */
  deleteRejected(queue: string, ids: string[] | 'all'): Promise<number> {
    return this.transport.parked('delete', assertName('queue', queue), 'rejected', parkedIds(ids));
  }
}

function parkedIds(ids: string[] | 'all'): string[] | 'all' {
  if (ids === 'all') return ids;
  if (!Array.isArray(ids)) throw new TaskQueueConfigError('ids', ids, "expected an array of task ids or 'all'");
  return ids.map((id) => assertName('task id', id));
}
