import { randomUUID } from 'node:crypto';
import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { TaskQueueConfigError } from '../errors/index.js';
import { toMs } from '../protocol/duration.js';
import { TaskQueueModule } from '../task-queue.module.js';
import { TaskQueueConnection } from '../task-queue.providers.js';
import {
  DEFAULT_EAGER_TIMEOUT_MS,
  TASK_QUEUE_TESTING_OPTIONS,
  type TestingSettings,
} from './task-queue-testing.constants.js';
import type { TaskQueueTestingModuleOptions } from './task-queue-testing.options.js';
import { TaskQueueTester } from './task-queue.tester.js';
import { TestingTransport } from './testing.transport.js';

/** Stands in for TaskQueueConnection: a private broker of this module's own, closed with it. @internal */
class TestingConnection implements OnApplicationShutdown {
  readonly transport = new TestingTransport();

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close();
  }
}

/**
 * `TaskQueueModule` for a test: the same module (TaskClient, TaskWorker,
 * discovery, the real worker code) on a fresh private in-process broker, with
 * an embedded worker, plus `TaskQueueTester` to look at and drive it. Swap it
 * in for `TaskQueueModule.forRoot()` in `Test.createTestingModule()`.
 *
 * Each call creates a broker of its own, so tests (and two modules in one
 * test) never see each other's tasks, and closing the module stops the worker
 * and the broker's timers.
 *
 * @example
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [TaskQueueTestingModule.forRoot({ worker: false })],
 *   providers: [EmailService, UsersService],
 * }).compile();
 * await moduleRef.init();
 * const tester = moduleRef.get(TaskQueueTester);
 * ```
 * @publicApi
 */
@Module({})
export class TaskQueueTestingModule {
  static forRoot(options: TaskQueueTestingModuleOptions = {}): DynamicModule {
    if (typeof options !== 'object' || options === null)
      throw new TaskQueueConfigError('options', options, 'expected an object');
    const { worker = true, alwaysEager = false, eagerTimeout, ...moduleOptions } = options;
    if (typeof worker !== 'boolean' && (typeof worker !== 'object' || worker === null)) {
      throw new TaskQueueConfigError('worker', worker, 'expected true, false or worker options');
    }
    if (alwaysEager && worker === false) {
      throw new TaskQueueConfigError(
        'alwaysEager',
        alwaysEager,
        'eager tasks run on the embedded worker: leave `worker` on',
      );
    }
    const workerOptions = typeof worker === 'object' ? worker : {};
    const settings: TestingSettings = {
      worker: worker !== false,
      alwaysEager,
      eagerTimeoutMs: toMs(eagerTimeout ?? DEFAULT_EAGER_TIMEOUT_MS, 'eagerTimeout'),
      queues: workerOptions.queues ?? [],
    };
    const base = TaskQueueModule.forRoot({
      ...moduleOptions,
      brokerUrl: `memory://testing-${randomUUID()}`,
      // The tester starts the worker (it knows the queues only once tasks are discovered).
      worker: { ...workerOptions, queues: undefined, autostart: false },
    });
    // Provided after the module's own TaskQueueConnection, so it replaces it: the
    // transport and the beat store are built from this private broker.
    const taskQueue: DynamicModule = {
      ...base,
      providers: [
        ...(base.providers ?? []),
        { provide: TaskQueueConnection, useFactory: () => new TestingConnection() },
      ],
    };
    return {
      module: TaskQueueTestingModule,
      global: true,
      imports: [taskQueue],
      providers: [{ provide: TASK_QUEUE_TESTING_OPTIONS, useValue: settings }, TaskQueueTester],
      exports: [TaskQueueTester],
    };
  }
}
