import type { INestApplicationContext, Type, DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { closeOnSignals } from '../context/process-signals.js';
import type { WorkerOptions } from '../interfaces/worker-options.interface.js';
import { Logger } from '@nestjs/common';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import { TASK_QUEUE_OPTIONS } from '../task-queue.constants.js';
import { MESSAGES } from '../task-queue.messages.js';
import { TaskWorker } from './task.worker.js';

type NestApplicationContextOptions = NonNullable<Parameters<typeof NestFactory.createApplicationContext>[1]>;

export interface BootstrapWorkerOptions extends WorkerOptions {
  /** Options for NestFactory.createApplicationContext (logger, ...). */
  context?: NestApplicationContextOptions;
  /** Exit the process after a signal-triggered shutdown. @default true */
  exitOnSignal?: boolean;
}

/**
 * Boots `module` (the same AppModule the API uses) as a worker process: an
 * application context, with every provider, consuming `queues`. SIGTERM or
 * SIGINT stops fetching, lets running tasks finish (up to shutdownTimeout),
 * gives back the rest and exits 0; a second signal exits at once.
 *
 * @example
 * ```ts
 * // worker.ts (nest-cli.json project "worker" → `nest start worker`)
 * await bootstrapWorker(AppModule, { queues: ['email', 'default'], concurrency: 50 });
 * ```
 * @publicApi
 */
export async function bootstrapWorker(
  module: Type<unknown> | DynamicModule,
  options: BootstrapWorkerOptions = {},
): Promise<INestApplicationContext> {
  const { context, exitOnSignal = true, ...workerOptions } = options;
  const app = await NestFactory.createApplicationContext(module, context);
  const worker = app.get(TaskWorker);
  const resolved = app.get<ResolvedTaskQueueOptions>(TASK_QUEUE_OPTIONS);
  if (resolved.transport === 'memory') {
    new Logger('TaskWorker').warn(MESSAGES.memoryWorkerProcess(resolved.brokerUrl));
  }
  // The same AppModule may start a worker at bootstrap (worker.autostart, for
  // API + worker in one process): here the options given to this entrypoint win.
  if (worker.running) await worker.stop();
  // Handlers first: a signal that arrives while the worker starts still drains it.
  closeOnSignals(app, 'Worker', () => worker.stop(), exitOnSignal);
  // a remote shutdown (TaskControl.shutdown) ends this process the way SIGTERM does
  worker.exitOnShutdown = exitOnSignal;
  await worker.start(workerOptions);
  return app;
}
