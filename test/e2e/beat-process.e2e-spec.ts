import type { TestingModule } from '@nestjs/testing';
import { BEAT_HEADERS, type TaskMessage } from '../../src/index.js';
import { decodeMessage } from '../../src/protocol/index.js';
import { TASK_QUEUE_BEAT_STORE, TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import type { BeatStore } from '../../src/transport/beat-store.interface.js';
import type { Transport } from '../../src/transport/transport.interface.js';
import { createTaskApp } from '../utils/app.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const BEAT = 'test/e2e/.build/test/e2e/fixtures/beat-main.js';
const EVERY_MS = 100;

describe('beat processes', () => {
  const prefix = testPrefix('beat-procs');
  const children: Child[] = [];
  let app: TestingModule;
  let store: BeatStore;
  let transport: Transport;
  const published: TaskMessage[] = [];

  const startBeat = async () => {
    const child = await spawnNode(BEAT, {
      REDIS_URL,
      TQ_PREFIX: prefix,
      TQ_EVERY_MS: String(EVERY_MS),
      TQ_LEASE_MS: '1000',
    });
    children.push(child);
    return child;
  };
  const leaderPid = async () => (await store.leaderHeartbeat())?.pid;
  const lastRun = async () => (await store.get('e2e.tick'))?.lastRun ?? null;
  /** Takes what the beats published so far off the queue (nothing else consumes it). */
  const collect = async () => {
    const r = await transport.reserve({
      queue: 'beat',
      max: 100_000,
      startCount: 100_000,
      leaseMs: 3_600_000,
      workerId: 'test',
      maxRedeliveries: 5,
      resultTtlMs: 60_000,
    });
    published.push(...r.items.map((i) => decodeMessage(i.raw)));
    return published;
  };

  beforeAll(async () => {
    await buildE2eFixtures();
    app = await createTaskApp({ brokerUrl: REDIS_URL, prefix }, []); // reads the store; runs no beat
    store = app.get(TASK_QUEUE_BEAT_STORE);
    transport = app.get(TASK_QUEUE_TRANSPORT);
  }, 180_000);

  afterAll(async () => {
    killAll(children);
    await Promise.all(children.map((c) => c.exited));
    await app?.close();
    await cleanupPrefix(prefix);
  });

  it('a SIGKILLed leader is replaced within seconds; no tick is published twice and none is lost', async () => {
    const a = await startBeat();
    await until(async () => (await leaderPid()) === a.proc.pid, 15_000, 'beat A to lead');
    const b = await startBeat();
    const since = (await store.get('e2e.tick'))!.since;
    await until(async () => ((await lastRun()) ?? since) >= since + 10 * EVERY_MS, 20_000, 'ten ticks from A');

    a.proc.kill('SIGKILL'); // no cleanup: the lease runs out on its own
    expect(await a.exited).toMatchObject({ signal: 'SIGKILL' });
    const killedAt = (await lastRun()) ?? since;
    await until(async () => (await leaderPid()) === b.proc.pid, 20_000, 'beat B to take over');
    await until(async () => ((await lastRun()) ?? 0) >= killedAt + 10 * EVERY_MS, 20_000, 'ten more ticks from B');

    b.proc.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect(await store.leaderHeartbeat()).toBeNull(); // B gave up the lease on its way out

    const ticks = (await collect())
      .filter((m) => m.headers?.[BEAT_HEADERS.schedule] === 'e2e.tick')
      .map((m) => Number(m.headers![BEAT_HEADERS.tick]));
    const last = (await lastRun())!;
    const n = (last - since) / EVERY_MS;
    // every tick from the first to the last, each once, in order: the takeover gap was caught up (it is within misfireGrace)
    expect(ticks).toEqual(Array.from({ length: n }, (_, i) => since + (i + 1) * EVERY_MS));
    // both beats published some of them: A up to its death, B after
    expect(ticks.filter((t) => t <= killedAt).length).toBeGreaterThanOrEqual(10);
    expect(ticks.filter((t) => t > killedAt).length).toBeGreaterThanOrEqual(10);
  });
});
