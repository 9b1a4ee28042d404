import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { PythonCeleryClient, celeryRedisUrl, cleanupCelery } from '../utils/celery.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const WORKER = 'test/e2e/.build/test/e2e/fixtures/worker-main.js';

/**
 * Our reliability promises with protocol 'celery': a Python Celery client
 * sends to our worker process, which is SIGKILLed mid-task.
 */
describe("protocol 'celery': worker processes", () => {
  const url = celeryRedisUrl(13);
  const prefix = testPrefix('celery-procs');
  const queue = `ts-${randomUUID().slice(0, 8)}`;
  const children: Child[] = [];
  let python: PythonCeleryClient;
  let redis: Redis;

  const startWorker = async () => {
    const child = await spawnNode(WORKER, {
      REDIS_URL: url,
      TQ_PREFIX: prefix,
      TQ_PROTOCOL: 'celery',
      TQ_QUEUES: queue,
      TQ_CONCURRENCY: '1',
      TQ_LEASE_MS: '1000',
    });
    children.push(child);
    return child;
  };
  const runs = async () => redis.lrange(`${prefix}:runs`, 0, -1);

  beforeAll(async () => {
    [python] = await Promise.all([PythonCeleryClient.start(url), buildE2eFixtures()]);
    redis = new Redis(url);
  }, 180_000);

  afterAll(async () => {
    killAll(children);
    await Promise.all(children.map((c) => c.exited));
    await python?.stop();
    await redis?.quit();
    await cleanupCelery(url, [queue], python?.ids ?? []);
    await cleanupPrefix(prefix, url);
  });

  it('a task whose worker is SIGKILLed mid-run runs again on another worker, and Python gets its result', async () => {
    const first = await startWorker();
    const call = python.call({ op: 'send', name: 'e2e.sleep', args: [1500], queue, timeout: 30 });
    const id = await call.sent;
    await until(async () => (await runs()).includes(`${id}:${first.proc.pid}:start`), 10_000, 'the first start');
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = await startWorker();
    const answer = await call.done;
    expect(answer).toMatchObject({ ok: true, value: second.proc.pid });
    expect(await runs()).toEqual([
      `${id}:${first.proc.pid}:start`,
      `${id}:${second.proc.pid}:start`,
      `${id}:${second.proc.pid}:end`,
    ]);
  }, 60_000);
});
