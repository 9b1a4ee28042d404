import type { TestingModule } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { TaskInspector, type ResolvedTaskQueueOptions } from '../../src/index.js';
import { DashboardEvents } from '../../src/dashboard/dashboard.events.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import type { Transport } from '../../src/transport/index.js';
import { createTaskApp } from '../utils/app.js';
import { BROKERS, cleanupPrefix, testPrefix } from '../utils/redis.js';

describe.each(BROKERS)('the dashboard built from the event stream (%s)', (kind, url) => {
  const prefix = testPrefix('dash-events');
  let app: TestingModule;
  let events: DashboardEvents;
  let transport: Transport;
  const write = (...list: Array<Record<string, unknown>>) =>
    transport.appendEvents(
      list.map((e) => JSON.stringify(e)),
      10_000,
    );

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: url(), prefix, events: true }, []);
    transport = app.get<Transport>(TASK_QUEUE_TRANSPORT);
    events = new DashboardEvents(app.get(TaskInspector), app.get<ResolvedTaskQueueOptions>(TASK_QUEUE_OPTIONS));
  });

  afterAll(async () => {
    events.onModuleDestroy();
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
  });

  it('folds each task into one row, a late task-sent never taking it back to SENT', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const t0 = Date.now() - 5000;
    await write(
      // a fast worker wrote its events before the publisher wrote task-sent
      {
        type: 'task-received',
        at: t0 + 2,
        id: a,
        task: 'mail.send',
        queue: 'q1',
        worker: 'w1',
        argsrepr: '["bob@example.com"]',
      },
      { type: 'task-started', at: t0 + 3, id: a, task: 'mail.send', queue: 'q1', worker: 'w1' },
      { type: 'task-succeeded', at: t0 + 4, id: a, task: 'mail.send', queue: 'q1', runtime: 1, resultrepr: 'true' },
      { type: 'task-sent', at: t0 + 1, id: a, task: 'mail.send', queue: 'q1', argsrepr: '["bob@example.com"]' },
      { type: 'task-sent', at: t0 + 10, id: b, task: 'report.build', queue: 'q2', argsrepr: '[42]' },
      { type: 'task-received', at: t0 + 11, id: b, task: 'report.build', queue: 'q2', worker: 'w2', retries: 0 },
      {
        type: 'task-retried',
        at: t0 + 12,
        id: b,
        task: 'report.build',
        queue: 'q2',
        exception: 'Error: later',
        retries: 1,
      },
      { type: 'task-failed', at: t0 + 13, id: b, task: 'report.build', queue: 'q2', exception: 'Error: gave up' },
      { type: 'worker-heartbeat', at: t0 + 14, worker: 'w2' },
    );
    const rows = await events.tasks({});
    expect(rows.map((r) => [r.id, r.state])).toEqual([
      [b, 'FAILURE'],
      [a, 'SUCCESS'],
    ]);
    expect(rows[1]).toMatchObject({
      worker: 'w1',
      argsrepr: '["bob@example.com"]',
      resultrepr: 'true',
      sentAt: t0 + 1,
    });
    expect(rows[0]).toMatchObject({ retries: 1, exception: 'Error: gave up', worker: 'w2' });

    expect((await events.tasks({ state: 'SUCCESS' })).map((r) => r.id)).toEqual([a]);
    expect((await events.tasks({ task: 'report.build' })).map((r) => r.id)).toEqual([b]);
    expect((await events.tasks({ queue: 'q1' })).map((r) => r.id)).toEqual([a]);
    expect((await events.tasks({ worker: 'w2' })).map((r) => r.id)).toEqual([b]);
    expect((await events.tasks({ search: 'BOB@' })).map((r) => r.id)).toEqual([a]);
    expect((await events.tasks({ search: b.slice(0, 8) })).map((r) => r.id)).toEqual([b]);
    expect((await events.tasks({ from: t0 + 5 })).map((r) => r.id)).toEqual([b]);
    expect((await events.tasks({ to: t0 + 5 })).map((r) => r.id)).toEqual([a]);
    expect((await events.tasks({ limit: 1 })).map((r) => r.id)).toEqual([b]);
    expect((await events.timeline(b)).map((e) => e.type)).toEqual([
      'task-sent',
      'task-received',
      'task-retried',
      'task-failed',
    ]);

    // throughput: finished per minute and queue, reading on from where it was
    const c = randomUUID();
    const now = Date.now();
    await write({ type: 'task-failed', at: now, id: c, task: 'mail.send', queue: 'q1', exception: 'E: x' });
    const tp = await events.throughput(10, now);
    expect(tp.queues.q1.succeeded.reduce((x, y) => x + y, 0)).toBe(1);
    expect(tp.queues.q1.failed.reduce((x, y) => x + y, 0)).toBe(1);
    expect(tp.queues.q2.failed.reduce((x, y) => x + y, 0)).toBe(1);
    expect(tp.queues.q1.failed[9]).toBe(1);
  });
});
