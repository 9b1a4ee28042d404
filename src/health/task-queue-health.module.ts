import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TaskQueueHealthIndicator } from './task-queue.health.js';

/**
 * Provides `TaskQueueHealthIndicator` (with Terminus). Import it next to
 * `TaskQueueModule` (which is global) in the module of your health controller.
 * @publicApi
 */
@Module({
  imports: [TerminusModule],
  providers: [TaskQueueHealthIndicator],
  exports: [TaskQueueHealthIndicator, TerminusModule],
})
export class TaskQueueHealthModule {}
