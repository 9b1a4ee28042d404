/**
 * Worker processes on a Redis Cluster (3 masters, 3 replicas, started for this
 * file): a chord over two processes, a SIGKILLed worker's tasks finished by
 * another, and a master SIGKILLed while a producer sends and workers run.
 * Runs are logged to the single-node test Redis, apart from the cluster.
 */
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { TaskClient, chord, type AsyncResult, type Transport } from '../../src/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import { createTaskApp } from '../utils/app.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';
import { TestRedisCluster } from '../utils/redis-servers.js';
import { sendThroughFailover } from './failover.js';

const WORKER = 'test/e2e/.build/test/e2e/fixtures/worker-main.js';

describe('worker processes on a Redis Cluster', () => {
  const prefix = testPrefix('cluster-procs');
  const children: Child[] = [];
  let cluster: TestRedisCluster;
  let app: TestingModule;
  let client: TaskClient;
  let transport: Transport;
  let redis: Redis;

  const startWorker = async (env: Record<string, string> = {}) => {
    const child = await spawnNode(WORKER, { REDIS_URL, TQ_BROKER_URL: cluster.url, TQ_PREFIX: prefix, ...env });
    children.push(child);
    return child;
  };
  const runs = async () => redis.lrange(`${prefix}:runs`, 0, -1);

  beforeAll(async () => {
    [cluster] = await Promise.all([TestRedisCluster.start(), buildE2eFixtures()]);
    app = await createTaskApp({ brokerUrl: cluster.url, prefix }, []); // a publisher only
    client = app.get(TaskClient);
    transport = app.get(TASK_QUEUE_TRANSPORT);
    redis = new Redis(REDIS_URL);
  }, 180_000);

  afterEach(async () => {
    killAll(children);
    await Promise.all(children.splice(0).map((c) => c.exited));
    await redis.del(`${prefix}:runs`, `${prefix}:signals`);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.quit();
    await cluster?.stop();
    await cleanupPrefix(prefix);
  });

  it('runs a chord of 300 tasks on two worker processes: the callback runs once, with every result in order', async () => {
    await startWorker({ TQ_CONCURRENCY: '20' });
    await startWorker({ TQ_CONCURRENCY: '20' });
    const header = Array.from({ length: 300 }, (_, i) => client.signature('e2e.square', [i]));
    const r = await chord(header, client.signature<number[]>('e2e.collect')).delay();
    expect(await r.get({ timeout: 60_000 })).toEqual(Array.from({ length: 300 }, (_, i) => i * i));
    expect((await runs()).filter((x) => x.endsWith(':collect'))).toHaveLength(1);
  }, 120_000);

  it('finishes the tasks of a SIGKILLed worker on another worker, losing nothing', async () => {
    const a = await startWorker({ TQ_CONCURRENCY: '3', TQ_LEASE_MS: '1000' });
    const results: AsyncResult<number>[] = [];
    for (let i = 0; i < 5; i++) results.push(await client.send<number>('e2e.sleep', [1000]));
    await until(
      async () => (await runs()).filter((r) => r.endsWith(`:${a.proc.pid}:start`)).length === 3,
      10_000,
      'worker A to start 3 tasks',
    );
    a.proc.kill('SIGKILL');
    await a.exited;
    const b = await startWorker({ TQ_CONCURRENCY: '5', TQ_LEASE_MS: '1000' });
    expect(await Promise.all(results.map((r) => r.get({ timeout: 30_000 })))).toEqual(Array(5).fill(b.proc.pid));
    expect((await runs()).filter((r) => r.endsWith(':end'))).toHaveLength(5);
    expect(await transport.counts('default')).toMatchObject({ ready: 0, delayed: 0, reserved: 0 });
  });

  it('survives a SIGKILLed master: every resolved send runs, waiting gets resolve, and a send after the promotion runs', async () => {
    await startWorker({ TQ_CONCURRENCY: '10', TQ_LEASE_MS: '2000' });
    await startWorker({ TQ_CONCURRENCY: '10', TQ_LEASE_MS: '2000' });
    const victim = await cluster.masterOf(`${prefix}:{default}:wake`);
    const outcome = await sendThroughFailover({
      send: (ms) => client.send<number>('e2e.sleep', [ms]),
      kill: () => victim.process.kill(),
      promoted: async () => (await cluster.masterOf(`${prefix}:{default}:wake`)).port !== victim.port,
      alive: () => children.every((c) => c.proc.exitCode === null),
    });
    // Every send() that resolved ran (at least once: a task whose ack was lost runs again).
    const ended = new Set((await runs()).filter((r) => r.endsWith(':end')).map((r) => r.split(':')[0]));
    const missing = outcome.resolved.filter((r) => !ended.has(r.id));
    const all = await runs();
    const why = await Promise.all(
      missing.map(async (r) => ({
        id: r.id,
        long: outcome.resolved.indexOf(r) >= outcome.resolved.length - 5,
        runs: all.filter((x) => x.startsWith(r.id)),
        record: await r.record().catch((err: unknown) => String(err)),
      })),
    );
    expect(why).toEqual([]);
    expect(outcome.waited.map((v) => (typeof v === 'number' ? 'ran' : String(v)))).toEqual(Array(5).fill('ran'));
    expect(typeof outcome.afterPromotion).toBe('number');
    // A send() that failed said why.
    for (const err of outcome.rejected) expect(err).toBeInstanceOf(Error);
    process.stdout.write(
      `cluster failover: ${outcome.resolved.length} sends resolved, ${outcome.rejected.length} rejected ${JSON.stringify(outcome.rejected.map(String))}, ` +
        `promotion seen ${outcome.promotedAfterMs} ms after the kill, first task after it ran in ${outcome.afterPromotionMs} ms\n`,
    );
  }, 120_000);
});
