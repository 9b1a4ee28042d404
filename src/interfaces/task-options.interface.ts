import type { Duration } from '../protocol/duration.js';

/** Retry policy of a task. @publicApi */
export interface RetryOptions {
  /** Retries after the first run. @default 3 */
  max?: number;
  /** @default 'exponential' */
  backoff?: 'fixed' | 'exponential';
  /** First (fixed: every) delay. @default '1s' */
  delay?: Duration;
  /** Cap of an exponential delay. @default '10m' */
  maxDelay?: Duration;
  /** Randomize each delay between 0 and its computed value (full jitter). @default true */
  jitter?: boolean;
}

/** An error class, for autoretryFor. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Options of @Task(). @publicApi */
export interface TaskOptions {
  /** Name the task is published under. @default '<ClassName>.<method>' */
  name?: string;
  /** Queue it is published to. @default the module's defaultQueue */
  queue?: string;
  /** 0 (lowest) to 9 (highest). @default 5 */
  priority?: number;
  /**
   * Retry policy. Without autoretryFor it applies to every error (except
   * UnrecoverableError); with autoretryFor only to those classes.
   */
  retry?: RetryOptions;
  /** Error classes that trigger an automatic retry. */
  autoretryFor?: ErrorClass[];
  /** Hard time limit: the task is failed with TimeLimitExceededError and its signal aborted. */
  timeLimit?: Duration;
  /** Soft time limit: the task's signal is aborted with SoftTimeLimitExceededError; it may clean up. */
  softTimeLimit?: Duration;
  /** A message not started within this time of publishing is revoked instead of run. */
  expires?: Duration;
  /** Store no result (a caller cannot wait for it). @default false */
  ignoreResult?: boolean;
  /**
   * Accept keyword arguments from Celery senders (protocol 'celery'): they
   * arrive as one trailing object argument. Without it, a message with keyword
   * arguments is rejected with an error naming them. @default false
   */
  kwargs?: boolean;
  /**
   * At most this many starts of the task per second, minute or hour across every
   * worker: `'10/s'`, `'100/m'`, `'1000/h'` (a number alone is per second).
   * Starts are spaced evenly (interval / limit apart). A task over the limit
   * gets the next free slot and waits in the broker until then; waiting is not
   * a retry.
   */
  rateLimit?: string | number;
  /**
   * Unique tasks: a publish whose `key(...args)` matches a task of this name
   * already in its queue is not enqueued again; the caller gets the handle of
   * the task already there. `while` says how long the key holds: until that
   * task starts ('queued'), until it ends for good ('running', the default),
   * or for `ttl` whatever happens ('ttl'). `ttl` bounds the key in every case
   * (a worker that dies mid-task leaves it until then). Applies to tasks
   * published on their own, not to workflow steps.
   */
  unique?: UniqueOptions;
}

/** @publicApi */
export interface UniqueOptions {
  key: (...args: any[]) => string;
  ttl: Duration;
  while?: UniqueWhile;
}

/** How long a unique task's key holds. @publicApi */
export type UniqueWhile = 'queued' | 'running' | 'ttl';

/** Resolved retry policy. @internal */
export interface ResolvedRetry {
  max: number;
  backoff: 'fixed' | 'exponential';
  delayMs: number;
  maxDelayMs: number;
  jitter: boolean;
}

/** Per-call options of applyAsync / send. @publicApi */
export interface PublishOptions {
  /** Start no sooner than this long from now. */
  countdown?: Duration;
  /** Start no sooner than this time. */
  eta?: Date | number;
  /** Do not start later than this: a duration from now, or a time. */
  expires?: Duration | Date;
  priority?: number;
  queue?: string;
  headers?: Record<string, string | number | boolean | null>;
  /** Use this id instead of a random UUID ([A-Za-z0-9._:-], at most 200 characters). */
  taskId?: string;
  timeLimit?: Duration;
  softTimeLimit?: Duration;
  /**
   * Inside a database transaction: hold the publish until it commits
   * ('after-commit'), write it to the outbox table in the transaction
   * ('outbox'), or publish now ('immediate'). Outside one, publishing is
   * immediate. @default the module's `inTransaction`
   */
  inTransaction?: InTransactionMode;
  /**
   * The transaction to write the outbox row in (a TypeORM EntityManager, a
   * node-postgres client inside BEGIN), when it is not found through
   * `nestjs-taskqueue/transactional`. Needs the module's `outbox` option.
   */
  transaction?: SqlClient;
  /**
   * Idempotency key: a publish with the same `key` in the same queue within
   * `ttl` is not enqueued again; it returns the handle of the first. Not for
   * workflow steps.
   */
  dedupe?: { key: string; ttl: Duration };
  /** @internal workflow links */
  parentId?: string;
  /** @internal workflow links */
  rootId?: string;
}

/** How a publish inside a database transaction is tied to it. @publicApi */
export type InTransactionMode = 'after-commit' | 'immediate' | 'outbox';

/** What the outbox needs of a SQL client: TypeORM's EntityManager and node-postgres clients have it. @publicApi */
export interface SqlClient {
  query(text: string, params?: unknown[]): Promise<unknown>;
}
