import type { TestingModule } from '@nestjs/testing';
import { TaskClient, TaskWorker, type Transport } from '../../src/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { MathService } from '../fixtures/math.service.js';
import { createTaskApp } from '../utils/app.js';
import { BROKERS, cleanupPrefix, testPrefix } from '../utils/redis.js';

describe.each(BROKERS)('priorities and queues on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`routing-${kind}`);
  let app: TestingModule;
  let client: TaskClient;
  let worker: TaskWorker;
  let transport: Transport;
  let math: MathService;

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: brokerUrl(), prefix }, [MathService]);
    client = app.get(TaskClient);
    worker = app.get(TaskWorker);
    transport = app.get(TASK_QUEUE_TRANSPORT);
    math = app.get(MathService);
  });

  afterEach(async () => {
    await worker.stop();
    math.order.length = 0;
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  it('runs higher priority first, and FIFO within one priority', async () => {
    const plan: Array<[string, number]> = [
      ['p1', 1],
      ['p9a', 9],
      ['p5a', 5],
      ['p9b', 9],
      ['p0', 0],
      ['p5b', 5],
    ];
    const results = [];
    for (const [label, priority] of plan) results.push(await client.send('math.record', [label], { priority }));
    await worker.start({ concurrency: 1 });
    await Promise.all(results.map((r) => r.get({ timeout: 5000 })));
    expect(math.order).toEqual(['p9a', 'p9b', 'p5a', 'p5b', 'p1', 'p0']);
  });

  it('uses the priority of the @Task unless the call overrides it', async () => {
    const r = await client.for(MathService).record.applyAsync(['x'], { priority: 7 });
    expect(
      JSON.parse(
        (
          await transport.reserve({
            queue: 'default',
            max: 1,
            startCount: 0,
            leaseMs: 1000,
            workerId: 'w',
            maxRedeliveries: 1,
            resultTtlMs: 1000,
          })
        ).items[0].raw,
      ).priority,
    ).toBe(7);
    await transport.purge('default');
    await r.forget();
  });

  it('consumes only the queues it is given', async () => {
    const email = await client.for(MathService).email.delay('a@example.com'); // @Task({ queue: 'email' })
    const routed = await client.send('math.add', [1, 1], { queue: 'email' });
    const local = await client.for(MathService).add.delay(2, 2);
    await worker.start({ queues: ['default'], concurrency: 2 });
    expect(await local.get({ timeout: 5000 })).toBe(4);
    expect(await email.state()).toBe('PENDING');
    expect((await transport.counts('email')).ready).toBe(2);
    await worker.stop();
    await worker.start({ queues: ['email'], concurrency: 2 });
    expect(await email.get({ timeout: 5000 })).toBe('sent to a@example.com');
    expect(await routed.get({ timeout: 5000 })).toBe(2);
    expect(email.queue).toBe('email');
  });

  it('serves several queues without starving one', async () => {
    const a = [];
    const b = [];
    for (let i = 0; i < 20; i++) a.push(await client.send('math.record', [`a${i}`], { queue: 'qa' }));
    for (let i = 0; i < 3; i++) b.push(await client.send('math.record', [`b${i}`], { queue: 'qb' }));
    await worker.start({ queues: ['qa', 'qb'], concurrency: 1 });
    await Promise.all([...a, ...b].map((r) => r.get({ timeout: 5000 })));
    // qb's tasks did not wait for all of qa's
    expect(math.order.indexOf('b2')).toBeLessThan(math.order.indexOf('a19'));
  });
});

describe.each(BROKERS)('results by id alone on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`lookup-${kind}`);
  let app: TestingModule;
  let client: TaskClient;

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: brokerUrl(), prefix }, [MathService]);
    client = app.get(TaskClient);
    await app.get(TaskWorker).start({ queues: ['default', 'email'], concurrency: 2 });
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  it('finds a task of any queue the application knows, by id alone', async () => {
    const published = await client.for(MathService).email.delay('b@example.com'); // queue 'email'
    const byId = client.result<string>(published.id);
    expect(byId.queue).toBeUndefined();
    expect(await byId.get({ timeout: 5000 })).toBe('sent to b@example.com');
    expect(await byId.state()).toBe('SUCCESS');
    expect(byId.queue).toBe('email');
  });

  it('waits by id alone for a task that has not finished yet', async () => {
    const published = await client.for(MathService).email.applyAsync(['c@example.com'], { countdown: 200 });
    expect(await client.result(published.id).get({ timeout: 5000 })).toBe('sent to c@example.com');
  });

  it('refuses an id or queue that cannot be a task id', () => {
    expect(() => client.result('../../etc')).toThrow(/"result id"/);
    expect(() => client.result('ok', 'bad queue')).toThrow(/"result queue"/);
  });
});
