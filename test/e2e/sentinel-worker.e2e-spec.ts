/**
 * Worker processes on a Sentinel-managed master (a master, a replica and three
 * sentinels, started for this file): the master SIGKILLed while a producer sends
 * and two workers run. Runs are logged to the single-node test Redis.
 */
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { TaskClient } from '../../src/index.js';
import { createTaskApp } from '../utils/app.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { REDIS_URL, cleanupPrefix, testPrefix } from '../utils/redis.js';
import { TestRedisSentinel } from '../utils/redis-servers.js';
import { sendThroughFailover } from './failover.js';

const WORKER = 'test/e2e/.build/test/e2e/fixtures/worker-main.js';

describe('worker processes on a Sentinel-managed master', () => {
  const prefix = testPrefix('sentinel-procs');
  const children: Child[] = [];
  let sentinel: TestRedisSentinel;
  let app: TestingModule;
  let client: TaskClient;
  let redis: Redis;

  const startWorker = async (env: Record<string, string> = {}) => {
    const child = await spawnNode(WORKER, { REDIS_URL, TQ_BROKER_URL: sentinel.url, TQ_PREFIX: prefix, ...env });
    children.push(child);
    return child;
  };
  const runs = async () => redis.lrange(`${prefix}:runs`, 0, -1);

  beforeAll(async () => {
    [sentinel] = await Promise.all([TestRedisSentinel.start(), buildE2eFixtures()]);
    app = await createTaskApp({ brokerUrl: sentinel.url, prefix }, []); // a publisher only
    client = app.get(TaskClient);
    redis = new Redis(REDIS_URL);
  }, 180_000);

  afterAll(async () => {
    killAll(children);
    await Promise.all(children.map((c) => c.exited));
    await app?.close();
    await redis?.quit();
    await sentinel?.stop();
    await cleanupPrefix(prefix);
  });

  it('follows the master across a failover: every resolved send runs, waiting gets resolve, and a send after the promotion runs', async () => {
    await startWorker({ TQ_CONCURRENCY: '10', TQ_LEASE_MS: '2000' });
    await startWorker({ TQ_CONCURRENCY: '10', TQ_LEASE_MS: '2000' });
    expect(await (await client.send<number>('e2e.sleep', [1])).get({ timeout: 10_000 })).toEqual(expect.any(Number));
    const oldPort = await sentinel.masterPort();
    const victim = sentinel.servers.find((s) => s.port === oldPort)!;
    const outcome = await sendThroughFailover({
      send: (ms) => client.send<number>('e2e.sleep', [ms]),
      kill: () => victim.process.kill(),
      promoted: async () => (await sentinel.masterPort()) !== oldPort,
      alive: () => children.every((c) => c.proc.exitCode === null),
    });
    const all = await runs();
    const ended = new Set(all.filter((r) => r.endsWith(':end')).map((r) => r.split(':')[0]));
    const missing = await Promise.all(
      outcome.resolved
        .filter((r) => !ended.has(r.id))
        .map(async (r) => ({
          id: r.id,
          runs: all.filter((x) => x.startsWith(r.id)),
          record: await r.record().catch((err: unknown) => String(err)),
        })),
    );
    expect(missing).toEqual([]);
    expect(outcome.waited.map((v) => (typeof v === 'number' ? 'ran' : String(v)))).toEqual(Array(5).fill('ran'));
    expect(typeof outcome.afterPromotion).toBe('number');
    for (const err of outcome.rejected) expect(err).toBeInstanceOf(Error);
    process.stdout.write(
      `sentinel failover: ${outcome.resolved.length} sends resolved, ${outcome.rejected.length} rejected ${JSON.stringify(outcome.rejected.map(String))}, ` +
        `promotion seen ${outcome.promotedAfterMs} ms after the kill, first task after it ran in ${outcome.afterPromotionMs} ms\n`,
    );
  }, 120_000);
});
