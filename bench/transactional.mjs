// node bench/transactional.mjs [--quick] [--out FILE]   (after `npm run build`)
//
// Publishing inside a database transaction, three ways, on the same Redis and
// PostgreSQL: each "sign-up" is one transaction that inserts a row and
// publishes one task; a worker in the same process runs the task, which looks
// the row up. Per mode: transactions per second (20 at a time), time from the
// end of the transaction call to the task's start, and how many tasks did not
// find their row (started before the commit).
//   immediate     publish inside the transaction, at once (the bug this is about)
//   after-commit  held until the commit (nestjs-taskqueue/transactional)
//   outbox        an outbox row in the transaction; the relay (LISTEN/NOTIFY) publishes it
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outFile = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = quick ? 500 : 3000;
const CONCURRENCY = 20;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PREFIX = `tqbench-tx-${RUN}`;
const USERS = `bench_users_${RUN}`;
const OUTBOX = `bench_outbox_${RUN}`;
const MODES = ['immediate', 'after-commit', 'outbox'];

const { Global, Injectable, Module } = await import('@nestjs/common');
const { NestFactory } = await import('@nestjs/core');
const { ClsModule } = await import('nestjs-cls');
const { ClsPluginTransactional, TransactionHost } = await import('@nestjs-cls/transactional');
const { TransactionalAdapterTypeOrm } = await import('@nestjs-cls/transactional-adapter-typeorm');
const { DataSource } = await import('typeorm');
const lib = await import(new URL('../dist/index.js', import.meta.url).href);
const { publishAfterCommit } = await import(new URL('../dist/transactional/index.js', import.meta.url).href);

const starts = new Map();
let missing = 0;

class BenchTasks {
  constructor(db) {
    this.db = db;
  }
  async welcome(id) {
    starts.set(id, performance.now());
    const rows = await this.db.query(`SELECT 1 FROM ${USERS} WHERE id = $1`, [id]);
    if (rows.length === 0) missing++;
  }
}
Injectable()(BenchTasks);
Reflect.defineMetadata('design:paramtypes', [DataSource], BenchTasks);
lib.Task('bench.welcome')(
  BenchTasks.prototype,
  'welcome',
  Object.getOwnPropertyDescriptor(BenchTasks.prototype, 'welcome'),
);

class DbModule {}
Global()(DbModule);
Module({
  providers: [
    {
      provide: DataSource,
      useFactory: () =>
        new DataSource({ type: 'postgres', url: DATABASE_URL, poolSize: CONCURRENCY + 10 }).initialize(),
    },
  ],
  exports: [DataSource],
})(DbModule);

class BenchModule {}
Module({
  imports: [
    DbModule,
    ClsModule.forRoot({
      global: true,
      plugins: [
        new ClsPluginTransactional({
          adapter: publishAfterCommit(new TransactionalAdapterTypeOrm({ dataSourceToken: DataSource })),
        }),
      ],
    }),
    lib.TaskQueueModule.forRootAsync({
      inject: [DataSource],
      useFactory: (dataSource) => ({
        brokerUrl: REDIS_URL,
        prefix: PREFIX,
        inTransaction: 'after-commit',
        outbox: { dataSource, table: OUTBOX, synchronize: true },
      }),
    }),
  ],
  providers: [BenchTasks],
})(BenchModule);

const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error', 'warn'] });
const db = app.get(DataSource);
await db.query(`CREATE TABLE ${USERS} (id text PRIMARY KEY)`);
const txHost = app.get(TransactionHost);
const tasks = app.get(lib.TaskClient);
await app.get(lib.TaskWorker).start({ concurrency: 50, logLevel: 'off' });

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function run(mode) {
  starts.clear();
  missing = 0;
  const ends = new Map();
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < N) {
      const id = `${mode}-${next++}`;
      await txHost.withTransaction(async () => {
        await txHost.tx.query(`INSERT INTO ${USERS} (id) VALUES ($1)`, [id]);
        await tasks.send('bench.welcome', [id], { inTransaction: mode });
      });
      ends.set(id, performance.now());
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const elapsed = performance.now() - t0;
  const deadline = Date.now() + 120_000;
  while (starts.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const lat = [...ends].map(([id, end]) => starts.get(id) - end).sort((a, b) => a - b);
  return {
    mode,
    txPerSec: Math.round((N / elapsed) * 1000),
    p50: pct(lat, 50),
    p95: pct(lat, 95),
    max: lat[lat.length - 1],
    missing,
    started: starts.size,
  };
}

const results = [];
try {
  await run('after-commit'); // warm-up (connections, scripts, JIT)
  await db.query(`TRUNCATE ${USERS}`);
  for (const mode of MODES) {
    process.stderr.write(`[bench] ${mode}...\n`);
    results.push(await run(mode));
  }
} finally {
  await app.close();
  await db.query(`DROP TABLE IF EXISTS ${USERS}`);
  await db.query(lib.outboxMigration(OUTBOX).down);
  await db.destroy();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [c, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
    cursor = c;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

const ms = (v) => (v === undefined ? '—' : `${v.toFixed(1)} ms`);
const lines = [
  `Publishing inside a transaction: ${N} transactions per mode (insert a row, publish one task), ${CONCURRENCY} at a time;`,
  `worker in the same process (concurrency 50). ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}.`,
  '',
  '| mode | transactions/s | task start − end of transaction: p50 | p95 | max | tasks that did not find their row |',
  '| --- | --: | --: | --: | --: | --: |',
  ...results.map(
    (r) => `| ${r.mode} | ${r.txPerSec} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.max)} | ${r.missing} of ${r.started} |`,
  ),
  '',
];
process.stdout.write(lines.join('\n'));
if (outFile) writeFileSync(outFile, lines.join('\n'));
