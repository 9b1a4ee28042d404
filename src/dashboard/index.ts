export { TaskQueueDashboardModule } from './dashboard.module.js';
export type { TaskQueueDashboardOptions } from './dashboard.options.js';
export type { DashboardOverview } from './dashboard.controller.js';
