import { Module, type DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { TaskQueueConfigError } from '../errors/index.js';
import { DashboardController } from './dashboard.controller.js';
import { DashboardEvents } from './dashboard.events.js';
import { DashboardGuard } from './dashboard.guard.js';
import { DASHBOARD_OPTIONS, type TaskQueueDashboardOptions } from './dashboard.options.js';

/**
 * The operators' web dashboard, mounted in the application's HTTP server:
 * queues, workers, the beat, what runs now, dead letters and rejected
 * messages, task lookup, revoke / terminate and purge.
 *
 * @example
 * ```ts
 * imports: [TaskQueueDashboardModule.forRoot({ path: 'admin/tasks', canActivate: (req) => isAdmin(req) })]
 * ```
 * Without `canActivate` it refuses to boot, unless `public: true` is set.
 * @publicApi
 */
@Module({})
export class TaskQueueDashboardModule {
  static forRoot(options: TaskQueueDashboardOptions = {}): DynamicModule {
    if (typeof options.canActivate !== 'function' && options.public !== true)
      throw new TaskQueueConfigError(
        'TaskQueueDashboardModule.forRoot({ canActivate })',
        options.canActivate,
        'the dashboard shows task data and can revoke, purge and replay: pass canActivate (who may use it), ' +
          'or set public: true to mount it open on purpose',
      );
    const path = (options.path ?? 'taskqueue').replace(/^\/+|\/+$/g, '');
    return {
      module: TaskQueueDashboardModule,
      imports: [RouterModule.register([{ path, module: TaskQueueDashboardModule }])],
      controllers: [DashboardController],
      providers: [{ provide: DASHBOARD_OPTIONS, useValue: options }, DashboardGuard, DashboardEvents],
    };
  }
}
