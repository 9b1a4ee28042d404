import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import type { ResolvedOutboxOptions, ResolvedTaskQueueOptions } from '../interfaces/index.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import type { Transport } from '../transport/transport.interface.js';
import { outboxMigration, outboxStatements } from './outbox.sql.js';
import { readOutboxPayload } from './outbox.payload.js';

/** What the relay needs of node-postgres (duck-typed: `pg` is never imported). */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
}
export interface PgClientLike {
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
  release(err?: Error | boolean): void;
  on(event: 'notification' | 'error', listener: (arg: any) => void): unknown;
  removeListener(event: 'notification' | 'error', listener: (arg: any) => void): unknown;
}

/** The node-postgres pool behind `outbox.dataSource`: a pg Pool, or a TypeORM DataSource's driver pool. */
export function poolOf(dataSource: unknown): PgPoolLike {
  const ds = dataSource as { connect?: unknown; driver?: { master?: { connect?: unknown } } };
  if (ds?.driver?.master && typeof ds.driver.master.connect === 'function') return ds.driver.master as PgPoolLike;
  if (typeof ds?.connect === 'function' && !('driver' in (ds as object))) return ds as PgPoolLike;
  throw new Error(
    'outbox.dataSource: expected an initialized TypeORM DataSource on PostgreSQL, or a node-postgres Pool',
  );
}

/** Outbox lag: age of the oldest row waiting (null when none waits) and how many wait (capped at 10000). */
export interface OutboxLag {
  lagMs: number | null;
  pending: number;
}

/**
 * Moves committed outbox rows to the broker: woken by LISTEN/NOTIFY (the
 * table's trigger notifies at commit), with a slow poll as a safety net. Each
 * batch is claimed with `FOR UPDATE SKIP LOCKED` (two relays never hold the
 * same row), published with publish-if-absent on each task id (a row published
 * again after a crash, before its delete committed, is skipped by the broker),
 * then deleted in the same database transaction. One runs in every process
 * whose module has `outbox` (unless `outbox.relay: false`).
 */
@Injectable()
export class OutboxRelay implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly outbox?: ResolvedOutboxOptions;
  private listener?: PgClientLike;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private readonly onNotify = () => this.kick();
  private readonly onListenerError = (err: Error) => this.listenerFailed(err);
  /** Rows published by this relay since it started. */
  published = 0;

  constructor(
    @Inject(TASK_QUEUE_OPTIONS) options: ResolvedTaskQueueOptions,
    @Inject(TASK_QUEUE_TRANSPORT) private readonly transport: Transport,
  ) {
    this.outbox = options.outbox;
  }

  private get config(): ResolvedOutboxOptions {
    if (!this.outbox) throw new Error('OutboxRelay: the module has no outbox option');
    return this.outbox;
  }

  async onModuleInit(): Promise<void> {
    if (this.outbox?.synchronize) await this.synchronize();
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.outbox && this.outbox.relay !== false) await this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Creates the outbox table and its trigger when they are missing. */
  async synchronize(): Promise<void> {
    const { table, dataSource } = this.config;
    const client = await poolOf(dataSource).connect();
    try {
      await client.query('BEGIN');
      await client.query(outboxStatements(table).lock);
      await client.query(outboxMigration(table).up);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Starts listening and relaying (idempotent). */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const relay = this.config.relay || { batchSize: 500, pollIntervalMs: 5000 };
    await this.listen();
    this.timer = setInterval(() => this.kick(), relay.pollIntervalMs);
    this.timer.unref();
    this.kick();
  }

  private async listen(): Promise<void> {
    const { table, dataSource } = this.config;
    try {
      const client = await poolOf(dataSource).connect();
      client.on('notification', this.onNotify);
      client.on('error', this.onListenerError);
      await client.query(`LISTEN "${outboxStatements(table).channel}"`);
      if (this.stopped) return this.dropListener(client);
      this.listener = client;
    } catch (err) {
      // the poll still relays; listening is tried again at the next poll
      this.logger.warn(`Outbox relay could not LISTEN (${(err as Error).message}); relaying by polling`);
    }
  }

  private dropListener(client: PgClientLike, err?: Error): void {
    client.removeListener('notification', this.onNotify);
    client.removeListener('error', this.onListenerError);
    client.release(err ?? true); // a LISTENing connection does not go back to the pool
  }

  private listenerFailed(err: Error): void {
    const client = this.listener;
    this.listener = undefined;
    if (client) this.dropListener(client, err);
    this.logger.warn(`Outbox relay lost its LISTEN connection (${err.message}); relaying by polling`);
  }

  /** Asks for a relay pass: one runs now, or again right after the one in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Relays batches until the outbox has no committed row left that no other relay holds. */
  private async drain(): Promise<void> {
    try {
      if (!this.listener && !this.stopped) await this.listen();
      const { batchSize } = this.config.relay || { batchSize: 500 };
      while (!this.stopped && (await this.relayBatch(batchSize)) === batchSize);
    } catch (err) {
      const missing = (err as { code?: string }).code === '42P01'; // undefined_table
      this.logger.error(
        `Outbox relay failed, retrying at the next poll: ${(err as Error).message}` +
          (missing
            ? ` (create the table: run outboxMigration('${this.config.table}').up, or set outbox.synchronize)`
            : ''),
      );
    }
  }

  /** Relays one batch of at most `batchSize` rows; returns how many rows it took. */
  async relayBatch(batchSize = 500): Promise<number> {
    const { table, dataSource, dedupeWindowMs } = this.config;
    const sql = outboxStatements(table);
    const client = await poolOf(dataSource).connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(sql.claim, [batchSize]);
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      const ids: string[] = [];
      const items = [];
      const chords = [];
      for (const row of rows) {
        ids.push(String(row.id));
        try {
          const payload = readOutboxPayload(row.payload);
          items.push(...payload.items);
          chords.push(...payload.chords);
        } catch (err) {
          // it can never be published; keeping it would block the rows behind it
          this.logger.error(`Outbox row ${row.id} dropped, unreadable (${(err as Error).message}): ${row.payload}`);
        }
      }
      const once = { onceTtlMs: dedupeWindowMs };
      // chord states first, so no header result can arrive before its chord exists
      await Promise.all(chords.map((c) => this.transport.chordCreate(c, once)));
      await this.transport.publish(items, once);
      await this.afterPublish(ids);
      await client.query(sql.remove, [ids]);
      await client.query('COMMIT');
      this.published += rows.length;
      return rows.length;
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Called between the publish and the delete of a batch (tests interrupt a relay here). @internal */
  protected async afterPublish(_rowIds: string[]): Promise<void> {}

  /** Age of the oldest row waiting, and how many wait. */
  async lag(): Promise<OutboxLag> {
    const { table, dataSource } = this.config;
    const client = await poolOf(dataSource).connect();
    try {
      const { rows } = await client.query(outboxStatements(table).lag);
      const lagMs = rows[0]?.lag_ms;
      return {
        lagMs: lagMs === null || lagMs === undefined ? null : Math.max(0, Math.round(Number(lagMs))),
        pending: Number(rows[0]?.pending ?? 0),
      };
    } finally {
      client.release();
    }
  }

  /** Whether this module has an outbox. */
  get enabled(): boolean {
    return this.outbox !== undefined;
  }

  /** Stops relaying; waits for the batch in progress. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    const client = this.listener;
    this.listener = undefined;
    if (client) {
      await client.query(`UNLISTEN *`).catch(() => undefined);
      this.dropListener(client);
    }
  }
}
