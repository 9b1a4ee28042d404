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
  const newRelay = () => {
    const transport = new RedisTransport({ url: REDIS_URL, prefix });
    transports.push(transport);
    const relay = new OutboxRelay(
      {
        ...options,
        outbox: { ...options.outbox!, dataSource: newPool(), relay: { batchSize: 100, pollIntervalMs: 50 } },
      },
      transport,
    );
    relays.push(relay);
    return relay;
  };

  beforeAll(async () => {
    const pool = newPool();
    await pool.query(outboxMigration(table).up);
    app = await createTaskApp({ brokerUrl: REDIS_URL, prefix, outbox: { dataSource: pool, table, relay: false } }, []);
    options = app.get(TASK_QUEUE_OPTIONS);
  });

  afterAll(async () => {
    for (const r of relays) await r.stop();
    await app?.close();
    for (const t of transports) await t.close();
    await pools[0]?.query(outboxMigration(table).down);
    for (const p of pools) await p.end();
    await cleanupPrefix(prefix);
  });

  it(`two relays over ${ROWS} committed rows publish each task exactly once`, async () => {
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
    expect((await pools[0].query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(0);
    const transport: Transport = app.get(TASK_QUEUE_TRANSPORT);
    expect((await transport.counts('default')).ready).toBe(ROWS);
    const raw = await transports[0].redis.lrange(`${prefix}:{default}:ready:5`, 0, -1);
    const published = raw.map((r) => JSON.parse(r).id as string);
    expect(new Set(published).size).toBe(ROWS);
    expect(new Set(published)).toEqual(new Set(ids));
    if (process.env.TEST_LOGS)
      console.log(`relayed ${ROWS} rows in ${elapsed} ms (a: ${a.published}, b: ${b.published})`);
  }, 90_000);
});
