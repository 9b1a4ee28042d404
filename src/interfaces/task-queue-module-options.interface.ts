import type { Redis, RedisOptions } from 'ioredis';
import type { Duration } from '../protocol/duration.js';
import type { WorkerOptions } from './worker-options.interface.js';
import type { InTransactionMode } from './task-options.interface.js';

/** The transactional outbox (PostgreSQL). @publicApi */
export interface OutboxOptions {
  /**
   * Where the relay reads the outbox and LISTENs: a TypeORM DataSource on
   * PostgreSQL, or a node-postgres Pool.
   */
  dataSource: unknown;
  /** The outbox table (`name` or `schema.name`); also the NOTIFY channel. @default 'taskqueue_outbox' */
  table?: string;
  /** Create the table and its trigger at bootstrap (otherwise run `outboxMigration()` yourself). @default false */
  synchronize?: boolean;
  /**
   * The relay of this process, which moves committed rows to the broker;
   * `false` runs none here. `pollInterval` is the safety net behind LISTEN/NOTIFY.
   * @default { batchSize: 500, pollInterval: '5s' }
   */
  relay?: boolean | { batchSize?: number; pollInterval?: Duration };
  /**
   * How long the broker remembers an id the relay published, so that a row
   * published again after a crash (before its delete committed) is skipped.
   * @default '1d'
   */
  dedupeWindow?: Duration;
}

/** Outbox options after defaults. @publicApi */
export interface ResolvedOutboxOptions {
  dataSource: unknown;
  table: string;
  synchronize: boolean;
  relay: false | { batchSize: number; pollIntervalMs: number };
  dedupeWindowMs: number;
}

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
  /** Queue of tasks that name none. @default 'default' */
  defaultQueue?: string;
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
  /**
   * Publishing inside a database transaction (found by `nestjs-taskqueue/transactional`,
   * or given per call): 'after-commit' holds it until the commit and drops it on
   * rollback; 'outbox' writes it to the outbox table in the transaction;
   * 'immediate' publishes at once. A per-call `inTransaction` overrides it.
   * @default 'outbox' when `outbox` is set, else 'after-commit'
   */
  inTransaction?: InTransactionMode;
  /** The transactional outbox: messages written in the transaction, moved to the broker by a relay. */
  outbox?: OutboxOptions;
}

/** Options after defaults and validation. @publicApi */
export interface ResolvedTaskQueueOptions {
  brokerUrl: string;
  transport: 'redis' | 'memory';
  prefix: string;
  defaultQueue: string;
  resultExpiresMs: number;
  maxMessageBytes: number;
  redis?: RedisOptions;
  client?: Redis;
  worker: WorkerOptions & { autostart: boolean };
  correlation: { httpHeader: string; header: string };
  inTransaction: InTransactionMode;
  outbox?: ResolvedOutboxOptions;
}
