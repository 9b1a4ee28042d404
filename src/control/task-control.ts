import { Inject, Injectable } from '@nestjs/common';
import { TaskQueueConfigError } from '../errors/index.js';
import { toMs, type Duration } from '../protocol/duration.js';
import { assertName } from '../protocol/validate.js';
import { TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import type { Transport } from '../transport/transport.interface.js';
import { broadcast, type ControlOptions, type WorkerReply } from './broadcast.js';

/**
 * Remote control of running workers (Celery's `control`): each call is
 * broadcast to the live workers (or those in `destination`) and resolves with
 * their replies, one per worker that answered within `timeout`. A worker that
 * cannot do what is asked (an unknown task, a bad argument) answers `ok: false`
 * with the reason. Settings changed this way last until the worker restarts.
 * @publicApi
 */
@Injectable()
export class TaskControl {
  constructor(@Inject(TASK_QUEUE_TRANSPORT) private readonly transport: Transport) {}

  /**
   * Revokes tasks on every worker: by id, or every task whose name matches a
   * pattern (`*` matches anything: `{ task: 'report.*' }`). Prefetched ones never
   * start; with `terminate`, running ones are aborted. Workers keep a name
   * pattern for `ttl` (default: the result lifetime) and apply it to what they
   * receive meanwhile. (To revoke tasks still waiting in the broker by id, use
   * `AsyncResult.revoke()`.)
   */
  revoke(
    target: string[] | { task: string },
    options: ControlOptions & { terminate?: boolean; ttl?: Duration } = {},
  ): Promise<Array<WorkerReply<{ revoked: string[] }>>> {
    const { terminate, ttl, ...control } = options;
    let args: Record<string, unknown>;
    if (Array.isArray(target)) {
      target.forEach((id, i) => assertName(`revoke(ids[${i}])`, id));
      args = { ids: target };
    } else if (target && typeof target.task === 'string' && /^[A-Za-z0-9._:\-*]{1,200}$/.test(target.task)) {
      args = { task: target.task };
    } else {
      throw new TaskQueueConfigError(
        'revoke(target)',
        target,
        "expected task ids, or { task: 'name' } (with * as a wildcard)",
      );
    }
    if (terminate) args.terminate = true;
    if (ttl !== undefined) args.ttlMs = toMs(ttl, 'revoke({ ttl })');
    return broadcast(this.transport, 'revoke', args, control, 'revoke');
  }

  /** Changes a task's rate limit on the workers (`'10/s'`, `'100/m'`, a number per second; null removes it). */
  rateLimit(
    task: string,
    rate: string | number | null,
    options: ControlOptions = {},
  ): Promise<Array<WorkerReply<{ task: string; rateLimit: { limit: number; intervalMs: number } | null }>>> {
    return broadcast(
      this.transport,
      'rate_limit',
      { task: assertName('rateLimit(task)', task), rate },
      options,
      'rateLimit',
    );
  }

  /** Changes a task's time limits on the workers (durations; null removes one, undefined leaves it). */
  timeLimit(
    task: string,
    limits: { soft?: Duration | null; hard?: Duration | null },
    options: ControlOptions = {},
  ): Promise<Array<WorkerReply<{ task: string; softTimeLimitMs: number | null; timeLimitMs: number | null }>>> {
    return broadcast(
      this.transport,
      'time_limit',
      { task: assertName('timeLimit(task)', task), soft: limits.soft, hard: limits.hard },
      options,
      'timeLimit',
    );
  }

  /** Workers start consuming `queue` too, without a restart. */
  addConsumer(queue: string, options: ControlOptions = {}): Promise<Array<WorkerReply<{ queues: string[] }>>> {
    return broadcast(
      this.transport,
      'add_consumer',
      { queue: assertName('addConsumer(queue)', queue) },
      options,
      'addConsumer',
    );
  }

  /** Workers stop consuming `queue` (what they hold of it still runs). */
  cancelConsumer(queue: string, options: ControlOptions = {}): Promise<Array<WorkerReply<{ queues: string[] }>>> {
    return broadcast(
      this.transport,
      'cancel_consumer',
      { queue: assertName('cancelConsumer(queue)', queue) },
      options,
      'cancelConsumer',
    );
  }

  /** Raises each worker's concurrency by `n`. */
  poolGrow(n = 1, options: ControlOptions = {}): Promise<Array<WorkerReply<{ concurrency: number }>>> {
    return broadcast(this.transport, 'pool_grow', { n }, options, 'poolGrow');
  }

  /** Lowers each worker's concurrency by `n` (to 1 at the least); running tasks finish. */
  poolShrink(n = 1, options: ControlOptions = {}): Promise<Array<WorkerReply<{ concurrency: number }>>> {
    return broadcast(this.transport, 'pool_shrink', { n }, options, 'poolShrink');
  }

  /**
   * Shuts workers down gracefully: a worker process started with
   * `bootstrapWorker` drains and exits as on SIGTERM; a worker embedded in an
   * application stops consuming.
   */
  shutdown(options: ControlOptions = {}): Promise<Array<WorkerReply<{ shutdown: true }>>> {
    return broadcast(this.transport, 'shutdown', undefined, options, 'shutdown');
  }
}
