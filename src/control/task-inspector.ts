import { Inject, Injectable } from '@nestjs/common';
import { TaskQueueConfigError } from '../errors/index.js';
import type { ResolvedTaskQueueOptions, TaskEvent } from '../interfaces/index.js';
import { randomUUID } from 'node:crypto';
import { toMs, type Duration } from '../protocol/duration.js';
import { assertName } from '../protocol/validate.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import type { ResultRecord } from '../protocol/result.js';
import type { ParkedEntry, QueueCounts, Transport, WorkerInfo } from '../transport/transport.interface.js';

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

  /** Asks every worker to answer; returns the ids of those that did within `timeout`. */
  async ping(timeout: Duration = '1s'): Promise<string[]> {
    const replies = await this.transport.control(
      { id: randomUUID(), command: 'ping', reply: true },
      toMs(timeout, 'ping(timeout)'),
    );
    return replies.filter((r) => r.ok).map((r) => r.worker);
  }

  /** The tasks each worker is running now (Celery's `inspect active`). */
  async active(
    timeout: Duration = '1s',
  ): Promise<Array<{ worker: string; tasks: Array<{ id: string; task?: string; queue: string; startedAt: number }> }>> {
    const replies = await this.transport.control(
      { id: randomUUID(), command: 'active', reply: true },
      toMs(timeout, 'active(timeout)'),
    );
    return replies
      .filter((r) => r.ok)
      .map((r) => ({
        worker: r.worker,
        tasks: r.data as Array<{ id: string; task?: string; queue: string; startedAt: number }>,
      }));
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
