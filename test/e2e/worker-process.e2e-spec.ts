import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  TaskClient,
  TaskRevokedError,
  chord,
  type AsyncResult,
  type GroupResult,
  type Transport,
} from '../../src/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import { createTaskApp } from '../utils/app.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const WORKER = 'test/e2e/.build/test/e2e/fixtures/worker-main.js';

describe('worker processes', () => {
  const prefix = testPrefix('procs');
  const children: Child[] = [];
  let app: TestingModule;
  let client: TaskClient;
  let transport: Transport;
  let redis: Redis;

  const startWorker = async (env: Record<string, string> = {}) => {
    const child = await spawnNode(WORKER, { REDIS_URL, TQ_PREFIX: prefix, ...env });
    children.push(child);
    return child;
  };
  const runs = async () => redis.lrange(`${prefix}:runs`, 0, -1);
  const sleepTask = (ms: number) => client.send<number>('e2e.sleep', [ms]);

  beforeAll(async () => {
    await buildE2eFixtures();
    app = await createTaskApp({ brokerUrl: REDIS_URL, prefix }, []); // a publisher only: it knows no tasks
    client = app.get(TaskClient);
    transport = app.get(TASK_QUEUE_TRANSPORT);
    redis = new Redis(REDIS_URL);
  }, 180_000);

  afterEach(async () => {
    killAll(children);
    await Promise.all(children.splice(0).map((c) => c.exited));
    await transport.purge('default');
    await redis.del(`${prefix}:runs`, `${prefix}:signals`);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.quit();
    await cleanupPrefix(prefix);
  });

  it('emits the task signals in the worker process, once each, in order', async () => {
    await startWorker({ TQ_CONCURRENCY: '1' });
    const r = await sleepTask(10);
    await r.get({ timeout: 10_000 });
    await until(
      async () => (await redis.lrange(`${prefix}:signals`, 0, -1)).some((l) => l.startsWith('task-queue.task.postrun')),
      10_000,
      'postrun',
    );
    const lines = await redis.lrange(`${prefix}:signals`, 0, -1);
    expect(lines[0]).toBe('task-queue.worker.ready||');
    expect(lines.filter((l) => l.endsWith(`|${r.id}`))).toEqual(
      ['received', 'prerun', 'success', 'postrun'].map((s) => `task-queue.task.${s}|e2e.sleep|${r.id}`),
    );
  });

  it('runs a chord of 1000 tasks on two worker processes: the callback runs once, with every result in order', async () => {
    await startWorker({ TQ_CONCURRENCY: '20' });
    await startWorker({ TQ_CONCURRENCY: '20' });
    const header = Array.from({ length: 1000 }, (_, i) => client.signature('e2e.square', [i]));
    const r = await chord(header, client.signature<number[]>('e2e.collect')).delay();
    const results = await r.get({ timeout: 60_000 });
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i * i));
    const runs = await redis.lrange(`${prefix}:runs`, 0, -1);
    expect(runs.filter((x) => x.endsWith(':collect'))).toHaveLength(1);
    // both workers took part in the header
    const parent = (r as AsyncResult).parent as GroupResult;
    const workers = new Set<string | undefined>();
    for (const m of parent.results) workers.add((await (m as AsyncResult).record())?.worker);
    expect(workers.size).toBe(2);
  }, 120_000);

  it('terminates a task running in another process with revoke({ terminate: true })', async () => {
    await startWorker({ TQ_CONCURRENCY: '1' });
    const r = await sleepTask(20_000);
    await until(async () => (await runs()).length === 1, 10_000, 'the task to start');
    await r.revoke({ terminate: true });
    await expect(r.get({ timeout: 10_000 })).rejects.toBeInstanceOf(TaskRevokedError);
    expect(await r.state()).toBe('REVOKED');
    expect(await client.send<number>('e2e.sleep', [1]).then((x) => x.get({ timeout: 10_000 }))).toEqual(
      expect.any(Number),
    );
  });

  it('finishes the tasks of a SIGKILLed worker on another worker, losing nothing', async () => {
    const a = await startWorker({ TQ_CONCURRENCY: '3', TQ_LEASE_MS: '1000' });
    const results: AsyncResult<number>[] = [];
    for (let i = 0; i < 5; i++) results.push(await sleepTask(1500));
    // worker A holds three of them, running
    await until(
      async () => (await runs()).filter((r) => r.endsWith(`:${a.proc.pid}:start`)).length === 3,
      10_000,
      'worker A to start 3 tasks',
    );
    a.proc.kill('SIGKILL');
    expect(await a.exited).toMatchObject({ signal: 'SIGKILL' });
    const b = await startWorker({ TQ_CONCURRENCY: '5', TQ_LEASE_MS: '1000' });
    const pids = await Promise.all(results.map((r) => r.get({ timeout: 30_000 })));
    expect(pids).toEqual(Array(5).fill(b.proc.pid));
    const ends = (await runs()).filter((r) => r.endsWith(':end'));
    expect(ends).toHaveLength(5); // each task completed exactly once
    expect(await transport.counts('default')).toMatchObject({ ready: 0, delayed: 0, reserved: 0 });
  });

  it("never hands a live worker's long task to another worker", async () => {
    const a = await startWorker({ TQ_CONCURRENCY: '1', TQ_LEASE_MS: '300' });
    const r = await sleepTask(2000); // several times the lease
    await until(async () => (await runs()).length === 1, 10_000, 'the task to start on A');
    const b = await startWorker({ TQ_CONCURRENCY: '1', TQ_LEASE_MS: '300' });
    expect(await r.get({ timeout: 20_000 })).toBe(a.proc.pid);
    const all = await runs();
    expect(all.filter((x) => x.endsWith(':start'))).toHaveLength(1);
    expect(all.some((x) => x.includes(`:${b.proc.pid}:`))).toBe(false);
  });

  it('on SIGTERM finishes running tasks, gives prefetched ones back and exits 0', async () => {
    const a = await startWorker({ TQ_CONCURRENCY: '2', TQ_PREFETCH: '2', TQ_SHUTDOWN_MS: '20000' });
    const results: AsyncResult<number>[] = [];
    for (let i = 0; i < 6; i++) results.push(await sleepTask(800));
    await until(async () => (await runs()).length === 2, 10_000, 'two tasks running on A');
    a.proc.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    // the two running ones finished on A
    const finished = (await runs()).filter((x) => x.endsWith(':end'));
    expect(finished).toHaveLength(2);
    // nothing lost: the other four wait for the next worker
    expect(await transport.counts('default')).toMatchObject({ ready: 4, reserved: 0 });
    const b = await startWorker({ TQ_CONCURRENCY: '4' });
    const pids = await Promise.all(results.map((r) => r.get({ timeout: 20_000 })));
    expect(pids.filter((p) => p === a.proc.pid)).toHaveLength(2);
    expect(pids.filter((p) => p === b.proc.pid)).toHaveLength(4);
  });

  it('gives a task back when it outlives the shutdown timeout, and another worker runs it', async () => {
    const a = await startWorker({ TQ_CONCURRENCY: '1', TQ_SHUTDOWN_MS: '200' });
    const r = await sleepTask(3000);
    await until(async () => (await runs()).length === 1, 10_000, 'the task to start on A');
    a.proc.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(await transport.counts('default')).toMatchObject({ ready: 1, reserved: 0 });
    const b = await startWorker({ TQ_CONCURRENCY: '1' });
    expect(await r.get({ timeout: 20_000 })).toBe(b.proc.pid);
  });
});
