import type { TestingModule } from '@nestjs/testing';
import pg from 'pg';
import { OutboxRelay, TaskClient, outboxMigration, type ResolvedTaskQueueOptions } from '../../src/index.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import { RedisTransport } from '../../src/transport/redis/redis.transport.js';
import type { Transport } from '../../src/transport/transport.interface.js';
import { createTaskApp } from '../utils/app.js';
import { DATABASE_URL, testTable } from '../utils/postgres.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const ROWS = 10_000;

describe('outbox relays racing', () => {
  const prefix = testPrefix('outbox-race');
  const table = testTable('race_outbox');
  const pools: pg.Pool[] = [];
  const transports: RedisTransport[] = [];
  const relays: OutboxRelay[] = [];
  let app: TestingModule;
  let options: ResolvedTaskQueueOptions;

  const newPool = () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
    pools.push(pool);
    return pool;
  };
  /** A relay as another process would have it: its own database pool and Redis connection. */
  const newRelay = (relay = { batchSize: 100, pollIntervalMs: 50 }) => {
    const transport = new RedisTransport({ url: REDIS_URL, prefix });
    transports.push(transport);
    const r = new OutboxRelay({ ...options, outbox: { ...options.outbox!, dataSource: newPool(), relay } }, transport);
    relays.push(r);
    return r;
  };
  const rows = async () => (await pools[0].query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
  /** Commits one outbox row (one task). */
  const commitOne = async () => {
    const client = await pools[0].connect();
    try {
      await client.query('BEGIN');
      await app.get(TaskClient).send('race.task', [0], { transaction: client });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
  /** Backends LISTENing on the outbox channel. */
  const listeners = async () =>
    (
      await pools[0].query('SELECT pid FROM pg_stat_activity WHERE query = $1 AND datname = current_database()', [
        `LISTEN "${table}"`,
      ])
    ).rows.map((r) => r.pid as number);

  beforeAll(async () => {
    const pool = newPool();
    await pool.query(outboxMigration(table).up);
    app = await createTaskApp({ brokerUrl: REDIS_URL, prefix, outbox: { dataSource: pool, table, relay: false } }, []);
    options = app.get(TASK_QUEUE_OPTIONS);
  });

  afterEach(async () => {
    for (const r of relays.splice(0)) await r.stop();
  });

  afterAll(async () => {
    await app?.close();
    for (const t of transports) await t.close();
    await pools[0]?.query(outboxMigration(table).down);
    for (const p of pools) await p.end();
    await cleanupPrefix(prefix);
  });

  it('a committed row wakes the relay through NOTIFY (its poll is an hour away)', async () => {
    const relay = newRelay({ batchSize: 100, pollIntervalMs: 3_600_000 });
    await relay.start();
    await until(async () => (await listeners()).length === 1, 10_000, 'the relay to LISTEN');
    await commitOne();
    await until(async () => relay.published === 1, 10_000, 'the NOTIFY to wake the relay');
    expect(await rows()).toBe(0);
  });

  it('when its LISTEN connection is killed, the poll still relays, and the relay listens again', async () => {
    const relay = newRelay({ batchSize: 100, pollIntervalMs: 100 });
    await relay.start();
    await until(async () => (await listeners()).length === 1, 10_000, 'the relay to LISTEN');
    const [pid] = await listeners();
    await pools[0].query('SELECT pg_terminate_backend($1)', [pid]);
    await commitOne();
    await until(async () => relay.published === 1, 10_000, 'the poll to relay the row');
    await until(async () => (await listeners()).some((p) => p !== pid), 10_000, 'a new LISTEN connection');
    expect(await rows()).toBe(0);
  });

  it(`two relays over ${ROWS} committed rows publish each task exactly once`, async () => {
    const transport: Transport = app.get(TASK_QUEUE_TRANSPORT);
    await transport.purge('default');
    const tasks = app.get(TaskClient);
    const client = await pools[0].connect();
    const ids: string[] = [];
    try {
      await client.query('BEGIN');
      for (let i = 0; i < ROWS; i += 500) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(500, ROWS - i) }, (_, j) =>
            tasks.send('race.task', [i + j], { transaction: client }),
          ),
        );
        ids.push(...batch.map((r) => r.id));
      }
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const a = newRelay();
    const b = newRelay();
    const started = Date.now();
    await Promise.all([a.start(), b.start()]);
    await until(async () => a.published + b.published >= ROWS, 60_000, 'the relays to empty the outbox', 50);
    const elapsed = Date.now() - started;
    // each row was claimed by one relay only (FOR UPDATE SKIP LOCKED), and the broker holds each task once
    expect(a.published + b.published).toBe(ROWS);
    expect(await rows()).toBe(0);
    expect((await transport.counts('default')).ready).toBe(ROWS);
    const raw = await transports[0].redis.lrange(`${prefix}:{default}:ready:5`, 0, -1);
    const published = raw.map((r) => JSON.parse(r).id as string);
    expect(new Set(published).size).toBe(ROWS);
    expect(new Set(published)).toEqual(new Set(ids));
    if (process.env.TEST_LOGS)
      console.log(`relayed ${ROWS} rows in ${elapsed} ms (a: ${a.published}, b: ${b.published})`);
  }, 90_000);
});
