export { TaskQueueDashboardModule } from './dashboard.module.js';
export type { TaskQueueDashboardOptions } from './dashboard.options.js';
export type { DashboardOverview, DashboardTaskDetail, DashboardTaskNode } from './dashboard.controller.js';
export type { DashboardTaskSummary } from './dashboard.events.js';
