import { Injectable, Module, Scope } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import {
  DuplicateTaskError,
  Task,
  TaskClient,
  TaskQueueConfigError,
  TaskQueueModule,
  TaskRegistry,
  TaskWorker,
  TASK_QUEUE_OPTIONS,
  type ResolvedTaskQueueOptions,
} from '../../src/index.js';
import { resolveModuleOptions } from '../../src/task-queue.options.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { MathService } from '../fixtures/math.service.js';
import { REDIS_URL, cleanupPrefix, testPrefix } from '../utils/redis.js';

@Injectable()
class DuplicateA {
  @Task('dup.name') a(): void {}
}
@Injectable()
class DuplicateB {
  @Task('dup.name') b(): void {}
}
@Injectable({ scope: Scope.REQUEST })
class ScopedService {
  @Task('scoped.task') run(): void {}
}
@Injectable()
class DefaultNames {
  @Task() plain(): string {
    return 'plain';
  }
  @Task({ queue: 'other' }) routed(): void {}
}

describe('TaskQueueModule', () => {
  const prefix = testPrefix('module');
  afterAll(async () => {
    await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  it('forRootAsync takes options from ConfigService and runs tasks end to end', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          load: [() => ({ TASKQUEUE_BROKER_URL: REDIS_URL, PREFIX: prefix })],
        }),
        TaskQueueModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (c: ConfigService) => ({
            brokerUrl: c.get<string>('TASKQUEUE_BROKER_URL'),
            prefix: c.get<string>('PREFIX'),
          }),
        }),
      ],
      providers: [MathService],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    try {
      const options = moduleRef.get<ResolvedTaskQueueOptions>(TASK_QUEUE_OPTIONS);
      expect(options).toMatchObject({
        brokerUrl: REDIS_URL,
        transport: 'redis',
        prefix,
        defaultQueue: 'default',
        resultExpiresMs: 86_400_000,
      });
      await moduleRef.get(TaskWorker).start({ concurrency: 2 });
      const r = await moduleRef.get(TaskClient).for(MathService).add.delay(20, 22);
      expect(await r.get({ timeout: 5000 })).toBe(42);
    } finally {
      await moduleRef.close();
    }
  });

  it('applies the same defaults on the sync and async paths', async () => {
    const make = async (imports: unknown[]) => {
      const ref = await Test.createTestingModule({ imports: imports as never[] }).compile();
      ref.useLogger(false);
      const opts = ref.get<ResolvedTaskQueueOptions>(TASK_QUEUE_OPTIONS);
      await ref.close();
      return opts;
    };
    const sync = await make([TaskQueueModule.forRoot({ brokerUrl: 'memory://same' })]);
    const async = await make([TaskQueueModule.forRootAsync({ useFactory: () => ({ brokerUrl: 'memory://same' }) })]);
    expect(async).toEqual(sync);
  });

  it('takes the broker from TASKQUEUE_BROKER_URL when no option gives it', () => {
    expect(resolveModuleOptions({}, { TASKQUEUE_BROKER_URL: 'memory://env' }).brokerUrl).toBe('memory://env');
    expect(resolveModuleOptions({ brokerUrl: 'redis://h:1' }, { TASKQUEUE_BROKER_URL: 'memory://env' }).brokerUrl).toBe(
      'redis://h:1',
    );
    expect(resolveModuleOptions({}, {}).brokerUrl).toBe('redis://127.0.0.1:6379');
    expect(
      resolveModuleOptions({ brokerUrl: 'rediss://h:1' }, { TASKQUEUE_RESULT_BACKEND: 'rediss://h:1' }).transport,
    ).toBe('redis');
  });

  it.each([
    [{ brokerUrl: 'amqp://localhost' }, /"brokerUrl" \("amqp:\/\/localhost"\)/],
    [{ brokerUrl: 'redis://h:1', resultBackend: 'redis://other:2' }, /"resultBackend" \("redis:\/\/other:2"\)/],
    [{ prefix: 'a{b}' }, /"prefix"/],
    [{ defaultQueue: 'with space' }, /"defaultQueue"/],
    [{ resultExpires: 'soon' }, /"resultExpires" \("soon"\)/],
    [{ maxMessageBytes: -1 }, /"maxMessageBytes" \(-1\)/],
    [{ worker: { concurrency: 0 } }, /"worker.concurrency" \(0\)/],
    [{ worker: { queues: [] } }, /"worker.queues"/],
    [{ worker: { lease: 10 } }, /"worker.lease" \(10\)/],
  ])('rejects invalid options %j at bootstrap, naming option and value', async (options, message) => {
    const build = Test.createTestingModule({
      imports: [TaskQueueModule.forRoot({ brokerUrl: 'memory://x', ...options })],
    }).compile();
    await expect(build).rejects.toThrow(TaskQueueConfigError);
    await expect(
      Test.createTestingModule({
        imports: [TaskQueueModule.forRoot({ brokerUrl: 'memory://x', ...options })],
      }).compile(),
    ).rejects.toThrow(message);
  });

  it('rejects invalid options given through forRootAsync too', async () => {
    const build = Test.createTestingModule({
      imports: [TaskQueueModule.forRootAsync({ useFactory: () => ({ brokerUrl: 'memory://x', resultExpires: -5 }) })],
    }).compile();
    await expect(build).rejects.toThrow(/"resultExpires" \(-5\)/);
  });

  it('fails at bootstrap when two tasks share a name, naming both sites', async () => {
    const ref = await Test.createTestingModule({
      imports: [TaskQueueModule.forRoot({ brokerUrl: 'memory://dup' })],
      providers: [DuplicateA, DuplicateB],
    }).compile();
    ref.useLogger(false);
    const init = ref.init();
    await expect(init).rejects.toThrow(DuplicateTaskError);
    await expect(init).rejects.toThrow(/DuplicateA#a and by DuplicateB#b/);
    await ref.close().catch(() => undefined);
  });

  it('rejects invalid @Task options at bootstrap, naming the method', async () => {
    @Injectable()
    class BadPriority {
      @Task({ priority: 11 }) run(): void {}
    }
    const ref = await Test.createTestingModule({
      imports: [TaskQueueModule.forRoot({ brokerUrl: 'memory://bad' })],
      providers: [BadPriority],
    }).compile();
    ref.useLogger(false);
    await expect(ref.init()).rejects.toThrow(/@Task\(priority\) on BadPriority#run.*\(11\)/);
    await ref.close().catch(() => undefined);
  });

  it('names tasks ClassName.method by default, routes by queue, and skips scoped providers with a warning', async () => {
    const ref = await Test.createTestingModule({
      imports: [TaskQueueModule.forRoot({ brokerUrl: 'memory://names' })],
      providers: [
        DefaultNames,
        ScopedService,
        { provide: 'alias', useExisting: DefaultNames },
        { provide: 'nullproto', useValue: Object.create(null) },
      ],
    }).compile();
    const warnings: string[] = [];
    ref.useLogger({ log() {}, error() {}, warn: (m: string) => warnings.push(String(m)), debug() {}, verbose() {} });
    await ref.init();
    const registry = ref.get(TaskRegistry);
    expect(registry.names()).toEqual(['DefaultNames.plain', 'DefaultNames.routed']);
    expect(registry.get('DefaultNames.routed')?.queue).toBe('other');
    expect(warnings.some((w) => w.includes('ScopedService#run') && w.includes('request- or transient-scoped'))).toBe(
      true,
    );
    await ref.close();
  });

  it('does not consume in a process that did not start a worker', async () => {
    const ref = await Test.createTestingModule({
      imports: [TaskQueueModule.forRoot({ brokerUrl: 'memory://api-only' })],
      providers: [MathService],
    }).compile();
    ref.useLogger(false);
    await ref.init();
    const r = await ref.get(TaskClient).for(MathService).add.delay(1, 2);
    expect(ref.get(TaskWorker).running).toBe(false);
    expect(await r.state()).toBe('PENDING');
    await ref.close();
  });

  it('starts the worker at bootstrap with worker.autostart (API and worker in one process)', async () => {
    const ref = await Test.createTestingModule({
      imports: [
        TaskQueueModule.forRoot({ brokerUrl: 'memory://embedded', worker: { autostart: true, concurrency: 2 } }),
      ],
      providers: [MathService],
    }).compile();
    ref.useLogger(false);
    await ref.init();
    try {
      expect(ref.get(TaskWorker).running).toBe(true);
      const r = await ref.get(TaskClient).for(MathService).add.delay(1, 2);
      expect(await r.get({ timeout: 5000 })).toBe(3);
    } finally {
      await ref.close();
    }
    expect(ref.get(TaskWorker).running).toBe(false);
  });

  it('two application instances in one process keep separate registries and workers', async () => {
    @Module({ imports: [TaskQueueModule.forRoot({ brokerUrl: 'memory://two' })], providers: [MathService] })
    class AppA {}
    const a = await Test.createTestingModule({ imports: [AppA] }).compile();
    const b = await Test.createTestingModule({
      imports: [TaskQueueModule.forRoot({ brokerUrl: 'memory://two' })],
      providers: [DefaultNames],
    }).compile();
    for (const ref of [a, b]) {
      ref.useLogger(false);
      await ref.init();
    }
    try {
      expect(a.get(TaskRegistry).names()).toContain('math.add');
      expect(b.get(TaskRegistry).names()).not.toContain('math.add');
      // b publishes by name; a's worker (same broker) runs it.
      await a.get(TaskWorker).start({ concurrency: 1 });
      const r = await b.get(TaskClient).send<number>('math.add', [2, 2]);
      expect(await r.get({ timeout: 5000 })).toBe(4);
      expect(a.get(TaskWorker).id).not.toBe(b.get(TaskWorker).id);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
