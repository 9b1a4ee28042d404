export { TaskQueueMetricsModule } from './task-queue-metrics.module.js';
export { TaskQueueMetrics, type TaskOutcome } from './task-queue.metrics.js';
export type { TaskQueueMetricsOptions } from './task-queue-metrics.options.js';
