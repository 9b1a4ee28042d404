import type { TestingModule } from '@nestjs/testing';
import {
  TaskClient,
  TaskControl,
  TaskError,
  TaskInspector,
  type AsyncResult,
  type Transport,
} from '../../src/index.js';
import { runCli } from '../../src/cli/cli.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import { createTaskApp } from '../utils/app.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const WORKER = 'test/e2e/.build/test/e2e/fixtures/worker-main.js';

/** Celery's inspect and control verbs against two real worker processes. */
describe('remote control of worker processes', () => {
  const prefix = testPrefix('control');
  const children: Child[] = [];
  let app: TestingModule;
  let client: TaskClient;
  let inspector: TaskInspector;
  let control: TaskControl;
  let transport: Transport;
  let w1: string;
  let w2: string;
  const pid = new Map<string, number>();

  beforeAll(async () => {
    await buildE2eFixtures();
    app = await createTaskApp({ brokerUrl: REDIS_URL, prefix }, []);
    client = app.get(TaskClient);
    inspector = app.get(TaskInspector);
    control = app.get(TaskControl);
    transport = app.get(TASK_QUEUE_TRANSPORT);
    for (let i = 0; i < 2; i++)
      children.push(
        await spawnNode(WORKER, { REDIS_URL, TQ_PREFIX: prefix, TQ_CONCURRENCY: '2', TQ_LEASE_MS: '3000' }),
      );
    await until(async () => (await inspector.ping({ timeout: 300 })).length === 2, 10_000, 'two workers');
    const stats = await inspector.stats();
    [w1, w2] = stats.map((s) => s.worker).sort();
    for (const s of stats) pid.set(s.worker, s.stats.pid);
  }, 180_000);

  afterAll(async () => {
    killAll(children);
    await Promise.all(children.map((c) => c.exited));
    await app?.close();
    await cleanupPrefix(prefix);
  });

  it('inspect: ping, stats, registered, conf (no credentials), each from the workers named', async () => {
    expect((await inspector.ping()).sort()).toEqual([w1, w2]);
    expect(await inspector.ping({ destination: [w2] })).toEqual([w2]);
    const [s] = await inspector.stats({ destination: [w1] });
    expect(s.worker).toBe(w1);
    expect(s.stats).toMatchObject({
      concurrency: 2,
      queues: ['default'],
      pid: pid.get(w1),
      uptimeMs: expect.any(Number),
    });
    expect(s.stats.memory.rss).toBeGreaterThan(0);
    const registered = await inspector.registered();
    expect(registered).toHaveLength(2);
    expect(registered[0].tasks).toEqual(expect.arrayContaining(['e2e.sleep', 'e2e.square']));
    const [conf] = await inspector.conf({ destination: [w1] });
    expect(conf.conf).toMatchObject({
      prefix,
      defaultQueue: 'default',
      worker: { queues: ['default'], concurrency: 2 },
    });
    expect(JSON.stringify(conf.conf)).not.toMatch(/redis:\/\//);
  });

  it('inspect: active tasks on the workers, scheduled ones in the broker', async () => {
    const running = [await client.send('e2e.sleep', [4000]), await client.send('e2e.sleep', [4000])];
    let ids: string[] = [];
    const seen = async () => {
      ids = (await inspector.active({ timeout: 300 })).flatMap((w) => w.tasks.map((t) => t.id)).sort();
      return ids.length === 2;
    };
    await until(seen, 5000, 'two running');
    expect(ids).toEqual(running.map((r) => r.id).sort());
    const later = await client.send('e2e.square', [3], { countdown: '1h' });
    expect(await inspector.scheduled('default')).toEqual([
      { id: later.id, task: 'e2e.square', queue: 'default', dueAt: expect.any(Number) },
    ]);
    await later.revoke();
    await Promise.all(running.map((r) => r.get({ timeout: 10_000 })));
  });

  it('pool_grow / pool_shrink change one worker, visible in stats', async () => {
    const grown = await control.poolGrow(3, { destination: [w1] });
    expect(grown).toEqual([{ worker: w1, ok: true, data: { concurrency: 5 }, error: undefined }]);
    const by = async () => Object.fromEntries((await inspector.stats()).map((s) => [s.worker, s.stats.concurrency]));
    expect(await by()).toEqual({ [w1]: 5, [w2]: 2 });
    await control.poolShrink(3, { destination: [w1] });
    expect(await by()).toEqual({ [w1]: 2, [w2]: 2 });
    const bad = await control.poolGrow(0, { destination: [w1] });
    expect(bad[0]).toMatchObject({ ok: false, error: expect.stringMatching(/positive integer/) });
  });

  it('add_consumer / cancel_consumer start and stop a queue without a restart', async () => {
    const r = await client.send<number>('e2e.sleep', [1], { queue: 'extra' });
    const added = await control.addConsumer('extra', { destination: [w2] });
    expect(added[0].data).toEqual({ queues: ['default', 'extra'] });
    expect(await r.get({ timeout: 10_000 })).toBe(pid.get(w2));
    const cancelled = await control.cancelConsumer('extra', { destination: [w2] });
    expect(cancelled[0].data).toEqual({ queues: ['default'] });
    const left = await control.cancelConsumer('default', { destination: [w2] });
    expect(left[0]).toMatchObject({ ok: false, error: expect.stringMatching(/only queue/) });
  });

  it('rate_limit: a new limit takes effect across workers, and can be removed', async () => {
    const replies = await control.rateLimit('e2e.square', '2/s');
    expect(replies.map((x) => x.ok)).toEqual([true, true]);
    expect(replies[0].data).toEqual({ task: 'e2e.square', rateLimit: { limit: 2, intervalMs: 1000 } });
    const results = await Promise.all([1, 2, 3, 4].map((i) => client.send<number>('e2e.square', [i])));
    expect(await Promise.all(results.map((x) => x.get({ timeout: 10_000 })))).toEqual([1, 4, 9, 16]);
    // four starts at 2/s are 1.5 s apart end to end (unlimited, they would all end within a few ms)
    const ends = await Promise.all(results.map(async (x) => (await x.record())!.at));
    expect(Math.max(...ends) - Math.min(...ends)).toBeGreaterThanOrEqual(1000);
    const removed = await control.rateLimit('e2e.square', null);
    expect(removed[0].data).toEqual({ task: 'e2e.square', rateLimit: null });
    const unknown = await control.rateLimit('no.such.task', '1/s');
    expect(unknown[0]).toMatchObject({ ok: false, error: expect.stringMatching(/no\.such\.task/) });
  });

  it('time_limit: a hard limit set at runtime fails a long task, and can be removed', async () => {
    await control.timeLimit('e2e.sleep', { hard: 200 });
    const r = await client.send('e2e.sleep', [3000]);
    await expect(r.get({ timeout: 10_000 })).rejects.toMatchObject({ type: 'TimeLimitExceededError' });
    const cleared = await control.timeLimit('e2e.sleep', { hard: null });
    expect(cleared[0].data).toMatchObject({ task: 'e2e.sleep', timeLimitMs: null });
  });

  it('revoke by task name pattern terminates the running ones', async () => {
    const r = await client.send('e2e.sleep', [5000]);
    await until(async () => (await inspector.active()).some((w) => w.tasks.some((t) => t.id === r.id)), 5000, 'start');
    const replies = await control.revoke({ task: 'e2e.sl*' }, { terminate: true, ttl: 100 });
    expect(replies.flatMap((x) => x.data!.revoked)).toEqual([r.id]);
    await expect(r.get({ timeout: 5000 })).rejects.toBeInstanceOf(Error);
    expect(await (r as AsyncResult).state()).toBe('REVOKED');
    expect(() => control.revoke({ task: 'bad name!' })).toThrow(/revoke\(target\)/);
  });

  it('the CLI: inspect and control verbs, JSON output and exit codes', async () => {
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const code = await runCli(['--broker', REDIS_URL, '--prefix', prefix, ...args], {
        out: (l) => out.push(l),
        err: (l) => out.push(l),
      });
      return { code, out: out.join('\n') };
    };
    const stats = await cli('--json', 'inspect', 'stats', '-d', w1);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.out)).toEqual([{ worker: w1, reply: expect.stringContaining('"concurrency":2') }]);
    expect((await cli('control', 'pool_grow', '1', '-d', w2)).code).toBe(0);
    expect((await cli('control', 'pool_shrink', '1', '-d', w2)).code).toBe(0);
    const bad = await cli('control', 'rate_limit', 'no.such.task', '1/s');
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/no\.such\.task/);
    expect((await cli('inspect', 'ping', '-d', 'nobody', '-t', '200')).out).toMatch(/\(none\)/);
  });

  it('shutdown: the worker named drains and its process exits 0', async () => {
    const target = children.find((c) => c.proc.pid === pid.get(w2))!;
    const replies = await control.shutdown({ destination: [w2] });
    expect(replies).toEqual([{ worker: w2, ok: true, data: { shutdown: true }, error: undefined }]);
    expect(await target.exited).toEqual({ code: 0, signal: null });
    expect(await inspector.ping({ timeout: 300 })).toEqual([w1]);
  });

  it('a bad destination is refused, naming the option', async () => {
    await expect(inspector.stats({ destination: 'w1' as unknown as string[] })).rejects.toThrow(/destination/);
    expect(TaskError).toBeDefined();
  });
});
