/**
 * The library on a Redis Cluster (3 masters, 3 replicas, started for this file),
 * unchanged for the user: a worker consumes three queues whose slots are on three
 * different masters, with results by id, a chord whose header and body are on
 * different masters, revoke with terminate, remote control, rate limits, beat,
 * listing, the CLI and the health indicator. Any CROSSSLOT command would fail here.
 */
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cluster, Redis } from 'ioredis';
import {
  PeriodicSchedules,
  Task,
  TaskClient,
  TaskContext,
  TaskInspector,
  TaskQueueModule,
  TaskRevokedError,
  TaskWorker,
  NotReplicatedError,
  chord,
} from '../../src/index.js';
import { RedisTransport } from '../../src/transport/index.js';
import { runCli } from '../../src/cli/cli.js';
import { TaskQueueHealthIndicator, TaskQueueHealthModule } from '../../src/health/index.js';
import { createTaskApp } from '../utils/app.js';
import { testPrefix, until } from '../utils/redis.js';
import { TestRedisCluster } from '../utils/redis-servers.js';

@Injectable()
class ClusterTasks {
  static readonly started = new Set<string>();
  static ticks = 0;
  static limitedRuns = 0;

  constructor(private readonly ctx: TaskContext) {}

  @Task('cl.add')
  add(x: number, y: number): number {
    return x + y;
  }

  @Task('cl.where')
  where(): string {
    return this.ctx.queue;
  }

  @Task('cl.xsum')
  xsum(numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @Task({ name: 'cl.limited', rateLimit: '100/s' })
  limited(): number {
    return ++ClusterTasks.limitedRuns;
  }

  /** Ignores its signal: only terminate ends it early. */
  @Task('cl.stubborn')
  async stubborn(gate: string): Promise<string> {
    ClusterTasks.started.add(gate);
    await new Promise((r) => setTimeout(r, 5000).unref());
    return 'finished anyway';
  }

  @Task('cl.tick')
  tick(): void {
    ClusterTasks.ticks++;
  }
}

describe('on a Redis Cluster', () => {
  const prefix = testPrefix('cluster');
  let cluster: TestRedisCluster;
  let app: TestingModule;
  let client: TaskClient;
  let worker: TaskWorker;
  /** Three queues whose hash slots are served by three different masters. */
  let queues: string[];

  beforeAll(async () => {
    cluster = await TestRedisCluster.start();
    const byMaster = new Map<number, string>();
    for (let i = 0; byMaster.size < 3; i++) {
      const q = `q${i}`;
      const master = await cluster.masterOf(`${prefix}:{${q}}:wake`);
      if (!byMaster.has(master.port)) byMaster.set(master.port, q);
    }
    queues = [...byMaster.values()];
    app = await Test.createTestingModule({
      imports: [
        TaskQueueModule.forRoot({
          brokerUrl: cluster.url,
          prefix,
          worker: { queues: [...queues, 'sharded'] },
          queues: { sharded: { shards: 6 } },
        }),
        TaskQueueHealthModule,
      ],
      providers: [ClusterTasks],
    }).compile();
    app.useLogger(process.env.TEST_LOGS ? console : false);
    await app.init();
    client = app.get(TaskClient);
    worker = app.get(TaskWorker);
    await worker.start({ queues: [...queues, 'sharded'], concurrency: 4, beat: true });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  it('runs tasks sent to queues on every master, and finds each result by id alone', async () => {
    const sent = await Promise.all(queues.map((queue) => client.send<string>('cl.where', [], { queue })));
    expect(await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })))).toEqual(queues);
    for (const [i, r] of sent.entries()) {
      const again = client.result<string>(r.id);
      expect(await again.get({ timeout: 1000 })).toBe(queues[i]);
    }
  });

