import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
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

/**
 * What a connection the library opens is for: `main` (commands and scripts),
 * `blocking` (a worker's standing wake-up BLPOP; on a Cluster one per queue it
 * consumes) and `subscriber` (pub/sub: results, remote control). @publicApi
 */
export type ConnectionRole = 'main' | 'blocking' | 'subscriber';

/**
 * Opens a new connection for a role. The library owns what it returns and closes
 * it at shutdown. `blocking` and `subscriber` connections should not limit
 * retries (`maxRetriesPerRequest: null`). @publicApi
 */
export type ConnectionFactory = (role: ConnectionRole) => Redis | Cluster;

/**
 * ioredis options merged into every connection the library opens: TLS material,
 * username and password, sentinelPassword and other Sentinel settings, and, with a
 * cluster URL, the Cluster settings named here (natMap, scaleReads, …), which go to
 * the Cluster while the rest goes to each of its nodes. @publicApi
 */
export type TaskQueueRedisOptions = RedisOptions &
  Partial<
    Pick<
      ClusterOptions,
      | 'natMap'
      | 'scaleReads'
      | 'maxRedirections'
      | 'retryDelayOnFailover'
      | 'retryDelayOnClusterDown'
      | 'retryDelayOnTryAgain'
      | 'retryDelayOnMoved'
      | 'slotsRefreshTimeout'
      | 'slotsRefreshInterval'
      | 'clusterRetryStrategy'
      | 'dnsLookup'
      | 'useSRVRecords'
      | 'resolveSrv'
    >
  >;

/** Options of TaskQueueModule.forRoot / forRootAsync. @publicApi */
export interface TaskQueueModuleOptions {
  /**
   * `redis://`, `rediss://`, `redis+cluster://[user:pass@]host:port[,host:port…]`
   * (seed nodes of a Redis Cluster), `rediss+cluster://…` (TLS),
   * `redis+sentinel://[user:pass@]host:port[,host:port…]/<masterName>[/db]`
   * (the sentinels of a master group; user and password are the master's),
   * `rediss+sentinel://…`, or `memory://[name]`.
   * @default process.env.TASKQUEUE_BROKER_URL, else 'redis://127.0.0.1:6379'
   */
  brokerUrl?: string;
  /**
   * Where results are kept. Results are written in the same atomic step as the
   * acknowledgement, so this must be the broker (the default).
   * @default process.env.TASKQUEUE_RESULT_BACKEND, else brokerUrl
   */
  resultBackend?: string;
  /** ioredis options merged into every connection the module opens. */
  redis?: TaskQueueRedisOptions;
  /**
   * An ioredis client (Redis or Cluster) to use instead of brokerUrl; the module
   * duplicates it for blocking and pub/sub connections, and does not close it.
   */
  client?: Redis | Cluster;
  /** Makes every connection instead of brokerUrl and `redis`: the escape hatch for any other setup. */
  connection?: ConnectionFactory;
  /**
   * Wait after each publish until `replicas` replicas have the messages (Redis
   * WAIT), for at most `timeout`; fewer acknowledgements reject the send with
   * NotReplicatedError. Replication is asynchronous otherwise: a master that dies
   * just after a publish may take its last messages with it. @default off
   */
  durability?: { replicas: number; timeout?: Duration };
  /**
   * Per-queue settings. `shards: n` spreads one logical queue over n broker
   * queues (n hash slots, so n Cluster nodes at most): producers pick a shard by
   * task id, workers consume every shard in turn, priorities hold within a shard,
   * counts and listings show the logical queue. Every process (producers,
   * workers, CLI) must use the same settings. @default {}
   */
  queues?: Record<string, { shards?: number }>;
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
  /**
   * Task and worker events (Celery's): written to a capped Redis stream that
   * `TaskInspector.events()`, `taskqueue events` and the dashboard read.
   * `true`, or `{ maxLength }` (events kept, about). Off costs nothing.
   * @default false; maxLength 10000
   */
  events?: boolean | { maxLength?: number };
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
  protocol: 'taskqueue' | 'celery';
  prefix: string;
  defaultQueue: string;
  resultExpiresMs: number;
  maxMessageBytes: number;
  redis?: TaskQueueRedisOptions;
  client?: Redis | Cluster;
  connection?: ConnectionFactory;
  durability?: { replicas: number; timeoutMs: number };
  /** Shards per queue that has more than one. */
  shards: Record<string, number>;
  worker: WorkerOptions & { autostart: boolean };
  correlation: { httpHeader: string; header: string };
  events: { enabled: boolean; maxLength: number };
  inTransaction: InTransactionMode;
  outbox?: ResolvedOutboxOptions;
}
