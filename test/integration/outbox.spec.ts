import { Global, Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource, type EntityManager } from 'typeorm';
import { randomUUID } from 'node:crypto';
import {
  AsyncResult,
  OutboxRelay,
  Task,
  TaskClient,
  TaskQueueConfigError,
  TaskQueueModule,
  TaskState,
  TaskWorker,
  chain,
  chord,
  outboxMigration,
  type Transport,
} from '../../src/index.js';
import { resolveModuleOptions } from '../../src/task-queue.options.js';
import { TaskQueueHealthIndicator, TaskQueueHealthModule } from '../../src/health/index.js';
import { TaskQueueTester, TaskQueueTestingModule } from '../../src/testing/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { DATABASE_URL, testTable } from '../utils/postgres.js';
import { BROKERS, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const USERS = testTable('users');
const OUTBOX = testTable('outbox');

@Global()
@Module({
  providers: [
    {
      provide: DataSource,
      useFactory: () => new DataSource({ type: 'postgres', url: DATABASE_URL, poolSize: 8 }).initialize(),
    },
  ],
  exports: [DataSource],
})
class DbModule {}

class Rollback extends Error {}

@Injectable()
class Accounts {
  constructor(private readonly db: DataSource) {}

  /** Does the user's row exist, as a worker sees it? */
  @Task('accounts.welcome')
  async welcome(id: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query(`SELECT 1 FROM ${USERS} WHERE id = $1`, [id]);
    return rows.length === 1;
  }

  @Task('accounts.sum')
  sum(values: number[]): number {
    return values.reduce((a, b) => a + b, 0);
  }

  @Task('accounts.echo')
  echo(value: number): number {
    return value;
  }
}

describe.each(BROKERS)(
  'transactional outbox (TypeORM EntityManager, node-postgres client) on %s',
  (kind, brokerUrl) => {
    const prefix = testPrefix(`outbox-${kind}`);
    let app: TestingModule;
    let tasks: TaskClient;
    let db: DataSource;
    let transport: Transport;

    const newId = () => randomUUID();
    const queued = async () => {
      const c = await transport.counts('default');
      return c.ready + c.delayed + c.reserved;
    };
    const outboxRows = async () => Number((await db.query(`SELECT count(*)::int AS n FROM ${OUTBOX}`))[0].n);
    const insert = (em: EntityManager, id: string) => em.query(`INSERT INTO ${USERS} (id) VALUES ($1)`, [id]);
    /** Runs `fn` in a transaction and rolls it back. */
    const rolledBack = async (fn: (em: EntityManager) => Promise<unknown>) =>
      expect(
        db.transaction(async (em) => {
          await fn(em);
          throw new Rollback();
        }),
      ).rejects.toThrow(Rollback);
    /** A task published now runs after anything published before it (one FIFO queue). */
    const drained = async () =>
      expect(await (await tasks.for(Accounts).echo.delay(-1)).get({ timeout: 10_000 })).toBe(-1);

    beforeAll(async () => {
      app = await Test.createTestingModule({
        imports: [
          DbModule,
          TaskQueueModule.forRootAsync({
            inject: [DataSource],
            useFactory: (ds: DataSource) => ({
              brokerUrl: brokerUrl(),
              prefix,
              outbox: { dataSource: ds, table: OUTBOX, synchronize: true, relay: { pollInterval: '1s' } },
            }),
          }),
          TaskQueueHealthModule,
        ],
        providers: [Accounts],
      }).compile();
      app.useLogger(process.env.TEST_LOGS ? console : false);
      db = app.get(DataSource);
      await db.query(`CREATE TABLE IF NOT EXISTS ${USERS} (id text PRIMARY KEY)`);
      await app.init();
      tasks = app.get(TaskClient);
      transport = app.get(TASK_QUEUE_TRANSPORT);
      await app.get(TaskWorker).start({ concurrency: 20, lease: '5s' });
    });

    afterAll(async () => {
      await app?.close();
      await db?.query(`DROP TABLE IF EXISTS ${USERS}`);
      await db?.query(outboxMigration(OUTBOX).down);
      await db?.destroy();
      if (kind === 'redis') await cleanupPrefix(prefix);
      await MemoryTransport.resetShared();
    });

    it('commit: the row is written in the transaction, nothing reaches the broker before the commit, then the task runs and sees the row', async () => {
      const id = newId();
      let inside = -1;
      let insideRows = -1;
      const result = await db.transaction(async (em) => {
        await insert(em, id);
        const r = await tasks.for(Accounts).welcome.applyAsync([id], { transaction: em });
        expect(r.id).toEqual(expect.any(String)); // usable at once
        expect(Number((await em.query(`SELECT count(*)::int AS n FROM ${OUTBOX}`))[0].n)).toBe(1);
        inside = await queued();
        insideRows = await outboxRows(); // another connection: not committed yet
        return r;
      });
      expect(inside).toBe(0);
      expect(insideRows).toBe(0);
      expect(await result.get({ timeout: 10_000 })).toBe(true);
    });

    it('a worker racing the commit never sees a missing row', async () => {
      const ids = Array.from({ length: 40 }, newId);
      const results = await Promise.all(
        ids.map((id) =>
          db.transaction(async (em) => {
            const r = await tasks.for(Accounts).welcome.applyAsync([id], { transaction: em });
            await insert(em, id); // the row is written after the publish call, still before the commit
            return r;
          }),
        ),
      );
      expect(await Promise.all(results.map((r) => r.get({ timeout: 15_000 })))).toEqual(ids.map(() => true));
    });

    it('rollback: the task is never published', async () => {
      let held: AsyncResult<boolean> | undefined;
      await rolledBack(async (em) => {
        const id = newId();
        await insert(em, id);
        held = await tasks.for(Accounts).welcome.applyAsync([id], { transaction: em });
      });
      await drained();
      expect(await held!.state()).toBe(TaskState.PENDING);
      expect(await queued()).toBe(0);
      expect(await outboxRows()).toBe(0);
    });

    it('a node-postgres client inside BEGIN works the same way', async () => {
      const pool = (db.driver as unknown as { master: import('pg').Pool }).master;
      const client = await pool.connect();
      const id = newId();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${USERS} (id) VALUES ($1)`, [id]);
        const r = await tasks.for(Accounts).welcome.applyAsync([id], { transaction: client });
        await client.query('COMMIT');
        expect(await r.get({ timeout: 10_000 })).toBe(true);
        await client.query('BEGIN');
        const gone = await tasks.for(Accounts).echo.applyAsync([4], { transaction: client });
        await client.query('ROLLBACK');
        await drained();
        expect(await gone.state()).toBe(TaskState.PENDING);
      } finally {
        client.release();
      }
    });

    it("per call: 'immediate' publishes before the commit (the worker does not see the row yet)", async () => {
      const id = newId();
      const seen = await db.transaction(async (em) => {
        await insert(em, id);
        const r = await tasks.for(Accounts).welcome.applyAsync([id], { transaction: em, inTransaction: 'immediate' });
        return r.get({ timeout: 10_000 });
      });
      expect(seen).toBe(false);
    });

    it('outside a transaction, publishing is immediate', async () => {
      expect(await (await tasks.for(Accounts).echo.delay(3)).get({ timeout: 10_000 })).toBe(3);
    });

    it('a chain and a chord go through the outbox: they run after the commit, and never after a rollback', async () => {
      const t = tasks.for(Accounts);
      const id = newId();
      const [c, ch] = await db.transaction(async (em) => {
        await insert(em, id);
        const c = await chain(t.welcome.si(id), t.echo.si(2)).applyAsync([], { transaction: em });
        const ch = await chord([t.echo.si(1), t.echo.si(2), t.echo.si(3)], t.sum.s()).applyAsync([], {
          transaction: em,
        });
        expect(await queued()).toBe(0);
        return [c, ch] as const;
      });
      expect(await c.get({ timeout: 10_000 })).toBe(2);
      expect(await c.parent!.get({ timeout: 10_000 })).toBe(true);
      expect(await ch.get({ timeout: 10_000 })).toBe(6);

      let rolled: AsyncResult<number> | undefined;
      await rolledBack(async (em) => {
        rolled = await chain(t.echo.si(9), t.echo.si(10)).applyAsync([], { transaction: em });
      });
      await drained();
      expect(await rolled!.state()).toBe(TaskState.PENDING);
    });

    it('countdown and ETA keep their due time through the outbox', async () => {
      const eta = Date.now() + 60_000;
      const [a, b] = await db.transaction(async (em) => [
        await tasks.for(Accounts).echo.applyAsync([1], { countdown: '60s', transaction: em }),
        await tasks.for(Accounts).echo.applyAsync([2], { eta, transaction: em }),
      ]);
      await until(async () => (await transport.counts('default')).delayed === 2, 10_000, 'two delayed tasks');
      expect(await a.state()).toBe(TaskState.PENDING);
      await a.revoke();
      await b.revoke();
    });

    it('sendMany writes one outbox row per transaction', async () => {
      const results = await db.transaction(async (em) => {
        const rs = await tasks.sendMany<number>([
          { name: 'accounts.echo', args: [5], options: { transaction: em } },
          { name: 'accounts.echo', args: [6], options: { transaction: em } },
        ]);
        expect(Number((await em.query(`SELECT count(*)::int AS n FROM ${OUTBOX}`))[0].n)).toBe(1);
        return rs;
      });
      expect(await Promise.all(results.map((r) => r.get({ timeout: 10_000 })))).toEqual([5, 6]);
    });

    it('reports the outbox lag (age of the oldest row waiting) and the health check on it', async () => {
      const relay = app.get(OutboxRelay);
      const health = app.get(TaskQueueHealthIndicator);
      await until(async () => (await relay.lag()).pending === 0, 10_000, 'an empty outbox');
      expect(await relay.lag()).toEqual({ lagMs: null, pending: 0 });
      expect(await health.outboxCheck('outbox')).toEqual({
        outbox: { status: 'up', lagMs: null, pending: 0, maxLagMs: 60_000 },
      });
      await relay.stop();
      try {
        await db.transaction((em) => tasks.for(Accounts).echo.applyAsync([1], { transaction: em }));
        // the row waits: its age grows past a small maxLag
        await until(async () => ((await relay.lag()).lagMs ?? 0) > 5, 10_000, 'a lag of a few ms');
        expect((await relay.lag()).pending).toBe(1);
        const down = await health.outboxCheck('outbox', { maxLag: 5 });
        expect(down.outbox).toMatchObject({ status: 'down', pending: 1, maxLagMs: 5 });
        expect(down.outbox.message).toMatch(/oldest outbox row has waited \d+ ms/);
      } finally {
        await relay.start();
      }
      await until(async () => (await relay.lag()).pending === 0, 10_000, 'the relay to catch up');
    });
  },
);

describe('transactional options', () => {
  const ds = {};

  it("defaults inTransaction to 'outbox' with an outbox, else 'after-commit'", () => {
    expect(resolveModuleOptions({ brokerUrl: 'memory://' }, {}).inTransaction).toBe('after-commit');
    const o = resolveModuleOptions({ brokerUrl: 'memory://', outbox: { dataSource: ds } }, {});
    expect(o.inTransaction).toBe('outbox');
    expect(o.outbox).toEqual({
      dataSource: ds,
      table: 'taskqueue_outbox',
      synchronize: false,
      relay: { batchSize: 500, pollIntervalMs: 5000 },
      dedupeWindowMs: 86_400_000,
    });
  });

  it('rejects bad values, naming the option', () => {
    const bad: Array<[object, string]> = [
      [{ inTransaction: 'later' }, 'inTransaction'],
      [{ inTransaction: 'outbox' }, 'inTransaction'],
      [{ outbox: { dataSource: null } }, 'outbox.dataSource'],
      [{ outbox: { dataSource: ds, table: 'Bad-Name' } }, 'outbox.table'],
      [{ outbox: { dataSource: ds, relay: { batchSize: 0 } } }, 'outbox.relay.batchSize'],
      [{ outbox: { dataSource: ds, dedupeWindow: 10 } }, 'outbox.dedupeWindow'],
    ];
    for (const [options, option] of bad) {
      expect(() => resolveModuleOptions({ brokerUrl: 'memory://', ...options }, {})).toThrow(TaskQueueConfigError);
      expect(() => resolveModuleOptions({ brokerUrl: 'memory://', ...options }, {})).toThrow(`"${option}"`);
    }
  });

  it('a transaction given per call needs the outbox option', async () => {
    const app = await Test.createTestingModule({
      imports: [TaskQueueModule.forRoot({ brokerUrl: `memory://opts-${randomUUID()}` })],
      providers: [Accounts, { provide: DataSource, useValue: {} }],
    }).compile();
    app.useLogger(false);
    await app.init();
    try {
      await expect(
        app.get(TaskClient).send('accounts.echo', [1], { transaction: { query: async () => [] } }),
      ).rejects.toThrow(TaskQueueConfigError);
    } finally {
      await app.close();
      await MemoryTransport.resetShared();
    }
  });
});

