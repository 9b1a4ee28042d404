/**
 * The ACL rules the README gives, on a redis-server of this file's own: an
 * application user (producer and worker) that may only touch the library's
 * prefix and channels, and a read-only user for inspection (CLI, dashboard).
 */
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Task, TaskClient, TaskInspector, TaskWorker } from '../../src/index.js';
import { createTaskApp } from '../utils/app.js';
import { testPrefix } from '../utils/redis.js';
import { TestRedisServer } from '../utils/redis-servers.js';

@Injectable()
class AclTasks {
  @Task('acl.add')
  add(x: number, y: number): number {
    return x + y;
  }
}

describe('ACL users limited to the prefix', () => {
  const prefix = testPrefix('acl');
  // The rules of the README, for this prefix.
  const appRule = `on >app-secret resetkeys ~${prefix}:* resetchannels &${prefix}:* +@all -@dangerous +info`;
  const readRule = `on >read-secret resetkeys %R~${prefix}:* resetchannels &${prefix}:* -@all +@read +@connection +info +publish +subscribe +unsubscribe`;
  let server: TestRedisServer;
  const apps: TestingModule[] = [];

  beforeAll(async () => {
    server = await TestRedisServer.start([
      '--user',
      'tq-app',
      ...appRule.split(' '),
      '--user',
      'tq-read',
      ...readRule.split(' '),
    ]);
  }, 30_000);

  afterAll(async () => {
    for (const app of apps) await app.close();
    await server?.stop();
  });

  it('the application user publishes, works and waits for results', async () => {
    const app = await createTaskApp({ brokerUrl: `redis://tq-app:app-secret@127.0.0.1:${server.port}`, prefix }, [
      AclTasks,
    ]);
    apps.push(app);
    await app.get(TaskWorker).start({ concurrency: 2 });
    const r = await app.get(TaskClient).send<number>('acl.add', [2, 3]);
    expect(await r.get({ timeout: 5000 })).toBe(5);
    expect(await app.get(TaskInspector).ping(300)).toHaveLength(1);
  });

  it('the same user may not touch keys outside the prefix', async () => {
    const app = await createTaskApp(
      { brokerUrl: `redis://tq-app:app-secret@127.0.0.1:${server.port}`, prefix: `${prefix}-other` },
      [AclTasks],
    );
    apps.push(app);
    await expect(app.get(TaskClient).send('acl.add', [1, 1])).rejects.toThrow(/NOPERM/);
  });

  it('the read-only user lists queues and counts, and may not publish', async () => {
    const app = await createTaskApp({ brokerUrl: `redis://tq-read:read-secret@127.0.0.1:${server.port}`, prefix }, [
      AclTasks,
    ]);
    apps.push(app);
    const inspector = app.get(TaskInspector);
    expect(await inspector.queues()).toContain('default');
    expect(await inspector.counts('default')).toMatchObject({ ready: 0 });
    await expect(app.get(TaskClient).send('acl.add', [1, 1])).rejects.toThrow(/NOPERM/);
  });
});
