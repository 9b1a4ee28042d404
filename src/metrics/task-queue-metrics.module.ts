import { Controller, Get, Header, Module, type DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { TaskQueueMetrics } from './task-queue.metrics.js';
import { TASK_QUEUE_METRICS_OPTIONS, type TaskQueueMetricsOptions } from './task-queue-metrics.options.js';

/** Serves the registry when `path` is set (mounted there through RouterModule). @internal */
@Controller()
export class TaskQueueMetricsController {
  constructor(private readonly metrics: TaskQueueMetrics) {}

  @Get()
  @Header('cache-control', 'no-store')
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

/**
 * Prometheus metrics of the task queue, on prom-client (an optional peer):
 * tasks by outcome, runtime and queue wait histograms, queue depth by state,
 * workers online and tasks running. Import it next to `TaskQueueModule` in the
 * API and in workers; give `path` to serve its own endpoint.
 *
 * @example
 * ```ts
 * imports: [TaskQueueModule.forRoot({ ... }), TaskQueueMetricsModule.forRoot({ path: 'metrics' })]
 * ```
 * @publicApi
 */
@Module({})
export class TaskQueueMetricsModule {
  static forRoot(options: TaskQueueMetricsOptions = {}): DynamicModule {
    const path = options.path?.replace(/^\/+|\/+$/g, '');
    return {
      module: TaskQueueMetricsModule,
      imports: path !== undefined ? [RouterModule.register([{ path, module: TaskQueueMetricsModule }])] : [],
      controllers: path !== undefined ? [TaskQueueMetricsController] : [],
      providers: [{ provide: TASK_QUEUE_METRICS_OPTIONS, useValue: options }, TaskQueueMetrics],
      exports: [TaskQueueMetrics],
    };
  }
}
