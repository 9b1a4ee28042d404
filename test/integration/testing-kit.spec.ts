/**
 * The testing kit (`nestjs-taskqueue/testing`) as a user's own jest test uses
 * it: TaskQueueTestingModule in Test.createTestingModule, TaskQueueTester to
 * look at what was published and to run it.
 */
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  Task,
  TaskClient,
  TaskContext,
  TaskQueueConfigError,
  TaskWorker,
  chain,
  type AsyncResult,
} from '../../src/index.js';
import {
  TaskQueueTester,
  TaskQueueTestingModule,
  type TaskQueueTestingModuleOptions,
} from '../../src/testing/index.js';

class Flaky extends Error {
  override name = 'Flaky';
}

@Injectable()
class Mailer {
  readonly sent: string[] = [];
  readonly attempts = new Map<string, number>();
  static gate?: Promise<void>;

  constructor(
    private readonly tasks: TaskClient,
    private readonly ctx: TaskContext,
  ) {}

  @Task({ name: 'mail.send', queue: 'mail' })
  send(to: string, subject: string): string {
    this.sent.push(`${to}:${subject}`);
    return `sent ${subject} to ${to}`;
  }

  /** Publishes `n` sends from inside a task. */
  @Task({ name: 'mail.fanout' })
  async fanout(n: number): Promise<number> {
    for (let i = 0; i < n; i++) await this.tasks.for(Mailer).send.delay(`user${i}@example.com`, 'news');
    return n;
  }

  /** Fails `failures` times with a one-hour backoff, then succeeds. */
  @Task({ name: 'mail.flaky', autoretryFor: [Flaky], retry: { max: 5, backoff: 'fixed', delay: '1h', jitter: false } })
  flaky(key: string, failures: number): number {
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    if (n <= failures) throw new Flaky(`attempt ${n}`);
    return n;
  }

  @Task('mail.add')
  add(a: number, b: number): number {
    return a + b;
  }

  @Task('mail.double')
  double(x: number): number {
    return x * 2;
  }

  @Task('mail.wait')
  async wait(): Promise<string> {
    await Mailer.gate;
    return this.ctx.id;
  }

  @Task({ name: 'mail.quiet', ignoreResult: true })
  quiet(label: string): void {
    this.sent.push(`quiet:${label}`);
  }
}

async function createApp(options?: TaskQueueTestingModuleOptions): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [TaskQueueTestingModule.forRoot(options)],
    providers: [Mailer],
  }).compile();
  moduleRef.useLogger(process.env.TEST_LOGS ? console : false);
  await moduleRef.init();
  return moduleRef;
}

