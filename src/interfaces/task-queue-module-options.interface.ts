import type { Redis, RedisOptions } from 'ioredis';
import type { Duration } from '../protocol/duration.js';
import type { WorkerOptions } from './worker-options.interface.js';

/** Options of TaskQueueModule.forRoot / forRootAsync. @publicApi */
export interface TaskQueueModuleOptions {
  /**
   * `redis://`, `rediss://` or `memory://[name]`.
   * @default process.env.TASKQUEUE_BROKER_URL, else 'redis://127.0.0.1:6379'
   */
  brokerUrl?: string;
  /**
   * Where results are kept. Results are written in the same atomic step as the
   * acknowledgement, so this must be the broker (the default).
   * @default process.env.TASKQUEUE_RESULT_BACKEND, else brokerUrl
   */
  resultBackend?: string;
  /** Extra ioredis options for the connections the module creates. */
  redis?: RedisOptions;
  /** An ioredis client to use instead of brokerUrl (the module does not close it). */
  client?: Redis;
  /** Prefix of every Redis key. @default 'taskqueue' */
  prefix?: string;
  /** Queue of tasks that name none. @default 'default' ('celery' with protocol 'celery') */
  defaultQueue?: string;
  /**
   * Wire format. `'celery'`: Celery protocol v2 on kombu's Redis layout, and
   * Celery's Redis result format, so Python Celery clients and workers share
   * the broker with this app (README, "Working with Python Celery"). Redis only.
   * @default 'taskqueue'
   */
  protocol?: 'taskqueue' | 'celery';
  /** How long results are kept. @default '1d' */
  resultExpires?: Duration;
  /** Largest encoded message accepted, in bytes, on publish and on receipt. @default 1048576 */
  maxMessageBytes?: number;
  /**
   * Correlation ids: taken from an HTTP header by TaskCorrelationMiddleware,
   * carried in a task header through every task and workflow that follows, and
   * printed by TaskLogger. @default { httpHeader: 'x-correlation-id', header: 'correlationId' }
   */
  correlation?: { httpHeader?: string; header?: string };
  /** Worker defaults; with `autostart: true` this process also consumes (API + worker in one). */
  worker?: WorkerOptions & { autostart?: boolean };
}

/** Options after defaults and validation. @publicApi */
export interface ResolvedTaskQueueOptions {
  brokerUrl: string;
  transport: 'redis' | 'memory';
  protocol: 'taskqueue' | 'celery';
  prefix: string;
  defaultQueue: string;
  resultExpiresMs: number;
  maxMessageBytes: number;
  redis?: RedisOptions;
  client?: Redis;
  worker: WorkerOptions & { autostart: boolean };
  correlation: { httpHeader: string; header: string };
}
