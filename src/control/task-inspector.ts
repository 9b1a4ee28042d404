import { Inject, Injectable } from '@nestjs/common';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import { assertName } from '../protocol/validate.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
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
  ping(): Promise<number> {
    return this.transport.ping();
  }

  /** Deletes every message, result and parked entry of a queue. */
  purge(queue: string): Promise<void> {
    return this.transport.purge(assertName('queue', queue));
  }
}
