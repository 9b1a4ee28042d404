import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TaskClient } from './client/task.client.js';
import { TaskQueueExplorer } from './discovery/task-queue.explorer.js';
import { TaskRegistry } from './discovery/task.registry.js';
import { ConfigurableModuleClass } from './task-queue.module-definition.js';
import { TaskQueueConnection, beatStoreProvider, optionsProvider, transportProvider } from './task-queue.providers.js';
import { BeatScheduler } from './beat/beat.scheduler.js';
import { PeriodicSchedules } from './beat/periodic-schedules.service.js';
import { PeriodicRegistry } from './discovery/periodic.registry.js';
import { TASK_QUEUE_EMBEDDED_BEAT, TASK_QUEUE_OPTIONS } from './task-queue.constants.js';
import { TaskContext } from './worker/task-context.js';
import { TaskWorker } from './worker/task.worker.js';
import { SignalEmitter } from './signals/signal.emitter.js';
import { TaskTracing } from './tracing/task-tracing.js';
import { TaskInspector } from './control/task-inspector.js';
import { TaskControl } from './control/task-control.js';
import { TaskCorrelationMiddleware } from './context/task-correlation.middleware.js';
import { TaskEventsWriter } from './events/task-events.writer.js';
import { OutboxRelay } from './outbox/outbox.relay.js';

/**
 * Background tasks for the application: `TaskClient` to publish, `@Task()`
 * methods to run, `TaskWorker` to consume. Global by default.
 *
 * @example
 * ```ts
 * TaskQueueModule.forRoot({ brokerUrl: 'redis://localhost:6379' })
 * TaskQueueModule.forRootAsync({
 *   imports: [ConfigModule], inject: [ConfigService],
 *   useFactory: (c: ConfigService) => ({ brokerUrl: c.get('TASKQUEUE_BROKER_URL') }),
 * })
 * ```
 * @publicApi
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    TaskInspector,
    TaskControl,
    SignalEmitter,
    TaskTracing,
    TaskCorrelationMiddleware,
    optionsProvider,
    // before the connection: its shutdown hook writes the last events while the transport is open
    TaskEventsWriter,
    TaskQueueConnection,
    transportProvider,
    TaskRegistry,
    TaskQueueExplorer,
    TaskClient,
    TaskContext,
    TaskWorker,
    PeriodicRegistry,
    beatStoreProvider,
    PeriodicSchedules,
    BeatScheduler,
    { provide: TASK_QUEUE_EMBEDDED_BEAT, useExisting: BeatScheduler },
    OutboxRelay,
  ],
  exports: [
    TaskInspector,
    TaskControl,
    SignalEmitter,
    TaskCorrelationMiddleware,
    TASK_QUEUE_OPTIONS,
    TaskClient,
    TaskContext,
    TaskWorker,
    TaskRegistry,
    transportProvider,
    beatStoreProvider,
    PeriodicSchedules,
    BeatScheduler,
    OutboxRelay,
  ],
})
export class TaskQueueModule extends ConfigurableModuleClass {}