describe('TaskQueueTestingModule with the embedded worker (default)', () => {
  let app: TestingModule;
  let tester: TaskQueueTester;
  let client: TaskClient;
  let mailer: Mailer;

  beforeAll(async () => {
    app = await createApp();
    tester = app.get(TaskQueueTester);
    client = app.get(TaskClient);
    mailer = app.get(Mailer);
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => tester.clearPublished());

  it('runs tasks as they are published, on every queue of the application', async () => {
    expect(app.get(TaskWorker).running).toBe(true);
    expect(tester.workerQueues().sort()).toEqual(['default', 'mail']);
    const r = await client.for(Mailer).send.delay('ada@example.com', 'hello');
    await expect(r.get({ timeout: '5s' })).resolves.toBe('sent hello to ada@example.com');
    expect(mailer.sent).toContain('ada@example.com:hello');
  });

  it('records what was published, with arguments typed from the method', async () => {
    await client.for(Mailer).send.applyAsync(['bob@example.com', 'hi'], { priority: 7, headers: { traceId: 't1' } });
    const sends = tester.published(Mailer, 'send');
    expect(sends).toHaveLength(1);
    const [to, subject] = sends[0].args; // [string, string]
    expect({ to, subject }).toEqual({ to: 'bob@example.com', subject: 'hi' });
    expect(sends[0]).toMatchObject({ task: 'mail.send', queue: 'mail', priority: 7, headers: { traceId: 't1' } });
    expect(sends[0].publishedAt).toBeInstanceOf(Date);
    await tester.waitForIdle();
  });

  it('filters by name, pattern, fields or predicate; clearPublished() forgets', async () => {
    await client.send('mail.add', [1, 2]);
    await client.for(Mailer).send.delay('c@example.com', 'x');
    expect(tester.published('mail.add').map((t) => t.args)).toEqual([[1, 2]]);
    expect(tester.published(/^mail\./)).toHaveLength(2);
    expect(tester.published({ queue: 'mail' }).map((t) => t.task)).toEqual(['mail.send']);
    expect(tester.published((t) => t.args.includes(2))).toHaveLength(1);
    tester.clearPublished();
    expect(tester.published()).toEqual([]);
    await tester.waitForIdle();
  });

  it('drain() waits for tasks published by tasks', async () => {
    const before = mailer.sent.length;
    await client.for(Mailer).fanout.delay(3);
    const ran = await tester.drain();
    expect(ran.succeeded).toBeGreaterThanOrEqual(1);
    expect(mailer.sent.length - before).toBe(3);
    expect(tester.published('mail.send')).toHaveLength(3);
  });

  it('drain() makes retry backoff due at once (a one-hour delay here)', async () => {
    const r = await client.for(Mailer).flaky.delay('k1', 2);
    const ran = await tester.drain();
    expect(ran).toMatchObject({ retried: 2, succeeded: 1, failed: 0 });
    await expect(r.get({ timeout: 1000 })).resolves.toBe(3);
  });

  it('drain() runs chains to the end', async () => {
    const t = client.for(Mailer);
    const r = await chain(t.add.s(2, 3), t.double.s(), t.double.s()).delay();
    await tester.drain();
    expect(await r.ready()).toBe(true);
    await expect(r.get()).resolves.toBe(20);
  });

  it('drain() says what is left when it gives up', async () => {
    let open!: () => void;
    Mailer.gate = new Promise((resolve) => (open = resolve));
    const r = await client.for(Mailer).wait.delay();
    await expect(tester.drain({ timeout: 100 })).rejects.toThrow(
      /^drain\(\) gave up after 100 ms with work left: queue "default": 0 ready, 1 running, 0 delayed\.$/,
    );
    open();
    await tester.drain();
    await expect(r.get()).resolves.toBe(r.id);
  });

  it('holds countdown tasks until the broker clock reaches them (advanceTime)', async () => {
    const r = await client.for(Mailer).send.applyAsync(['later@example.com', 'reminder'], { countdown: '1h' });
    expect(tester.published(Mailer, 'send')[0].eta).toBeInstanceOf(Date);
    expect(tester.delayed()).toEqual([
      expect.objectContaining({ id: r.id, task: 'mail.send', queue: 'mail', args: ['later@example.com', 'reminder'] }),
    ]);
    await tester.drain({ delayed: 'leave' });
    expect(await r.state()).toBe('PENDING');

    expect(tester.advanceTime('30m')).toBe(0);
    expect(tester.delayed()).toHaveLength(1);
    expect(tester.advanceTime('31m')).toBe(1);
    expect(tester.delayed()).toEqual([]);
    await expect(r.get({ timeout: '5s' })).resolves.toBe('sent reminder to later@example.com');
    expect(tester.now().getTime()).toBeGreaterThanOrEqual(Date.now() + 61 * 60_000 - 1000);
  });

  it('a task published with an eta before the broker clock is due at once', async () => {
    // The clock is 61 minutes ahead after the test above.
    const r = await client.for(Mailer).add.applyAsync([20, 22], { countdown: '1h' });
    await expect(r.get({ timeout: '5s' })).resolves.toBe(42);
  });

  it('runDelayed() makes every delayed task due', async () => {
    const r = await client.for(Mailer).add.applyAsync([1, 1], { eta: Date.now() + 7 * 86_400_000 });
    expect(tester.delayed()).toHaveLength(1);
    expect(tester.runDelayed()).toBe(1);
    await expect(r.get({ timeout: '5s' })).resolves.toBe(2);
  });

  it('a revoked delayed task is not brought back', async () => {
    const r = await client.for(Mailer).add.applyAsync([5, 5], { countdown: '1d' });
    await r.revoke();
    expect(tester.delayed()).toEqual([]);
    expect(tester.runDelayed()).toBe(0);
    await tester.drain();
    expect(await r.state()).toBe('REVOKED');
  });

  it('drains tasks that store no result', async () => {
    await client.for(Mailer).quiet.delay('q1');
    await tester.drain();
    expect(mailer.sent).toContain('quiet:q1');
  });
});

describe('TaskQueueTestingModule with worker: false (record only)', () => {
  let app: TestingModule;
  let tester: TaskQueueTester;
  let client: TaskClient;
  let mailer: Mailer;

  beforeAll(async () => {
    app = await createApp({ worker: false });
    tester = app.get(TaskQueueTester);
    client = app.get(TaskClient);
    mailer = app.get(Mailer);
  });

  afterAll(async () => {
    await app.close();
  });

  it('records publishes without running them, until drain()', async () => {
    expect(app.get(TaskWorker).running).toBe(false);
    const r = await client.for(Mailer).send.delay('ada@example.com', 'welcome');
    await client.for(Mailer).fanout.delay(2);
    expect(tester.published().map((t) => t.task)).toEqual(['mail.send', 'mail.fanout']);
    expect(mailer.sent).toEqual([]);
    expect(await r.state()).toBe('PENDING');
    await expect(tester.waitForIdle({ timeout: 50 })).rejects.toThrow(/No worker is running .* use drain\(\)/);

    const ran = await tester.drain();
    expect(ran).toEqual({ succeeded: 4, failed: 0, retried: 0, rejected: 0 });
    expect(mailer.sent.sort()).toEqual(['ada@example.com:welcome', 'user0@example.com:news', 'user1@example.com:news']);
    expect(await r.state()).toBe('SUCCESS');
    // back to recording only
    expect(app.get(TaskWorker).running).toBe(false);
    await client.for(Mailer).send.delay('x@example.com', 'later');
    expect(mailer.sent).toHaveLength(3);
    await tester.drain();
    expect(mailer.sent).toHaveLength(4);
  });
});

describe('TaskQueueTestingModule with alwaysEager', () => {
  let app: TestingModule;
  let client: TaskClient;
  let mailer: Mailer;
  let tester: TaskQueueTester;

  beforeAll(async () => {
    app = await createApp({ alwaysEager: true });
    client = app.get(TaskClient);
    mailer = app.get(Mailer);
    tester = app.get(TaskQueueTester);
  });

  afterAll(async () => {
    await app.close();
  });

  it('delay() returns a settled result', async () => {
    const r = await client.for(Mailer).add.delay(2, 3);
    expect(await r.ready()).toBe(true);
    expect(await r.get({ timeout: 0 })).toBe(5);
  });

  it('runs what the task publishes before delay() returns', async () => {
    const before = mailer.sent.length;
    const r = await client.for(Mailer).fanout.delay(3);
    expect(await r.successful()).toBe(true);
    expect(mailer.sent.length - before).toBe(3);
  });

  it('ignores countdown and runs retries without their backoff', async () => {
    const later = await client.for(Mailer).add.applyAsync([1, 1], { countdown: '1d' });
    expect(await later.get({ timeout: 0 })).toBe(2);
    expect(tester.published('mail.add').at(-1)?.eta).toBeInstanceOf(Date); // recorded as asked
    const flaky = await client.for(Mailer).flaky.delay('eager', 3);
    expect(await flaky.get({ timeout: 0 })).toBe(4);
  });

  it('runs a whole chain before delay() returns', async () => {
    const t = client.for(Mailer);
    const r = (await chain(t.add.s(1, 2), t.double.s()).delay()) as AsyncResult<number>;
    expect(await r.get({ timeout: 0 })).toBe(6);
  });

  it('a failure is stored, not thrown by delay()', async () => {
    const r = await client.for(Mailer).flaky.delay('eager-fails', 100);
    expect(await r.failed()).toBe(true);
    await expect(r.get()).rejects.toMatchObject({ type: 'Flaky' });
  });
});

describe('TaskQueueTestingModule setup', () => {
  it('rejects alwaysEager without a worker', () => {
    expect(() => TaskQueueTestingModule.forRoot({ alwaysEager: true, worker: false })).toThrow(TaskQueueConfigError);
  });

  it('gives each module a broker of its own', async () => {
    const [a, b] = await Promise.all([createApp({ worker: false }), createApp({ worker: false })]);
    try {
      await a.get(TaskClient).send('mail.add', [1, 1]);
      expect(a.get(TaskQueueTester).published()).toHaveLength(1);
      expect(b.get(TaskQueueTester).published()).toEqual([]);
      await b.get(TaskQueueTester).drain();
      expect(a.get(Mailer).sent).toEqual([]);
      await a.get(TaskQueueTester).drain();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('passes worker options through and consumes extra queues', async () => {
    const app = await createApp({ worker: { concurrency: 2, queues: ['extra'] }, defaultQueue: 'main' });
    try {
      expect(app.get(TaskQueueTester).workerQueues().sort()).toEqual(['extra', 'mail', 'main']);
      const r = await app.get(TaskClient).send<number>('mail.add', [2, 2], { queue: 'extra' });
      await expect(r.get({ timeout: '5s' })).resolves.toBe(4);
    } finally {
      await app.close();
    }
  });

  it('closing the module stops the worker and ends waits', async () => {
    const app = await createApp();
    const worker = app.get(TaskWorker);
    expect(worker.running).toBe(true);
    let open!: () => void;
    Mailer.gate = new Promise((resolve) => (open = resolve));
    const pending = await app.get(TaskClient).for(Mailer).add.applyAsync([1, 2], { countdown: '1h' });
    const waiting = pending.get().catch((e: unknown) => e);
    await app.close();
    open();
    expect(worker.running).toBe(false);
    await expect(waiting).resolves.toBeInstanceOf(Error); // the wait ended (TaskTimeoutError) instead of hanging
  });
});
