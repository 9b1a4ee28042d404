/**
 * TaskQueueHealthIndicator against a real Redis and the memory broker: each
 * check up, and down with the reason. Also: the root barrel never loads the
 * health (or testing) subpath, so apps without Terminus do not need it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  BeatScheduler,
  TaskClient,
  TaskQueueModule,
  TaskWorker,
  type TaskQueueModuleOptions,
  type Transport,
} from '../../src/index.js';
import { TaskQueueHealthIndicator, TaskQueueHealthModule } from '../../src/health/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import type { RedisTransport } from '../../src/transport/redis/redis.transport.js';
import { MathService } from '../fixtures/math.service.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function createHealthApp(options: TaskQueueModuleOptions): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [TaskQueueModule.forRoot(options), TaskQueueHealthModule],
    providers: [MathService],
  }).compile();
  moduleRef.useLogger(process.env.TEST_LOGS ? console : false);
  await moduleRef.init();
  return moduleRef;
}

const brokers = [
  ['redis', () => REDIS_URL],
  ['memory', () => `memory://health-${Math.random().toString(36).slice(2)}`],
] as const;

describe.each(brokers)('TaskQueueHealthIndicator on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`health-${kind}`);
  let app: TestingModule;
  let health: TaskQueueHealthIndicator;
  let worker: TaskWorker;

  beforeAll(async () => {
    app = await createHealthApp({ brokerUrl: brokerUrl(), prefix });
    health = app.get(TaskQueueHealthIndicator);
    worker = app.get(TaskWorker);
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
  });

  it('pingCheck: up with the latency', async () => {
    const res = await health.pingCheck('broker');
    expect(res).toEqual({ broker: { status: 'up', latencyMs: expect.any(Number) } });
    expect(res.broker.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('workerCheck: down with the reason while no worker runs', async () => {
    await expect(health.workerCheck('workers', { maxHeartbeatAge: '10s' })).resolves.toEqual({
      workers: {
        status: 'down',
        message: 'no worker has sent a heartbeat in the last 10000 ms (0 of 1 required)',
        workers: 0,
        required: 1,
        maxHeartbeatAgeMs: 10000,
      },
    });
  });

  it('isHealthy: down (broker up, no workers) with the latency and the reason', async () => {
    const res = await health.isHealthy('taskqueue');
    expect(res.taskqueue).toMatchObject({ status: 'down', latencyMs: expect.any(Number), workers: 0 });
    expect(res.taskqueue.message).toContain('no worker has sent a heartbeat in the last 30000 ms');
    // minWorkers: 0 checks the broker alone
    await expect(health.isHealthy('taskqueue', { minWorkers: 0 })).resolves.toMatchObject({
      taskqueue: { status: 'up', workers: 0, required: 0 },
    });
  });

  describe('with a worker consuming "default" and "email"', () => {
    beforeAll(async () => {
      await worker.start({ queues: ['default', 'email'], lease: '15s' });
      await until(async () => (await health.workerCheck('w')).w.status === 'up', 10_000, 'the first worker heartbeat');
    });

    afterAll(async () => {
      await worker.stop();
    });

    it('workerCheck: up with the live count', async () => {
      await expect(health.workerCheck('workers', { maxHeartbeatAge: 10_000 })).resolves.toEqual({
        workers: { status: 'up', workers: 1, required: 1, maxHeartbeatAgeMs: 10000 },
      });
      await expect(health.isHealthy('taskqueue')).resolves.toMatchObject({
        taskqueue: { status: 'up', workers: 1, latencyMs: expect.any(Number) },
      });
    });

    it('workerCheck: counts only workers of the given queue', async () => {
      await expect(health.workerCheck('email', { queue: 'email' })).resolves.toMatchObject({
        email: { status: 'up', workers: 1, queue: 'email' },
      });
      const res = await health.workerCheck('reports', { queue: 'reports', maxHeartbeatAge: '5s' });
      expect(res.reports).toMatchObject({
        status: 'down',
        queue: 'reports',
        message: 'no worker has sent a heartbeat in the last 5000 ms while consuming queue "reports" (0 of 1 required)',
      });
    });

    it('workerCheck: down when fewer than minWorkers', async () => {
      const res = await health.workerCheck('workers', { minWorkers: 2, maxHeartbeatAge: '10s' });
      expect(res.workers).toMatchObject({ status: 'down', workers: 1, required: 2 });
      expect(res.workers.message).toBe('only 1 worker(s) have sent a heartbeat in the last 10000 ms (1 of 2 required)');
    });

    it('workerCheck: down once the newest heartbeat is older than maxHeartbeatAge', async () => {
      // Heartbeats come every 5 s (a third of the lease); 1 ms is soon exceeded.
      await until(
        async () => (await health.workerCheck('w', { maxHeartbeatAge: 1 })).w.status === 'down',
        10_000,
        'a heartbeat older than 1 ms',
      );
      const res = await health.workerCheck('w', { maxHeartbeatAge: 1 });
      expect(res.w.message).toContain('no worker has sent a heartbeat in the last 1 ms');
    });

    it('through Terminus HealthCheckService: 200-style ok', async () => {
      const result = await app
        .get(HealthCheckService)
        .check([() => health.pingCheck('broker'), () => health.workerCheck('workers')]);
      expect(result).toMatchObject({
        status: 'ok',
        info: { broker: { status: 'up' }, workers: { status: 'up', workers: 1 } },
      });
    });
  });

  it('workerCheck: down again after the worker stopped (its heartbeat is removed)', async () => {
    await expect(health.workerCheck('workers')).resolves.toMatchObject({ workers: { status: 'down', workers: 0 } });
  });

  it('through Terminus HealthCheckService: 503 with the reason when down', async () => {
    const err = await app
      .get(HealthCheckService)
      .check([() => health.pingCheck('broker'), () => health.workerCheck('workers', { maxHeartbeatAge: '10s' })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableException);
    expect((err as ServiceUnavailableException).getResponse()).toMatchObject({
      status: 'error',
      info: { broker: { status: 'up' } },
      error: {
        workers: { status: 'down', message: 'no worker has sent a heartbeat in the last 10000 ms (0 of 1 required)' },
      },
    });
  });

  it('beatCheck: down without a beat, up while one leads, down when its heartbeat is stale or it stopped', async () => {
    await expect(health.beatCheck('beat')).resolves.toEqual({
      beat: {
        status: 'down',
        message: 'no beat is running: no leader heartbeat in the broker',
        maxHeartbeatAgeMs: 30000,
      },
    });
    const beat = app.get(BeatScheduler);
    await beat.start({ lease: '3s', id: `beat-${kind}` });
    try {
      await until(async () => (await health.beatCheck('beat')).beat.status === 'up', 10_000, 'the beat heartbeat');
      await expect(health.beatCheck('beat')).resolves.toMatchObject({
        beat: { status: 'up', leader: `beat-${kind}`, heartbeatAgeMs: expect.any(Number) },
      });
      await until(
        async () => (await health.beatCheck('beat', { maxHeartbeatAge: 1 })).beat.status === 'down',
        10_000,
        'a beat heartbeat older than 1 ms',
      );
      const stale = await health.beatCheck('beat', { maxHeartbeatAge: 1 });
      expect(stale.beat.message).toMatch(
        new RegExp(`^the beat leader beat-${kind} last sent a heartbeat \\d+ ms ago \\(more than 1 ms\\)$`),
      );
    } finally {
      await beat.stop();
    }
    await expect(health.beatCheck('beat')).resolves.toMatchObject({
      beat: { status: 'down', message: 'no beat is running: no leader heartbeat in the broker' },
    });
  });

  it('backlogCheck: up under the threshold, down over it with the count', async () => {
    const client = app.get(TaskClient);
    const transport = app.get<Transport>(TASK_QUEUE_TRANSPORT);
    try {
      for (let i = 0; i < 3; i++) await client.send('math.add', [i, i], { queue: 'backlog' });
      await expect(health.backlogCheck('backlog', { queue: 'backlog', threshold: 3 })).resolves.toEqual({
        backlog: { status: 'up', queue: 'backlog', ready: 3, delayed: 0, reserved: 0, threshold: 3 },
      });
      await expect(health.backlogCheck('backlog', { queue: 'backlog', threshold: 2 })).resolves.toEqual({
        backlog: {
          status: 'down',
          message: 'queue "backlog" has 3 task(s) ready, more than the threshold of 2',
          queue: 'backlog',
          ready: 3,
          delayed: 0,
          reserved: 0,
          threshold: 2,
        },
      });
      // the default queue when none is named
      await expect(health.backlogCheck('q', { threshold: 0 })).resolves.toMatchObject({
        q: { status: 'up', queue: 'default', ready: 0 },
      });
    } finally {
      await transport.purge('backlog');
    }
  });

  it('outboxCheck: down when no outbox is configured', async () => {
    expect(await health.outboxCheck('outbox')).toEqual({
      outbox: { status: 'down', message: 'no outbox is configured (TaskQueueModule option outbox)' },
    });
  });

  it('never throws on bad options: down with the reason', async () => {
    const res = await health.pingCheck('broker', { timeout: 'soon' });
    expect(res.broker.status).toBe('down');
    expect(res.broker.message).toContain('invalid health check option');
    expect(res.broker.message).toContain('"timeout"');
    await expect(health.backlogCheck('b', { threshold: -1 })).resolves.toMatchObject({
      b: { status: 'down', message: expect.stringContaining('threshold') },
    });
    await expect(health.workerCheck('w', { minWorkers: 1.5 })).resolves.toMatchObject({
      w: { status: 'down', message: expect.stringContaining('minWorkers') },
    });
  });
});

describe('TaskQueueHealthIndicator with Redis unreachable', () => {
  let app: TestingModule;
  let health: TaskQueueHealthIndicator;

  beforeAll(async () => {
    // A port nothing listens on: taken, then released.
    const port = await new Promise<number>((done) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as { port: number };
        srv.close(() => done(p));
      });
    });
    // One retry per command, short reconnect delays and a short disconnect
    // timeout, so that closing the module waits through none of ioredis's
    // defaults (20 retries; a 2 s timer per closed stream that keeps jest alive).
    app = await createHealthApp({
      brokerUrl: `redis://127.0.0.1:${port}`,
      prefix: testPrefix('health-down'),
      redis: { maxRetriesPerRequest: 1, retryStrategy: () => 50, disconnectTimeout: 50 },
    });
    health = app.get(TaskQueueHealthIndicator);
  });

  afterAll(async () => {
    const transport = app.get<RedisTransport>(TASK_QUEUE_TRANSPORT);
    await app.close();
    // RedisTransport.close() quits, which leaves ioredis reconnecting while the
    // server is down; end it here so jest exits (reported for transport/).
    transport.redis.disconnect();
  });

  it('every check is down within its timeout, saying the broker is unreachable and why', async () => {
    const ping = await health.pingCheck('broker', { timeout: 300 });
    expect(ping.broker.status).toBe('down');
    // Either the timeout or ioredis giving up first; both say the broker is unreachable, and why.
    expect(ping.broker.message).toMatch(
      /^broker unreachable: (the broker did not answer within 300 ms|Reached the max retries)/,
    );
    expect(ping.broker.message).toContain('ECONNREFUSED');
    await expect(health.workerCheck('workers', { timeout: '300ms' })).resolves.toMatchObject({
      workers: { status: 'down', message: expect.stringMatching(/^broker unreachable: .*ECONNREFUSED/) },
    });
    await expect(health.beatCheck('beat', { timeout: 300 })).resolves.toMatchObject({
      beat: { status: 'down', message: expect.stringMatching(/^broker unreachable: .*ECONNREFUSED/) },
    });
    await expect(health.backlogCheck('q', { threshold: 10, timeout: 300 })).resolves.toMatchObject({
      q: { status: 'down' },
    });
    await expect(health.isHealthy('taskqueue', { timeout: 300 })).resolves.toMatchObject({
      taskqueue: { status: 'down', message: expect.stringContaining('broker unreachable') },
    });
  });
});

describe('subpath isolation', () => {
  /** Every src file reachable from `entry` through relative imports, with the bare imports it makes. */
  function graph(entry: string): { files: Set<string>; bare: Set<string> } {
    const files = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string) => {
      if (files.has(file)) return;
      files.add(file);
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(
        /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
      )) {
        const spec = m[1] ?? m[2];
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
        else bare.add(spec);
      }
    };
    visit(entry);
    return { files, bare };
  }

  it('the root barrel loads neither health/ nor testing/, nor @nestjs/terminus or @nestjs/testing', () => {
    const { files, bare } = graph(resolve(ROOT, 'src/index.ts'));
    expect(files.size).toBeGreaterThan(10);
    const rel = [...files].map((f) => f.slice(ROOT.length + 1));
    expect(rel.filter((f) => f.startsWith('src/health/') || f.startsWith('src/testing/'))).toEqual([]);
    expect([...bare].filter((b) => b.startsWith('@nestjs/terminus') || b.startsWith('@nestjs/testing'))).toEqual([]);
  });

  it('the health subpath uses Terminus only through its root', () => {
    const { bare } = graph(resolve(ROOT, 'src/health/index.ts'));
    expect([...bare].filter((b) => b.startsWith('@nestjs/terminus'))).toEqual(['@nestjs/terminus']);
  });

  it('the root barrel loads neither transactional/ nor @nestjs-cls/*, typeorm or pg', () => {
    const { files, bare } = graph(resolve(ROOT, 'src/index.ts'));
    const rel = [...files].map((f) => f.slice(ROOT.length + 1));
    expect(rel.filter((f) => f.startsWith('src/transactional/'))).toEqual([]);
    expect([...bare].filter((b) => /^(@nestjs-cls\/|nestjs-cls|typeorm|pg)(\/|$)/.test(b))).toEqual([]);
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['./transactional']).toEqual({
      types: './dist/transactional/index.d.ts',
      default: './dist/transactional/index.js',
    });
    expect(pkg.peerDependenciesMeta['@nestjs-cls/transactional']).toEqual({ optional: true });
  });

  it('package.json exports ./health and ./testing with types, and Terminus as an optional peer', () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['./health']).toEqual({ types: './dist/health/index.d.ts', default: './dist/health/index.js' });
    expect(pkg.exports['./testing']).toEqual({
      types: './dist/testing/index.d.ts',
      default: './dist/testing/index.js',
    });
    expect(pkg.peerDependencies['@nestjs/terminus']).toBeDefined();
    expect(pkg.peerDependenciesMeta['@nestjs/terminus']).toEqual({ optional: true });
  });
});
