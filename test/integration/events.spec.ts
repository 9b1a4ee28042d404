import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  SignalEmitter,
  TaskClient,
  TaskError,
  TaskInspector,
  TaskSignal,
  TaskWorker,
  type TaskEvent,
} from '../../src/index.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { runCli } from '../../src/cli/cli.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import type { Transport } from '../../src/transport/transport.interface.js';
import { MathService } from '../fixtures/math.service.js';
import { createTaskApp } from '../utils/app.js';
import { TestRedisServer } from '../utils/redis-servers.js';
import { BROKERS, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const CAP = 1000;

describe.each(BROKERS)('task and worker events on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`events-${kind}`);
  let app: TestingModule;
  let client: TaskClient;
  let inspector: TaskInspector;
  let url: string;

  beforeAll(async () => {
    url = brokerUrl();
    app = await createTaskApp({ brokerUrl: url, prefix, events: { maxLength: CAP } }, [MathService]);
    client = app.get(TaskClient);
    inspector = app.get(TaskInspector);
    await app.get(TaskWorker).start({ concurrency: 2 });
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  /** Every event kept, oldest first, read in pages from the start. */
  async function allEvents(): Promise<TaskEvent[]> {
    const out: TaskEvent[] = [];
    let from = '0';
    for (;;) {
      const page = await inspector.events({ from, count: 200 });
      out.push(...page.events);
      if (page.events.length < 200) return out;
      from = page.cursor;
    }
  }
  const of = (events: TaskEvent[], id: string) => events.filter((e) => e.id === id).map((e) => e.type);

  it("a task's events, in order, from the stream", async () => {
    const r = await client.for(MathService).add.delay(2, 3);
    expect(await r.get({ timeout: 5000 })).toBe(5);
    await until(async () => of(await allEvents(), r.id).length === 4, 5000, 'four events');
    const events = await allEvents();
    expect(of(events, r.id)).toEqual(['task-sent', 'task-received', 'task-started', 'task-succeeded']);
    const done = events.find((e) => e.id === r.id && e.type === 'task-succeeded')!;
    expect(done).toMatchObject({ task: 'math.add', queue: 'default', resultrepr: '5', runtime: expect.any(Number) });
    expect(events.find((e) => e.id === r.id && e.type === 'task-sent')).toMatchObject({ argsrepr: '[2,3]' });
    expect(events.find((e) => e.id === r.id && e.type === 'task-started')?.worker).toEqual(expect.any(String));
    expect(events.some((e) => e.type === 'worker-online')).toBe(true);
  });

  it('retries and failures', async () => {
    const m = client.for(MathService);
    const flaky = await m.flaky.delay(`events-${prefix}`, 1);
    expect(await flaky.get({ timeout: 5000 })).toBe(2);
    const failing = await m.fail.delay('nope');
    await expect(failing.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskError);
    await until(async () => of(await allEvents(), failing.id).includes('task-failed'), 5000, 'the failure');
    const events = await allEvents();
    expect(of(events, flaky.id)).toEqual([
      'task-sent',
      'task-received',
      'task-started',
      'task-retried',
      'task-received',
      'task-started',
      'task-succeeded',
    ]);
    expect(events.find((e) => e.id === failing.id && e.type === 'task-failed')).toMatchObject({
      exception: 'RangeError: nope',
    });
  });

  it('tails live: a blocking read from "$" wakes when the next event is written', async () => {
    const { cursor } = await inspector.events({ from: '$' });
    const waiting = inspector.events({ from: cursor, block: '5s', count: 10 });
    const r = await client.for(MathService).add.delay(1, 1);
    const { events } = await waiting;
    expect(events[0]).toMatchObject({ type: 'task-sent', id: r.id });
    await r.get({ timeout: 5000 });
    // its last event is written just after its result: let it land before the next test reads
    await until(async () => of(await allEvents(), r.id).includes('task-succeeded'), 5000, 'the last event');
  });

  it('taskqueue events: filters, follows from a cursor, prints JSON lines or text', async () => {
    const lines: string[] = [];
    const cli = (...args: string[]) =>
      runCli(['--broker', url, '--prefix', prefix, ...args], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    const { cursor } = await inspector.events({ from: '$' });
    const following = cli('--json', 'events', '--from', cursor, '--task', 'math.add', '--state', 'success', '-n', '2');
    const m = client.for(MathService);
    const [a, b, c] = [await m.add.delay(1, 2), await m.fail.delay('x'), await m.add.delay(3, 4)];
    expect(await following).toBe(0);
    const printed = lines.map((l) => JSON.parse(l) as TaskEvent);
    expect(printed.map((e) => [e.type, e.id])).toEqual([
      ['task-succeeded', a.id],
      ['task-succeeded', c.id],
    ]);
    await expect(b.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskError);

    lines.length = 0;
    expect(await cli('events', '--from', cursor, '--no-follow', '--state', 'FAILURE')).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`task-failed +math\\.fail\\[${b.id}\\] +queue=default +exception=RangeError: x`),
    );
  });

  it('keeps the stream capped under 100,000 events', async () => {
    const transport = app.get<Transport>(TASK_QUEUE_TRANSPORT);
    const batch = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ type: 'task-sent', at: i }));
    for (let i = 0; i < 100; i++) await transport.appendEvents(batch, CAP);
    const kept = (await allEvents()).length;
    // Redis trims whole stream nodes (100 entries each by default) with MAXLEN ~
    expect(kept).toBeGreaterThanOrEqual(CAP);
    expect(kept).toBeLessThanOrEqual(CAP + 100);
  });

  it('refuses a bad cursor or count, naming it', async () => {
    await expect(inspector.events({ from: 'yesterday' })).rejects.toThrow(/events\(\{ from \}\)/);
    await expect(inspector.events({ count: 0 })).rejects.toThrow(/events\(\{ count \}\)/);
  });
});

describe('events off (the default)', () => {
  const prefix = testPrefix('events-off');
  let server: TestRedisServer;
  let url: string;
  let app: TestingModule;

  beforeAll(async () => {
    // a redis-server of this test's own: its command statistics are this test's alone
    server = await TestRedisServer.start();
    url = `redis://127.0.0.1:${server.port}`;
    app = await createTaskApp({ brokerUrl: url, prefix }, [MathService]);
    await app.get(TaskWorker).start({ concurrency: 2 });
  });

  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('subscribes to nothing and sends no stream command to Redis', async () => {
    const m = app.get(TaskClient).for(MathService);
    for (let i = 0; i < 20; i++) expect(await (await m.add.delay(i, 1)).get({ timeout: 5000 })).toBe(i + 1);
    const signals = app.get(SignalEmitter);
    expect(signals.has(TaskSignal.AfterPublish)).toBe(false);
    expect(signals.has(TaskSignal.Prerun)).toBe(false);
    const redis = new Redis(url);
    try {
      const stats = await redis.info('commandstats');
      expect(stats).not.toMatch(/cmdstat_x(add|read|revrange)/);
      expect(await redis.exists(`${prefix}:events`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
