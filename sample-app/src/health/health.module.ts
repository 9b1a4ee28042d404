import { Module } from '@nestjs/common';
import { TaskQueueHealthModule } from 'nestjs-taskqueue/health';
import { HealthController } from './health.controller.js';

// TaskQueueHealthModule brings Terminus (HealthCheckService) and the task queue indicator.
@Module({
  imports: [TaskQueueHealthModule],
  controllers: [HealthController],
})
export class HealthModule {}
