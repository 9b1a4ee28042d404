import type { TestingModule } from '@nestjs/testing';
import {
  InvalidMessageError,
  NonSerializableArgumentError,
  TaskClient,
  TaskError,
  TaskRevokedError,
  TaskTimeoutError,
  TaskWorker,
  TaskInspector,
  UnknownTaskError,
  type Transport,
} from '../../src/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { MathService } from '../fixtures/math.service.js';
import { createTaskApp } from '../utils/app.js';
import { BROKERS, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

describe.each(BROKERS)('core path on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`core-${kind}`);
  let app: TestingModule;
  let client: TaskClient;
  let worker: TaskWorker;
  let transport: Transport;
  let math: MathService;

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: brokerUrl(), prefix, resultExpires: '10m' }, [MathService]);
    client = app.get(TaskClient);
    worker = app.get(TaskWorker);
    transport = app.get(TASK_QUEUE_TRANSPORT);
    math = app.get(MathService);
    await worker.start({ queues: ['default'], concurrency: 4, lease: '2s' });
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  it('runs a task through the typed handle and returns its result', async () => {
    const r = await client.for(MathService).add.delay(2, 3);
    await expect(r.get({ timeout: '5s' })).resolves.toBe(5);
    expect(await r.state()).toBe('SUCCESS');
    expect(await r.ready()).toBe(true);
    expect(await r.successful()).toBe(true);
    expect(await r.failed()).toBe(false);
    expect(r.taskName).toBe('math.add');
  });

  it('runs a task sent by name', async () => {
    const r = await client.send<number>('math.add', [10, 20]);
    expect(await r.get({ timeout: 5000 })).toBe(30);
  });

  it('reports a failure as TaskError with the remote type, message and stack', async () => {
    const r = await client.for(MathService).fail.delay('boom');
    const err = await r.get({ timeout: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err).toMatchObject({ type: 'RangeError', remoteMessage: 'boom', taskName: 'math.fail' });
    expect((err as TaskError).traceback).toContain('RangeError: boom');
    expect(await r.state()).toBe('FAILURE');
    expect(await r.traceback()).toContain('MathService.fail');
    await expect(r.get({ propagate: false })).resolves.toMatchObject({ type: 'RangeError', message: 'boom' });
    const dead = await transport.listDead('default');
    expect(dead.some((d) => d.id === r.id && d.error?.type === 'RangeError')).toBe(true);
  });

  it('retries with backoff on autoretryFor errors, then succeeds', async () => {
    const key = `flaky-${kind}-1`;
    const r = await client.for(MathService).flaky.delay(key, 2);
    expect(await r.get({ timeout: 5000 })).toBe(3);
    expect(math.attempts.get(key)).toBe(3);
  });

  it('fails for good after retry.max and keeps the task in the dead-letter list', async () => {
    const key = `flaky-${kind}-2`;
    const r = await client.for(MathService).flaky.delay(key, 10);
    await expect(r.get({ timeout: 5000 })).rejects.toMatchObject({ type: 'FlakyError', remoteMessage: 'attempt 4' });
    expect(math.attempts.get(key)).toBe(4);
    const dead = await app.get(TaskInspector).deadLetters('default');
    const entry = dead.find((d) => d.id === r.id);
    expect(entry?.error?.message).toBe('attempt 4');
    expect(JSON.parse(entry!.raw).retries).toBe(3);
  });

  it('does not retry UnrecoverableError', async () => {
    const r = await client.for(MathService).unrecoverable.delay();
    await expect(r.get({ timeout: 5000 })).rejects.toMatchObject({ type: 'UnrecoverableError' });
    expect((await r.record())?.retries).toBe(0);
  });

  it('retries when the task asks to through TaskContext.retry()', async () => {
    const r = await client.for(MathService).manualRetry.delay(`manual-${kind}`);
    expect(await r.get({ timeout: 5000 })).toBe(2);
  });

  it('gives the task its context: id, name, queue, retries, headers', async () => {
    const r = await client
      .for(MathService)
      .context.applyAsync([], { headers: { correlationId: 'abc' }, taskId: `ctx-${kind}-1` });
    expect(r.id).toBe(`ctx-${kind}-1`);
    expect(await r.get({ timeout: 5000 })).toEqual({
      id: `ctx-${kind}-1`,
      name: 'math.context',
      retries: 0,
      headers: { correlationId: 'abc' },
      queue: 'default',
    });
  });

  it('records progress as PROGRESS with meta', async () => {
    const gate = `progress-${kind}`;
    const r = await client.for(MathService).progress.delay(3, gate);
    await until(
      async () => (await r.state()) === 'PROGRESS' && ((await r.info()) as { done: number }).done === 3,
      5000,
      'progress 3/3',
    );
    expect(await r.info()).toEqual({ done: 3, total: 3 });
    MathService.gates.add(gate);
    expect(await r.get({ timeout: 5000 })).toBe(3);
  });

  it('keeps a countdown task in the broker until it is due', async () => {
    const before = Date.now();
    const r = await client.for(MathService).add.applyAsync([1, 1], { countdown: 300 });
    expect(await r.state()).toBe('PENDING');
    expect((await transport.counts('default')).delayed).toBeGreaterThanOrEqual(1);
    expect(await r.get({ timeout: 5000 })).toBe(2);
    expect((await r.record())!.at).toBeGreaterThanOrEqual(before + 300);
  });

  it('starts an eta task no sooner than its eta', async () => {
    const eta = new Date(Date.now() + 200);
    const r = await client.for(MathService).add.applyAsync([2, 2], { eta });
    expect(await r.get({ timeout: 5000 })).toBe(4);
    expect((await r.record())!.at).toBeGreaterThanOrEqual(eta.getTime());
  });

  it('revokes an expired task instead of running it', async () => {
    const r = await client.for(MathService).add.applyAsync([1, 2], { countdown: 100, expires: 50 });
    await expect(r.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    expect(await r.state()).toBe('REVOKED');
  });

  it('revokes a task that has not started', async () => {
    const label = `revoked-${kind}`;
    const r = await client.send('math.record', [label], { countdown: 500 });
    await r.revoke();
    expect(await r.state()).toBe('REVOKED');
    await expect(r.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    const after = await client.send('math.record', [`after-${label}`], { countdown: 600 });
    await after.get({ timeout: 5000 });
    expect(math.order).not.toContain(label);
  });

  it('times out get() with TaskTimeoutError', async () => {
    const r = client.result('never-published-' + kind);
    await expect(r.get({ timeout: 50 })).rejects.toBeInstanceOf(TaskTimeoutError);
    expect(await r.state()).toBe('PENDING');
  });

  it('forgets a result', async () => {
    const r = await client.for(MathService).add.delay(1, 1);
    await r.get({ timeout: 5000 });
    await r.forget();
    expect(await r.state()).toBe('PENDING');
  });

  it('aborts the signal at the soft time limit and lets the task finish', async () => {
    const r = await client.for(MathService).soft.delay();
    expect(await r.get({ timeout: 5000 })).toBe('cleaned up after SoftTimeLimitExceededError');
  });

  it('fails a task past its hard time limit', async () => {
    const r = await client.for(MathService).hard.delay();
    await expect(r.get({ timeout: 5000 })).rejects.toMatchObject({ type: 'TimeLimitExceededError' });
  });

  it('fails a task whose return value JSON cannot carry', async () => {
    const r = await client.for(MathService).badReturn.delay();
    await expect(r.get({ timeout: 5000 })).rejects.toMatchObject({ type: 'InvalidMessageError' });
  });

  it('stores nothing for ignoreResult tasks', async () => {
    const before = worker.stats().succeeded;
    const r = await client.for(MathService).ignored.delay();
    await until(() => worker.stats().succeeded > before, 5000, 'the ignored task to run');
    await until(async () => (await transport.counts('default')).reserved === 0, 5000, 'ack');
    expect(await r.state()).toBe('PENDING');
  });

  it('refuses arguments JSON cannot carry, naming the argument', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const tasks = client.for(MathService);
    await expect(tasks.add.delay(1, (() => 1) as unknown as number)).rejects.toThrow(/args\[1\].*function/);
    await expect(client.send('math.add', [{ when: new Date() }])).rejects.toThrow(/args\[0\]\.when.*Date/);
    await expect(client.send('math.add', [cyclic])).rejects.toThrow(NonSerializableArgumentError);
    await expect(client.send('math.add', [1n])).rejects.toThrow(/BigInt/);
    await expect(client.send('math.add', [[1, undefined]])).rejects.toThrow(/args\[0\]\[1\]/);
    await expect(client.send('math.add', [NaN])).rejects.toThrow(/finite/);
  });

  it('refuses an oversized message before publishing', async () => {
    await expect(client.send('math.record', ['x'.repeat(2 * 1024 * 1024)])).rejects.toThrow(InvalidMessageError);
    await expect(client.send('math.record', ['x'.repeat(2 * 1024 * 1024)])).rejects.toThrow(/maxMessageBytes/);
  });

  it('refuses invalid call options with the option named', async () => {
    await expect(client.send('math.add', [1, 2], { priority: 12 })).rejects.toThrow(/"priority" \(12\)/);
    await expect(client.send('math.add', [1, 2], { countdown: '5 weeks' })).rejects.toThrow(/"countdown"/);
    await expect(client.send('math.add', [1, 2], { taskId: 'has space' })).rejects.toThrow(/"taskId"/);
    expect(() => client.for(MathService).constructor).toThrow(UnknownTaskError);
  });

  it('parks an unknown task with the reason and fails its result', async () => {
    const r = await client.send('nobody.knows', [1]);
    await expect(r.get({ timeout: 5000 })).rejects.toMatchObject({ type: 'UnknownTaskError' });
    const rejected = await app.get(TaskInspector).rejected('default');
    expect(rejected.find((e) => e.id === r.id)?.reason).toMatch(/Unknown task "nobody.knows"/);
    expect((await app.get(TaskInspector).counts('default')).rejected).toBeGreaterThanOrEqual(1);
    expect((await app.get(TaskInspector).workers()).map((w) => w.id)).toContain(worker.id);
  });

  it('parks malformed messages and keeps working', async () => {
    const garbage = [
      'not json at all',
      '{"id":"bad-1","priority":5,"queue":"default","task":"math.add","retries":"x","created":1,"args":[],"v":1}',
      '[1,2,3]',
    ];
    await transport.publish(garbage.map((raw, i) => ({ queue: 'default', id: `garbage-${i}`, priority: 5, raw })));
    const ok = await client.for(MathService).add.delay(40, 2);
    expect(await ok.get({ timeout: 5000 })).toBe(42);
    await until(
      async () => (await transport.listRejected('default')).filter((e) => garbage.includes(e.raw)).length === 3,
      5000,
      'three parked',
    );
    const parked = (await transport.listRejected('default')).filter((e) => garbage.includes(e.raw));
    expect(parked.map((e) => e.reason).sort()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/not valid JSON/),
        expect.stringMatching(/"retries"/),
        expect.stringMatching(/not a JSON object/),
      ]),
    );
    await expect(client.result('bad-1').get({ timeout: 5000 })).rejects.toMatchObject({ type: 'InvalidMessageError' });
  });
});
