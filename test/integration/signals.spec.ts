import { Controller, Injectable, Module, Post, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { NestFactory } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import {
  BeforePublishSignal,
  OnTaskSignal,
  Task,
  TaskClient,
  TaskContext,
  TaskCorrelationMiddleware,
  TaskFailureSignal,
  TaskLogger,
  TaskPostrunSignal,
  TaskQueueModule,
  TaskSignal,
  TaskWorker,
  chain,
  type AsyncResult,
  type TaskHandles,
} from '../../src/index.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

@Injectable()
class SignalTasks {
  static attempts = 0;
  readonly log = new TaskLogger('SignalTasks');
  static lines: string[] = [];

  constructor(private readonly ctx: TaskContext) {}

  @Task('sig.add') add(a: number, b: number): number {
    return a + b;
  }

  @Task('sig.fail') fail(): never {
    throw new TypeError('nope');
  }

  @Task({ name: 'sig.retry', retry: { max: 1, delay: 5, jitter: false } }) retry(): string {
    if (SignalTasks.attempts++ === 0) throw new Error('first attempt fails');
    return 'ok';
  }

  @Task('sig.headers') headers(): Record<string, unknown> {
    SignalTasks.lines.push(TaskLogger.prefix());
    return { ...this.ctx.headers };
  }
}

/** Records every task-queue signal through a wildcard @OnEvent listener. */
@Injectable()
class Recorder {
  readonly filtered: string[] = [];
  readonly wildcard = new Set<string>();

  @OnEvent('task-queue.task.*')
  anyTaskSignal(payload: { id?: string }): void {
    if (payload.id) this.wildcard.add(payload.id);
  }

  @OnTaskSignal(TaskSignal.Success, { task: 'sig.add' })
  onlyAdd(e: { task: string }): void {
    this.filtered.push(e.task);
  }

  @OnTaskSignal(TaskSignal.Prerun, { task: 'sig.add' })
  throwing(): void {
    throw new Error('a listener that throws');
  }

  @OnEvent(TaskSignal.BeforePublish)
  stamp(e: BeforePublishSignal): void {
    e.headers.stamped = 'by-before-publish';
  }
}

describe('signals as Nest events', () => {
  const prefix = testPrefix('signals');
  let app: TestingModule;
  let client: TaskClient;
  let tasks: TaskHandles<SignalTasks>;
  const seen: Array<{ name: string; payload: Record<string, unknown> }> = [];

  beforeAll(async () => {
    app = await Test.createTestingModule({
      imports: [
        EventEmitterModule.forRoot({ wildcard: true }),
        TaskQueueModule.forRoot({ brokerUrl: REDIS_URL, prefix }),
      ],
      providers: [SignalTasks, Recorder],
    }).compile();
    app.useLogger(false);
    await app.init();
    // One listener per signal name records names and order.
    const { EventEmitter2 } = await import('@nestjs/event-emitter');
    const ee = app.get(EventEmitter2);
    for (const name of Object.values(TaskSignal))
      ee.on(name, (payload: Record<string, unknown>) => seen.push({ name, payload }));
    client = app.get(TaskClient);
    tasks = client.for(SignalTasks);
    await app.get(TaskWorker).start({ concurrency: 1 });
  });

  afterAll(async () => {
    await app.close();
    await cleanupPrefix(prefix);
  });

  const eventsOf = (id: string) => seen.filter((e) => e.payload.id === id).map((e) => e.name);
  const waitForPostrun = (id: string) => until(() => eventsOf(id).includes(TaskSignal.Postrun), 5000, 'postrun');

  it('emits the worker lifecycle signals', () => {
    // worker.init / process-init / ready were emitted at start, before these listeners existed; restart to see them
    return (async () => {
      const worker = app.get(TaskWorker);
      await worker.stop();
      await worker.start({ concurrency: 1 });
      const names = seen.map((e) => e.name);
      expect(names).toEqual(
        expect.arrayContaining([
          TaskSignal.WorkerShutdown,
          TaskSignal.WorkerInit,
          TaskSignal.WorkerProcessInit,
          TaskSignal.WorkerReady,
        ]),
      );
      const i = names.lastIndexOf(TaskSignal.WorkerInit);
      expect(names.indexOf(TaskSignal.WorkerReady, i)).toBeGreaterThan(i);
      expect(seen.find((e) => e.name === TaskSignal.WorkerReady)?.payload).toMatchObject({
        worker: worker.id,
        queues: ['default'],
        concurrency: 1,
      });
    })();
  });

  it("emits each task signal once, in Celery's order, with its payload (success)", async () => {
    const r = await tasks.add.delay(2, 3);
    expect(await r.get({ timeout: 5000 })).toBe(5);
    await waitForPostrun(r.id);
    expect(eventsOf(r.id)).toEqual([
      TaskSignal.BeforePublish,
      TaskSignal.AfterPublish,
      TaskSignal.Received,
      TaskSignal.Prerun,
      TaskSignal.Success,
      TaskSignal.Postrun,
    ]);
    const by = (n: string) => seen.find((e) => e.name === n && e.payload.id === r.id)!.payload;
    expect(by(TaskSignal.BeforePublish)).toMatchObject({
      task: 'sig.add',
      args: [2, 3],
      queue: 'default',
      priority: 5,
    });
    expect(by(TaskSignal.Received)).toMatchObject({ task: 'sig.add', args: [2, 3], retries: 0 });
    expect(by(TaskSignal.Success)).toMatchObject({ task: 'sig.add', result: 5 });
    expect(by(TaskSignal.Postrun)).toMatchObject({ task: 'sig.add', retval: 5, state: 'SUCCESS' });
    expect(by(TaskSignal.Postrun)).toBeInstanceOf(TaskPostrunSignal);
    expect(app.get(Recorder).wildcard.has(r.id)).toBe(true); // 'task-queue.task.*' matches
  });

  it('emits failure with the error, args and traceback', async () => {
    const r = await tasks.fail.delay();
    await r.get({ timeout: 5000 }).catch(() => undefined);
    await waitForPostrun(r.id);
    expect(eventsOf(r.id)).toEqual([
      TaskSignal.BeforePublish,
      TaskSignal.AfterPublish,
      TaskSignal.Received,
      TaskSignal.Prerun,
      TaskSignal.Failure,
      TaskSignal.Postrun,
    ]);
    const failure = seen.find((e) => e.name === TaskSignal.Failure && e.payload.id === r.id)!
      .payload as unknown as TaskFailureSignal;
    expect(failure).toBeInstanceOf(TaskFailureSignal);
    expect(failure.error).toMatchObject({ type: 'TypeError', message: 'nope' });
    expect(failure.exception).toBeInstanceOf(TypeError);
    expect(failure.traceback).toContain('TypeError: nope');
  });

  it('emits retry with the reason and countdown, then runs again', async () => {
    const r = await tasks.retry.delay();
    expect(await r.get({ timeout: 5000 })).toBe('ok');
    await until(() => eventsOf(r.id).filter((n) => n === TaskSignal.Postrun).length === 2, 5000, 'two postruns');
    expect(eventsOf(r.id)).toEqual([
      TaskSignal.BeforePublish,
      TaskSignal.AfterPublish,
      TaskSignal.Received,
      TaskSignal.Prerun,
      TaskSignal.Retry,
      TaskSignal.Postrun,
      TaskSignal.Received,
      TaskSignal.Prerun,
      TaskSignal.Success,
      TaskSignal.Postrun,
    ]);
    expect(seen.find((e) => e.name === TaskSignal.Retry && e.payload.id === r.id)!.payload).toMatchObject({
      reason: { message: 'first attempt fails' },
      countdown: 5,
      retries: 1,
    });
  });

  it('emits revoked for a revoked task, and unknown / rejected for unusable messages', async () => {
    const revoked = await client.send('sig.add', [1, 1], { countdown: 200 });
    await revoked.revoke();
    const expired = await client.send('sig.add', [1, 1], { countdown: 100, expires: 10 });
    await until(() => eventsOf(expired.id).includes(TaskSignal.Revoked), 5000, 'revoked (expired)');
    expect(seen.find((e) => e.name === TaskSignal.Revoked && e.payload.id === expired.id)!.payload).toMatchObject({
      expired: true,
      terminated: false,
    });
    const unknown = await client.send('sig.nobody', []);
    await until(() => eventsOf(unknown.id).includes(TaskSignal.Unknown), 5000, 'unknown');
    await app
      .get<import('../../src/index.js').Transport>(
        (await import('../../src/task-queue.constants.js')).TASK_QUEUE_TRANSPORT,
      )
      .publish([{ queue: 'default', id: 'x', priority: 5, raw: 'garbage' }]);
    await until(
      () => seen.some((e) => e.name === TaskSignal.Rejected && e.payload.raw === 'garbage'),
      5000,
      'rejected',
    );
  });

  it('lets a sender filter receive only its task, and a throwing listener never breaks the task', async () => {
    const recorder = app.get(Recorder);
    recorder.filtered.length = 0;
    const a = await tasks.add.delay(1, 1);
    const h = await tasks.headers.delay();
    expect(await a.get({ timeout: 5000 })).toBe(2); // despite the throwing prerun listener on sig.add
    await h.get({ timeout: 5000 });
    await waitForPostrun(a.id);
    expect(recorder.filtered).toEqual(['sig.add']);
  });

  it('passes headers set by a before-publish listener to the task', async () => {
    const r = await tasks.headers.delay();
    expect(await r.get({ timeout: 5000 })).toMatchObject({ stamped: 'by-before-publish' });
  });
});

describe('correlation ids and task logging', () => {
  @Injectable()
  class Publisher {
    constructor(private readonly tasks: TaskClient) {}
    run(): Promise<AsyncResult> {
      return chain(
        this.tasks.for(SignalTasks).headers.si(),
        this.tasks.for(SignalTasks).headers.si(),
      ).delay() as Promise<AsyncResult>;
    }
  }

  @Controller()
  class Ctl {
    constructor(private readonly p: Publisher) {}
    @Post('go') async go(): Promise<{ last: unknown; first: unknown }> {
      const r = await this.p.run();
      return { last: await r.get({ timeout: 5000 }), first: await (r.parent as AsyncResult).get({ timeout: 5000 }) };
    }
  }

  @Module({
    imports: [
      TaskQueueModule.forRoot({ brokerUrl: `memory://correlation-${process.pid}`, worker: { autostart: true } }),
    ],
    controllers: [Ctl],
    providers: [SignalTasks, Publisher],
  })
  class HttpApp implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(TaskCorrelationMiddleware).forRoutes('*');
    }
  }

  afterAll(() => MemoryTransport.resetShared());

  it('takes the id from the HTTP header, carries it through a workflow, and prefixes task log lines', async () => {
    const app = await NestFactory.create(HttpApp, { logger: false });
    await app.listen(0, '127.0.0.1');
    try {
      const { port } = app.getHttpServer().address() as AddressInfo;
      SignalTasks.lines = [];
      const res = await fetch(`http://127.0.0.1:${port}/go`, {
        method: 'POST',
        headers: { 'x-correlation-id': 'req-42' },
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('x-correlation-id')).toBe('req-42');
      const body = (await res.json()) as { last: Record<string, unknown>; first: Record<string, unknown> };
      expect(body.first.correlationId).toBe('req-42');
      expect(body.last.correlationId).toBe('req-42'); // published by the worker, as the chain's next step
      expect(SignalTasks.lines).toHaveLength(2);
      for (const line of SignalTasks.lines) expect(line).toMatch(/^\[sig\.headers [0-9a-f-]{36} cid=req-42\] $/);
    } finally {
      await app.close();
    }
  });
});
