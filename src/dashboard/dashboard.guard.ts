import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { DASHBOARD_OPTIONS, type TaskQueueDashboardOptions } from './dashboard.options.js';

/** Applies the dashboard's `canActivate` option. @internal */
@Injectable()
export class DashboardGuard implements CanActivate {
  constructor(@Inject(DASHBOARD_OPTIONS) private readonly options: TaskQueueDashboardOptions) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    return this.options.canActivate ? this.options.canActivate(context.switchToHttp().getRequest()) : true;
  }
}
