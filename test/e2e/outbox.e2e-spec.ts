import type { TestingModule } from '@nestjs/testing';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { OutboxRelay, TaskClient, outboxMigration, type Transport } from '../../src/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import { createTaskApp } from '../utils/app.js';
import { DATABASE_URL, testTable } from '../utils/postgres.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { REDIS_URL, cleanupPrefix, testPrefix } from '../utils/redis.js';

const MAIN = 'test/e2e/.build/test/e2e/fixtures/outbox-crash-main.js';

describe('transactional outbox: a process SIGKILLed at any step loses nothing and duplicates nothing', () => {
  const prefix = testPrefix('outbox-crash');
  const table = testTable('crash_outbox');
  const children: Child[] = [];
  let pool: pg.Pool;
  let app: TestingModule;
  let transport: Transport;
  let relay: OutboxRelay;

  const rows = async () => Number((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);
  const counts = () => transport.counts('default');
  /** Starts the fixture at `step`, waits for it to get there, and SIGKILLs it. */
  const killedAt = async (step: string, readyLine: string, taskId: string): Promise<string> => {
    const child = await spawnNode(
      MAIN,
      { TQ_STEP: step, TQ_TASK_ID: taskId, TQ_PREFIX: prefix, TQ_TABLE: table, REDIS_URL, DATABASE_URL },
      readyLine,
    );
    children.push(child);
    child.proc.kill('SIGKILL');
    await child.exited;
    return child.output();
  };

  beforeAll(async () => {
    await buildE2eFixtures();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
    await pool.query(outboxMigration(table).up);
    app = await createTaskApp({ brokerUrl: REDIS_URL, prefix, outbox: { dataSource: pool, table, relay: false } }, []);
    transport = app.get(TASK_QUEUE_TRANSPORT);
    relay = app.get(OutboxRelay);
  }, 180_000);

  afterEach(async () => {
    killAll(children);
    await Promise.all(children.splice(0).map((c) => c.exited));
    await transport.purge('default');
    await pool.query(`DELETE FROM ${table}`);
  });

  afterAll(async () => {
    await app?.close();
    await pool?.query(outboxMigration(table).down);
    await pool?.end();
    await cleanupPrefix(prefix);
  });

  it('killed before its transaction committed: nothing is written, nothing published', async () => {
    await killedAt('uncommitted', 'UNCOMMITTED', randomUUID());
    expect(await rows()).toBe(0);
    expect(await relay.relayBatch()).toBe(0);
    expect((await counts()).ready).toBe(0);
  });

  it('killed between the commit and the publish: a relay that comes back publishes the task once', async () => {
    const id = randomUUID();
    await killedAt('committed', 'COMMITTED', id);
    expect(await rows()).toBe(1);
    expect((await counts()).ready).toBe(0);
    expect(await relay.relayBatch()).toBe(1);
    expect(await rows()).toBe(0);
    expect((await counts()).ready).toBe(1);
    const reserved = await transport.reserve({
      queue: 'default',
      max: 10,
      startCount: 10,
      leaseMs: 5000,
      workerId: 'test',
      maxRedeliveries: 1,
      resultTtlMs: 60_000,
    });
    expect(reserved.items.map((i) => i.id)).toEqual([id]);
  });

  it('a relay killed between its publish and its delete: the next relay finds the row again and publishes nothing twice', async () => {
    const id = randomUUID();
    await killedAt('committed', 'COMMITTED', id);
    const out = await killedAt('published', 'PUBLISHED', randomUUID());
    expect(out).not.toContain('NOT STOPPED');
    expect((await counts()).ready).toBe(1); // the killed relay did publish
    expect(await rows()).toBe(1); // and its delete never committed
    expect(await relay.relayBatch()).toBe(1); // claimed again: its lock went with the killed connection
    expect(await rows()).toBe(0);
    expect((await counts()).ready).toBe(1); // the broker skipped the id it had already
    const ready = await (transport as unknown as { redis: import('ioredis').Redis }).redis.lrange(
      `${prefix}:{default}:ready:5`,
      0,
      -1,
    );
    expect(ready.map((raw) => JSON.parse(raw).id)).toEqual([id]);
  });
});
