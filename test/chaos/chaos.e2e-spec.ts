import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { TaskClient, type AsyncResult } from '../../src/index.js';
import { createTaskApp } from '../utils/app.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { TestRedisServer } from '../utils/redis-servers.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

/**
 * The chaos suite (`npm run test:chaos`; part of `npm test` too): faults while
 * tasks flow, with real worker processes. Sizes fit CI's time; each case prints
 * a line of figures (the closing numbers of the run).
 */
const WORKER = 'test/e2e/.build/test/e2e/fixtures/worker-main.js';
const TASKS = Number(process.env.CHAOS_TASKS ?? 10_000);

describe('chaos: workers SIGKILLed every two seconds while 10,000 tasks run', () => {
  const prefix = testPrefix('chaos-kill');
  const children: Child[] = [];
  let app: TestingModule;
  let client: TaskClient;
  let redis: Redis;

  const start = async () => {
    const child = await spawnNode(WORKER, {
      REDIS_URL,
      TQ_PREFIX: prefix,
      TQ_CONCURRENCY: '20',
      TQ_LEASE_MS: '1000',
    });
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    await buildE2eFixtures();
    app = await createTaskApp({ brokerUrl: REDIS_URL, prefix }, []);
    client = app.get(TaskClient);
    redis = new Redis(REDIS_URL);
  }, 180_000);

  afterAll(async () => {
    killAll(children);
    await Promise.all(children.map((c) => c.exited));
    await app?.close();
    await redis?.quit();
    await cleanupPrefix(prefix);
  });

  it('loses nothing, and runs a task twice at most once per slot of a killed worker', async () => {
    for (let i = 0; i < 3; i++) await start();
    const t0 = Date.now();
    const results: AsyncResult<number>[] = [];
    for (let i = 0; i < TASKS; i += 500)
      results.push(
        ...(await client.sendMany<number>(
          Array.from({ length: Math.min(500, TASKS - i) }, () => ({ name: 'e2e.sleep', args: [40] })),
        )),
      );
    let kills = 0;
    const done = Promise.all(results.map((r) => r.get({ timeout: 240_000 })));
    let finished = false;
    void done.finally(() => (finished = true));
    while (!finished) {
      await new Promise((r) => setTimeout(r, 2000));
      if (finished) break;
      const victim = children.find((c) => c.proc.exitCode === null && c.proc.signalCode === null);
      victim?.proc.kill('SIGKILL');
      if (victim) {
        await victim.exited;
        kills++;
        await start();
      }
    }
    await done;
    const runs = await redis.lrange(`${prefix}:runs`, 0, -1);
    const count = (suffix: string) => {
      const per = new Map<string, number>();
      for (const r of runs) if (r.endsWith(suffix)) per.set(r.split(':')[0], (per.get(r.split(':')[0]) ?? 0) + 1);
      return per;
    };
    const [starts, ends] = [count(':start'), count(':end')];
    const again = (per: Map<string, number>) => [...per.values()].reduce((n, c) => n + c - 1, 0);
    const lost = results.filter((r) => !ends.has(r.id)).length;
    console.log(
      `chaos kill: ${TASKS} tasks, ${kills} workers SIGKILLed and replaced, ${lost} lost, ${again(starts)} started again (cut short by a kill), ${again(ends)} completed twice, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(kills).toBeGreaterThanOrEqual(2);
    expect(lost).toBe(0);
    // a task runs again only if its worker died holding it: at most its concurrency per kill
    expect(again(starts)).toBeLessThanOrEqual(kills * 20);
    expect(again(ends)).toBeLessThanOrEqual(kills * 20);
  }, 300_000);
});

describe('chaos: Redis restarted (AOF, appendfsync always) under producer and worker load', () => {
  const prefix = testPrefix('chaos-aof');
  const children: Child[] = [];
  let server: TestRedisServer;
  let url: string;
  let app: TestingModule;
  let client: TaskClient;

  beforeAll(async () => {
    await buildE2eFixtures();
    server = await TestRedisServer.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    url = `redis://127.0.0.1:${server.port}`;
    app = await createTaskApp({ brokerUrl: url, prefix }, []);
    client = app.get(TaskClient);
    for (let i = 0; i < 2; i++)
      children.push(
        await spawnNode(WORKER, {
          REDIS_URL: url,
          TQ_PREFIX: prefix,
          TQ_CONCURRENCY: '10',
          TQ_LEASE_MS: '2000',
        }),
      );
  }, 180_000);

  afterAll(async () => {
    killAll(children);
    await Promise.all(children.map((c) => c.exited));
    await app?.close();
    await server?.stop();
  });

  /** Sends for `ms`, one at a time; returns the handles of the sends that resolved and how many rejected. */
  async function produce(ms: number): Promise<{ sent: AsyncResult<number>[]; rejected: number }> {
    const sent: AsyncResult<number>[] = [];
    let rejected = 0;
    for (const end = Date.now() + ms; Date.now() < end;) {
      try {
        sent.push(await client.send<number>('e2e.sleep', [5]));
      } catch {
        rejected++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return { sent, rejected };
  }

  for (const how of ['SHUTDOWN', 'SIGKILL'] as const) {
    it(`${how}: every send that resolved runs, every waiting get() resolves, no process restarts`, async () => {
      const t0 = Date.now();
      const load = produce(6000);
      const waiting = client.send<number>('e2e.sleep', [3000]); // its get() waits across the restart
      const w = await waiting;
      await new Promise((r) => setTimeout(r, 1500));
      const downAt = Date.now();
      await server.restart(how);
      const upAt = Date.now();
      const { sent, rejected } = await load;
      const results = await Promise.all([w, ...sent].map((r) => r.get({ timeout: 60_000 })));
      expect(results.every((pid) => typeof pid === 'number')).toBe(true);
      expect(children.every((c) => c.proc.exitCode === null)).toBe(true);
      // after the restart, new work runs as before
      expect(typeof (await (await client.send<number>('e2e.sleep', [1])).get({ timeout: 20_000 }))).toBe('number');
      console.log(
        `chaos redis ${how}: ${sent.length} sends resolved (all ran), ${rejected} rejected while it was down, down ${upAt - downAt} ms, done in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    }, 120_000);
  }

  it('CLIENT KILL of normal and pub/sub connections, three times: workers resume, waiting get() calls resolve', async () => {
    const admin = new Redis(url);
    try {
      const load = produce(6000);
      const waiting = await client.send<number>('e2e.sleep', [2500]);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const killed =
          Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')) +
          Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
        expect(killed).toBeGreaterThan(0);
      }
      const { sent, rejected } = await load;
      const results = await Promise.all([waiting, ...sent].map((r) => r.get({ timeout: 60_000 })));
      expect(results.every((pid) => typeof pid === 'number')).toBe(true);
      expect(typeof (await (await client.send<number>('e2e.sleep', [1])).get({ timeout: 20_000 }))).toBe('number');
      console.log(`chaos client kill: 3 rounds, ${sent.length} sends resolved (all ran), ${rejected} rejected`);
    } finally {
      admin.disconnect();
    }
  }, 120_000);
});