  it('spreads a sharded queue over the masters, and runs every task of it', async () => {
    const masters = new Set<number>();
    for (const shard of ['sharded', ...[1, 2, 3, 4, 5].map((i) => `sharded@${i}`)])
      masters.add((await cluster.masterOf(`${prefix}:{${shard}}:wake`)).port);
    expect(masters.size).toBeGreaterThan(1);
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => client.send<number>('cl.add', [i, 0], { queue: 'sharded' })),
    );
    expect(await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })))).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
    expect(await app.get(TaskInspector).counts('sharded')).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('runs a chord whose header and body are on different masters', async () => {
    const header = queues.map((queue, i) => client.signature<number>('cl.add', [i, i]).set({ queue }));
    const body = client.signature<number>('cl.xsum', []).set({ queue: queues[2] });
    const r = await chord(header, body).delay();
    expect(await r.get({ timeout: 10_000 })).toBe(0 + 2 + 4);
  });

  it('rate-limits a task and runs every call', async () => {
    const before = ClusterTasks.limitedRuns;
    const sent = await Promise.all(
      Array.from({ length: 5 }, () => client.send('cl.limited', [], { queue: queues[0] })),
    );
    await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })));
    expect(ClusterTasks.limitedRuns - before).toBe(5);
  });

  it('revokes a running task with terminate, and answers remote control', async () => {
    const inspector = app.get(TaskInspector);
    expect(await inspector.ping(500)).toEqual([worker.id]);
    const gate = 'stubborn-cluster';
    const r = await client.send('cl.stubborn', [gate], { queue: queues[1] });
    await until(() => ClusterTasks.started.has(gate), 10_000, 'the task to start');
    await r.revoke({ terminate: true });
    await expect(r.get({ timeout: 4000 })).rejects.toBeInstanceOf(TaskRevokedError);
  });

  it('runs a schedule through the embedded beat', async () => {
    const before = ClusterTasks.ticks;
    await app.get(PeriodicSchedules).add('cl.tick.every', { task: 'cl.tick', every: '100ms', queue: queues[0] });
    await until(() => ClusterTasks.ticks >= before + 2, 10_000, 'two ticks');
    expect((await app.get(PeriodicSchedules).list()).map((s) => s.name)).toEqual(['cl.tick.every']);
    await app.get(PeriodicSchedules).remove('cl.tick.every');
  });

  it('lists every queue of every master, from the inspector and the CLI', async () => {
    const inspector = app.get(TaskInspector);
    expect(await inspector.queues()).toEqual(expect.arrayContaining(queues));
    const out: string[] = [];
    const code = await runCli(['--broker', cluster.url, '--prefix', prefix, '--json', 'queues'], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    expect(code).toBe(0);
    const rows = JSON.parse(out.join('\n')) as Array<{ queue: string; ready: number }>;
    expect(rows.map((r) => r.queue)).toEqual(expect.arrayContaining(queues));
  });

  it('resumes after every client connection on every node is killed (CLIENT KILL)', async () => {
    for (const n of cluster.nodes) {
      const admin = new Redis({ host: '127.0.0.1', port: n.port });
      try {
        await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        await admin.client('KILL', 'TYPE', 'pubsub', 'SKIPME', 'yes');
      } finally {
        admin.disconnect();
      }
    }
    const sent = await Promise.all(queues.map((queue) => client.send<string>('cl.where', [], { queue })));
    expect(await Promise.all(sent.map((r) => r.get({ timeout: 15_000 })))).toEqual(queues);
  });

  it('works through a Cluster client given as client, and through a connection factory', async () => {
    const seeds = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
    const own = new Cluster(seeds);
    const roles: string[] = [];
    const other = testPrefix('cluster-conn');
    const apps = [
      await createTaskApp({ client: own, prefix: other, worker: { queues: ['a'] } }, [ClusterTasks]),
      await createTaskApp(
        {
          prefix: other,
          worker: { queues: ['a'] },
          connection: (role) => {
            roles.push(role);
            return new Cluster(seeds, {
              shardedSubscribers: role === 'subscriber',
              redisOptions: role === 'main' ? {} : { maxRetriesPerRequest: null },
            });
          },
        },
        [ClusterTasks],
      ),
    ];
    try {
      await apps[0].get(TaskWorker).start({ concurrency: 2 });
      for (const a of apps) {
        const r = await a.get(TaskClient).send<string>('cl.where', [], { queue: 'a' });
        expect(await r.get({ timeout: 10_000 })).toBe('a');
      }
      expect(roles).toEqual(expect.arrayContaining(['main', 'subscriber']));
    } finally {
      for (const a of apps) await a.close();
      own.disconnect();
    }
  });

  it('with durability, publishes once a replica has the messages, and says so when too few do', async () => {
    const item = (id: string) => ({ queue: 'durable', id, priority: 5, raw: `{"id":"${id}"}` });
    const enough = new RedisTransport({ url: cluster.url, prefix, durability: { replicas: 1, timeoutMs: 5000 } });
    const tooMany = new RedisTransport({ url: cluster.url, prefix, durability: { replicas: 2, timeoutMs: 50 } });
    try {
      await enough.publish([item('d1'), { ...item('d2'), queue: 'durable-2' }]);
      const err = await tooMany.publish([item('d3')]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotReplicatedError);
      expect(err).toMatchObject({ ids: ['d3'], acknowledged: 1, required: 2 });
      // it was published all the same
      expect(await enough.counts('durable')).toMatchObject({ ready: 2 });
    } finally {
      await enough.close();
      await tooMany.close();
    }
  });

  it('reports the broker, the state of the cluster and the worker healthy', async () => {
    const health = app.get(TaskQueueHealthIndicator);
    await expect(health.isHealthy('taskqueue')).resolves.toMatchObject({
      taskqueue: { status: 'up', cluster: { ok: true, state: 'ok', slotsOk: 16384, masters: 3, knownNodes: 6 } },
    });
  });
});
