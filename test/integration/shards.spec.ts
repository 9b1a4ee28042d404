/**
 * queues: { events: { shards: 4 } }: one logical queue over four broker queues,
 * on Redis and on the memory broker. The user sees one queue named "events".
 */
import type { TestingModule } from '@nestjs/testing';
import { TaskClient, TaskError, TaskInspector, TaskRevokedError, TaskWorker, chord } from '../../src/index.js';
import { TaskQueueConnection } from '../../src/task-queue.providers.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { QueueShards } from '../../src/transport/sharded.transport.js';
import { runCli } from '../../src/cli/cli.js';
import { CanvasTasks } from '../fixtures/canvas.service.js';
import { createTaskApp } from '../utils/app.js';
import { BROKERS, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

describe('QueueShards', () => {
  const shards = new QueueShards({ events: 4 });

  it('names shard 0 after the queue and the others <queue>@<i>; a queue without shards is itself', () => {
    expect(shards.all('events')).toEqual(['events', 'events@1', 'events@2', 'events@3']);
    expect(shards.all('other')).toEqual(['other']);
    expect(shards.of('other', 'x')).toBe('other');
    expect(shards.logical('events@3')).toBe('events');
  });

  it('spreads ids over every shard, the same way every time', () => {
    const hit = new Set(Array.from({ length: 100 }, (_, i) => shards.of('events', `id-${i}`)));
    expect(hit.size).toBe(4);
    expect(shards.of('events', 'id-7')).toBe(shards.of('events', 'id-7'));
  });
});

describe.each(BROKERS)('a sharded queue on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`shards-${kind}`);
  let app: TestingModule;
  let client: TaskClient;
  let worker: TaskWorker;

  beforeAll(async () => {
    app = await createTaskApp(
      { brokerUrl: brokerUrl(), prefix, queues: { events: { shards: 4 } }, worker: { queues: ['events', 'default'] } },
      [CanvasTasks],
    );
    client = app.get(TaskClient);
    worker = app.get(TaskWorker);
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    await MemoryTransport.resetShared();
  });

  it('spreads tasks over the shards, shows one queue, and a worker runs them all', async () => {
    const sent = await Promise.all(
      Array.from({ length: 40 }, (_, i) => client.send<number>('add', [i, 1], { queue: 'events' })),
    );
    const base = app.get(TaskQueueConnection).base;
    const perShard = await Promise.all(['events', 'events@1', 'events@2', 'events@3'].map((q) => base.counts(q)));
    expect(perShard.filter((c) => c.ready > 0).length).toBeGreaterThan(1);
    expect(await app.get(TaskInspector).counts('events')).toMatchObject({ ready: 40 });
    expect(await app.get(TaskInspector).queues()).toEqual(['events']);
    if (kind === 'redis') {
      // the CLI, told the shards as the apps are, counts the logical queue
      const out: string[] = [];
      const cli = ['--broker', brokerUrl(), '--prefix', prefix, '--shards', 'events=4', '--json', 'queues', 'events'];
      expect(await runCli(cli, { out: (l) => out.push(l), err: (l) => out.push(l) })).toBe(0);
      expect(JSON.parse(out.join('\n'))).toEqual([expect.objectContaining({ queue: 'events', ready: 40 })]);
    }
    await worker.start({ queues: ['events', 'default'], concurrency: 4 });
    expect(await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })))).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    // found by id alone, in whichever shard
    expect(await client.result<number>(sent[7].id).get({ timeout: 1000 })).toBe(8);
    expect(await app.get(TaskInspector).counts('events')).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('runs a chord whose body is on the sharded queue', async () => {
    const header = Array.from({ length: 5 }, (_, i) =>
      client.signature<number>('add', [i, i]).set({ queue: 'events' }),
    );
    const r = await chord(header, client.signature<number>('xsum', []).set({ queue: 'events' })).delay();
    expect(await r.get({ timeout: 10_000 })).toBe(20);
  });

  it('keeps a failure in the dead letters of the logical queue, and revokes a delayed task', async () => {
    const failed = await client.send('boom', ['sharded'], { queue: 'events' });
    await expect(failed.get({ timeout: 10_000 })).rejects.toBeInstanceOf(TaskError);
    await until(
      async () => (await app.get(TaskInspector).deadLetters('events')).some((d) => d.id === failed.id),
      5000,
      'the dead letter',
    );
    const later = await client.send('add', [1, 1], { queue: 'events', countdown: 60_000 });
    expect(await app.get(TaskInspector).counts('events')).toMatchObject({ delayed: 1 });
    await later.revoke();
    await expect(later.get({ timeout: 1000 })).rejects.toBeInstanceOf(TaskRevokedError);
    expect(await app.get(TaskInspector).counts('events')).toMatchObject({ delayed: 0 });
  });
});
