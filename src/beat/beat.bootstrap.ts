import type { DynamicModule, INestApplicationContext, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { closeOnSignals } from '../context/process-signals.js';
import type { BeatOptions } from './beat-options.interface.js';
import { BeatScheduler } from './beat.scheduler.js';

type NestApplicationContextOptions = NonNullable<Parameters<typeof NestFactory.createApplicationContext>[1]>;

export interface BootstrapBeatOptions extends BeatOptions {
  /** Options for NestFactory.createApplicationContext (logger, ...). */
  context?: NestApplicationContextOptions;
  /** Exit the process after a signal-triggered shutdown. @default true */
  exitOnSignal?: boolean;
}

/**
 * Boots `module` (the same AppModule the API and workers use) as a standalone
 * beat process. Run as many as you like: they elect a leader and each tick is
 * published once. SIGTERM or SIGINT gives up the lease (another beat takes
 * over at once) and exits 0; a second signal exits at once.
 *
 * @example
 * ```ts
 * // beat.ts
 * await bootstrapBeat(AppModule, { lease: '5s' });
 * ```
 * @publicApi
 */
export async function bootstrapBeat(
  module: Type<unknown> | DynamicModule,
  options: BootstrapBeatOptions = {},
): Promise<INestApplicationContext> {
  const { context, exitOnSignal = true, ...beatOptions } = options;
  const app = await NestFactory.createApplicationContext(module, context);
  const beat = app.get(BeatScheduler);
  closeOnSignals(app, 'Beat', () => beat.stop(), exitOnSignal);
  await beat.start(beatOptions);
  return app;
}
