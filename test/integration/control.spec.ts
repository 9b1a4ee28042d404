import type { TestingModule } from '@nestjs/testing';
import { TaskClient, TaskInspector, TaskRevokedError, TaskWorker } from '../../src/index.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { MathService } from '../fixtures/math.service.js';
import { createTaskApp } from '../utils/app.js';
import { BROKERS, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

describe.each(BROKERS)('remote control on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`control-${kind}`);
  let app: TestingModule;
  let client: TaskClient;
  let worker: TaskWorker;
  let inspector: TaskInspector;

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: brokerUrl(), prefix }, [MathService]);
    client = app.get(TaskClient);
    worker = app.get(TaskWorker);
    inspector = app.get(TaskInspector);
    await worker.start({ concurrency: 1, prefetch: 1 });
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  it('ping: every live worker answers', async () => {
    expect(await inspector.ping(300)).toEqual([worker.id]);
  });

  it('active: lists what each worker runs now', async () => {
    const gate = `active-${kind}`;
    const r = await client.for(MathService).hold.delay(gate);
    await until(() => MathService.started.has(gate), 5000, 'the task to start');
    const active = await inspector.active(300);
    expect(active).toEqual([
      { worker: worker.id, tasks: [expect.objectContaining({ id: r.id, task: 'math.hold', queue: 'default' })] },
    ]);
    MathService.gates.add(gate);
    await r.get({ timeout: 5000 });
  });

  it('revoke with terminate aborts a running task on its worker and frees the slot, even if the task ignores its signal', async () => {
    const gate = `stubborn-${kind}`;
    const r = await client.for(MathService).stubborn.delay(gate);
    await until(() => MathService.started.has(gate), 5000, 'the task to start');
    const prefetched = await client.for(MathService).add.delay(1, 1); // waits in the worker's prefetch buffer
    await r.revoke({ terminate: true });
    await expect(r.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    // revoke() records REVOKED at once; the worker then records that it terminated the run
    await until(
      async () => (await r.record())?.error?.message === 'terminated',
      5000,
      'the worker to record the termination',
    );
    expect(await r.record()).toMatchObject({ state: 'REVOKED', error: { message: 'terminated' } });
    expect(await prefetched.get({ timeout: 5000 })).toBe(2); // the slot was freed long before the task's 3 s
  });

  it('revoke without terminate lets a running task finish, and drops a prefetched one', async () => {
    const gate = `no-terminate-${kind}`;
    const running = await client.for(MathService).hold.delay(gate);
    await until(() => MathService.started.has(gate), 5000, 'the task to start');
    const label = `prefetched-${kind}`;
    const prefetched = await client.send('math.record', [label]);
    await until(async () => worker.stats().prefetched === 1, 5000, 'the prefetch');
    await prefetched.revoke(); // a broadcast: the worker drops it from its buffer when the message arrives
    await until(() => worker.stats().prefetched === 0, 5000, 'the worker to drop the prefetched task');
    MathService.gates.add(gate);
    expect(await running.get({ timeout: 5000 })).toBe(gate);
    await expect(prefetched.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    expect(app.get(MathService).order).not.toContain(label);
  });
});