describe('transactional outbox with TaskQueueTestingModule', () => {
  const table = testTable('testing_outbox');
  let db: DataSource;

  beforeAll(async () => {
    db = await new DataSource({ type: 'postgres', url: DATABASE_URL, poolSize: 4 }).initialize();
  });

  afterAll(async () => {
    await db.query(outboxMigration(table).down);
    await db.destroy();
  });

  it('records what the relay publishes, each id once even when its row is relayed twice', async () => {
    const app = await Test.createTestingModule({
      imports: [
        TaskQueueTestingModule.forRoot({
          worker: false,
          outbox: { dataSource: db, table, synchronize: true, relay: false },
        }),
      ],
      providers: [{ provide: DataSource, useValue: db }, Accounts],
    }).compile();
    app.useLogger(false);
    await app.init();
    try {
      const tester = app.get(TaskQueueTester);
      const r = await db.transaction((em) =>
        app.get(TaskClient).for(Accounts).echo.applyAsync([1], { transaction: em }),
      );
      expect(tester.published(Accounts, 'echo')).toEqual([]);
      // the same row twice, as when a relay died between its publish and its delete
      await db.query(`INSERT INTO ${table} (payload) SELECT payload FROM ${table}`);
      expect(await app.get(OutboxRelay).relayBatch()).toBe(2);
      expect(tester.published(Accounts, 'echo').map((p) => p.id)).toEqual([r.id]);
      await expect(tester.drain()).resolves.toMatchObject({ succeeded: 1 });
      expect(await r.get({ timeout: 1000 })).toBe(1);
    } finally {
      await app.close();
      await MemoryTransport.resetShared();
    }
  });
});
