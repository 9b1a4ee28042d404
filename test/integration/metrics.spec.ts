import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { TaskClient, TaskError, TaskQueueModule, TaskWorker, outboxMigration } from '../../src/index.js';
import { TaskQueueMetrics, TaskQueueMetricsModule } from '../../src/metrics/index.js';
import { MathService } from '../fixtures/math.service.js';
import { DATABASE_URL, testTable } from '../utils/postgres.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

/** One sample of the Prometheus text format: its value, by exact name and labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (want.every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('Prometheus metrics (TaskQueueMetricsModule) on Redis', () => {
  const prefix = testPrefix('metrics');
  const registry = new Registry();
  let app: INestApplication;
  let client: TaskClient;
  let base: string;
  const scrape = async () => (await fetch(`${base}/ops/metrics`)).text();

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TaskQueueModule.forRoot({ brokerUrl: REDIS_URL, prefix }),
        TaskQueueMetricsModule.forRoot({ registry, path: '/ops/metrics/', queues: ['default', 'metrics-idle'] }),
      ],
      providers: [MathService],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    client = app.get(TaskClient);
    await app.get(TaskWorker).start({ concurrency: 4 });
  });

  afterAll(async () => {
    await app.close();
    await cleanupPrefix(prefix);
  });

  it('counts outcomes, observes runtime and queue wait, and reads depth, workers and running tasks at scrape time', async () => {
    const m = client.for(MathService);
    expect(await (await m.add.delay(1, 2)).get({ timeout: 5000 })).toBe(3);
    expect(await (await m.add.applyAsync([2, 2], { countdown: 1500 })).get({ timeout: 5000 })).toBe(4);
    await expect((await m.fail.delay('no')).get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskError);
    expect(await (await m.flaky.delay(`metrics-${prefix}`, 2)).get({ timeout: 5000 })).toBe(3);
    await client.send('math.add', [1, 1], { queue: 'metrics-idle', countdown: '1h' });

    // the outcome counters follow the signals, which run as the results are stored
    let text = '';
    await until(
      async () =>
        sample((text = await scrape()), 'taskqueue_tasks_total', { task: 'math.flaky', outcome: 'succeeded' }) === 1,
      5000,
      'the counters',
    );
    expect(sample(text, 'taskqueue_tasks_total', { task: 'math.add', queue: 'default', outcome: 'succeeded' })).toBe(2);
    expect(sample(text, 'taskqueue_tasks_total', { task: 'math.fail', outcome: 'failed' })).toBe(1);
    expect(sample(text, 'taskqueue_tasks_total', { task: 'math.flaky', outcome: 'retried' })).toBe(2);
    expect(sample(text, 'taskqueue_task_runtime_seconds_count', { task: 'math.add', state: 'SUCCESS' })).toBe(2);
    expect(sample(text, 'taskqueue_task_runtime_seconds_count', { task: 'math.flaky', state: 'RETRY' })).toBe(2);
    // queue wait: first deliveries only; the countdown task waited from its due time, not from its publish
    expect(sample(text, 'taskqueue_task_queue_wait_seconds_count', { task: 'math.add' })).toBe(2);
    expect(sample(text, 'taskqueue_task_queue_wait_seconds_bucket', { task: 'math.add', le: '1' })).toBe(2);
    // read from the broker when scraped
    expect(sample(text, 'taskqueue_queue_depth', { queue: 'metrics-idle', state: 'delayed' })).toBe(1);
    expect(sample(text, 'taskqueue_queue_depth', { queue: 'default', state: 'dead' })).toBe(1);
    expect(sample(text, 'taskqueue_queue_depth', { queue: 'default', state: 'ready' })).toBe(0);
    expect(sample(text, 'taskqueue_workers_online')).toBe(1);
    expect(sample(text, 'taskqueue_tasks_running')).toBe(0);
    // no task ids among the labels
    expect(text).not.toMatch(/id="/);
  });

  it('registers on the registry it is given and is injectable', () => {
    expect(app.get(TaskQueueMetrics).registry).toBe(registry);
    expect(registry.getSingleMetric('taskqueue_tasks_total')).toBeDefined();
  });
});

describe('Prometheus metrics of the outbox', () => {
  const prefix = testPrefix('metrics-outbox');
  const table = testTable('metrics');
  const registry = new Registry();
  let pool: Pool;
  let app: INestApplication;

  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL, max: 4 });
    const moduleRef = await Test.createTestingModule({
      imports: [
        TaskQueueModule.forRoot({
          brokerUrl: REDIS_URL,
          prefix,
          outbox: { dataSource: pool, table, synchronize: true, relay: false },
        }),
        TaskQueueMetricsModule.forRoot({ registry }),
      ],
      providers: [MathService],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await pool.query(outboxMigration(table).down);
    await pool.end();
    await cleanupPrefix(prefix);
  });

  it('reports the outbox lag and the rows waiting, read at scrape time', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await app.get(TaskClient).send('math.add', [1, 2], { transaction: client });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await new Promise((r) => setTimeout(r, 50)); // the row is at least this old
    const text = await registry.metrics();
    expect(sample(text, 'taskqueue_outbox_pending')).toBe(1);
    expect(sample(text, 'taskqueue_outbox_lag_seconds')).toBeGreaterThan(0);
  });
});
