import { Module, type DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { DashboardController } from './dashboard.controller.js';
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
 * @publicApi
 */
@Module({})
export class TaskQueueDashboardModule {
  static forRoot(options: TaskQueueDashboardOptions = {}): DynamicModule {
    const path = (options.path ?? 'taskqueue').replace(/^\/+|\/+$/g, '');
    return {
      module: TaskQueueDashboardModule,
      imports: [RouterModule.register([{ path, module: TaskQueueDashboardModule }])],
      controllers: [DashboardController],
      providers: [{ provide: DASHBOARD_OPTIONS, useValue: options }, DashboardGuard],
    };
  }
}
