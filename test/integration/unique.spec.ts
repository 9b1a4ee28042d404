import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Task, TaskClient, TaskQueueConfigError, TaskWorker, chain } from '../../src/index.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { createTaskApp } from '../utils/app.js';
import { BROKERS, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

/** Tasks that wait for the test to let them finish, and count their runs. */
@Injectable()
class UniqueTasks {
  static readonly runs = new Map<string, number>();
  static readonly gates = new Map<string, () => void>();
  static started = new Set<string>();

  private async run(tag: string): Promise<string> {
    UniqueTasks.runs.set(tag, (UniqueTasks.runs.get(tag) ?? 0) + 1);
    UniqueTasks.started.add(tag);
    await new Promise<void>((resolve) => UniqueTasks.gates.set(tag, resolve));
    return tag;
  }

  @Task({ name: 'report.queued', unique: { key: (user: string) => `user:${user}`, ttl: '1m', while: 'queued' } })
  queued(user: string, tag: string): Promise<string> {
    return this.run(tag);
  }

  @Task({ name: 'report.running', unique: { key: (user: string) => `user:${user}`, ttl: '1m' } })
  running(user: string, tag: string): Promise<string> {
    return this.run(tag);
  }

  @Task({ name: 'report.ttl', unique: { key: (user: string) => `user:${user}`, ttl: 600, while: 'ttl' } })
  ttl(user: string): string {
    return user;
  }

  @Task('plain.count')
  count(tag: string): string {
    UniqueTasks.runs.set(tag, (UniqueTasks.runs.get(tag) ?? 0) + 1);
    return tag;
  }
}

const release = (tag: string) => UniqueTasks.gates.get(tag)?.();

describe.each(BROKERS)('unique tasks and idempotency keys on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`unique-${kind}`);
  let app: TestingModule;
  let client: TaskClient;
  const tag = (name: string) => `${name}-${kind}`;

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: brokerUrl(), prefix }, [UniqueTasks]);
    client = app.get(TaskClient);
    await app.get(TaskWorker).start({ concurrency: 8 });
  });

  afterAll(async () => {
    for (const open of UniqueTasks.gates.values()) open();
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  it('dedupe: a second publish with the key returns the first task, until the ttl ends', async () => {
    const t = tag('dedupe');
    const opts = { dedupe: { key: `order-${kind}`, ttl: 500 }, countdown: '1h' };
    const a = await client.send('plain.count', [t], opts);
    const b = await client.send('plain.count', [t], opts);
    expect(b.id).toBe(a.id);
    await until(async () => (await client.send('plain.count', [t], opts)).id !== a.id, 3000, 'the key to expire');
    await a.revoke();
  });

  it('dedupe is atomic: 25 concurrent publishes enqueue one task, and it runs once', async () => {
    const t = tag('race');
    const handles = await Promise.all(
      Array.from({ length: 25 }, () => client.send('plain.count', [t], { dedupe: { key: `race-${kind}`, ttl: '1m' } })),
    );
    expect(new Set(handles.map((h) => h.id)).size).toBe(1);
    expect(await handles[0].get({ timeout: 5000 })).toBe(t);
    await new Promise((r) => setTimeout(r, 200));
    expect(UniqueTasks.runs.get(t)).toBe(1);
  });

  it("while: 'queued' — a duplicate of a waiting task is refused; once it starts, a new one is taken", async () => {
    const t1 = tag('queued-1');
    const m = client.for(UniqueTasks);
    const waiting = await m.queued.applyAsync([`u-${kind}`, t1], { countdown: '1h' });
    expect((await m.queued.delay(`u-${kind}`, tag('never'))).id).toBe(waiting.id);
    await waiting.revoke(); // revoking the waiting one frees its key
    const first = await m.queued.delay(`u-${kind}`, t1);
    expect(first.id).not.toBe(waiting.id);
    await until(() => UniqueTasks.started.has(t1), 5000, 'the task to start');
    const second = await m.queued.delay(`u-${kind}`, tag('queued-2'));
    expect(second.id).not.toBe(first.id);
    release(t1);
    await until(() => UniqueTasks.started.has(tag('queued-2')), 5000, 'the second to start');
    release(tag('queued-2'));
    await Promise.all([first.get({ timeout: 5000 }), second.get({ timeout: 5000 })]);
    expect(UniqueTasks.runs.get(tag('never'))).toBeUndefined();
  });

  it("while: 'running' (the default) — refused while it runs, taken again once it ended", async () => {
    const t = tag('running');
    const m = client.for(UniqueTasks);
    const first = await m.running.delay(`u-${kind}`, t);
    await until(() => UniqueTasks.started.has(t), 5000, 'the task to start');
    const again = await m.running.delay(`u-${kind}`, tag('running-dup'));
    expect(again.id).toBe(first.id);
    release(t);
    expect(await again.get({ timeout: 5000 })).toBe(t);
    const next = await m.running.delay(`u-${kind}`, tag('running-next'));
    expect(next.id).not.toBe(first.id);
    await until(() => UniqueTasks.started.has(tag('running-next')), 5000, 'the next to start');
    release(tag('running-next'));
    expect(await next.get({ timeout: 5000 })).toBe(tag('running-next'));
  });

  it("while: 'ttl' — the key holds after the task ended, until its ttl", async () => {
    const m = client.for(UniqueTasks);
    const first = await m.ttl.delay(`t-${kind}`);
    expect(await first.get({ timeout: 5000 })).toBe(`t-${kind}`);
    expect((await m.ttl.delay(`t-${kind}`)).id).toBe(first.id);
    await until(async () => (await m.ttl.delay(`t-${kind}`)).id !== first.id, 3000, 'the ttl to end');
  });

  it('sendMany: duplicates in one call get the handle of the one enqueued', async () => {
    const t = tag('many');
    const calls = [0, 1, 2].map(() => ({
      name: 'plain.count',
      args: [t],
      options: { dedupe: { key: `many-${kind}`, ttl: '1m' } },
    }));
    const handles = await client.sendMany(calls);
    expect(new Set(handles.map((h) => h.id)).size).toBe(1);
    await handles[0].get({ timeout: 5000 });
  });

  it('refuses what it cannot keep, naming the option', async () => {
    await expect(client.send('plain.count', ['x'], { dedupe: { key: 'has "quotes"', ttl: '1m' } })).rejects.toThrow(
      /dedupe\.key/,
    );
    await expect(client.send('plain.count', ['x'], { dedupe: { key: 'k', ttl: 0 } })).rejects.toThrow(/dedupe\.ttl/);
    const step = client.signature('plain.count', ['x']).set({ dedupe: { key: 'k', ttl: '1m' } });
    await expect(
      chain(client.signature('plain.count', ['y']), step)
        .bind(client)
        .delay(),
    ).rejects.toThrow(TaskQueueConfigError);
  });
});
