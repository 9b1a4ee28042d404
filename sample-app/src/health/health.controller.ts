import { Controller, Get } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { TaskQueueHealthIndicator } from 'nestjs-taskqueue/health';

/** Default of TASKQUEUE_HEALTH_WORKER_MAX_AGE: a worker heartbeats every 5 s (a third of its 15 s lease). */
const DEFAULT_WORKER_MAX_AGE = '30s';

/**
 * GET /health: 200 `{ status: 'ok' }` while the broker answers and a worker
 * has sent a heartbeat within TASKQUEUE_HEALTH_WORKER_MAX_AGE; otherwise 503
 * with, under `error`, what failed (Terminus's format).
 */
@Controller('health')
export class HealthController {
  private readonly workerMaxAge: string;

  constructor(
    private readonly health: HealthCheckService,
    private readonly taskQueue: TaskQueueHealthIndicator,
    config: ConfigService,
  ) {
    // A number of ms or a duration such as '10s'.
    const raw = config.get<string>('TASKQUEUE_HEALTH_WORKER_MAX_AGE')?.trim();
    this.workerMaxAge = raw ? raw : DEFAULT_WORKER_MAX_AGE;
  }

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    const maxHeartbeatAge = /^\d+$/.test(this.workerMaxAge) ? Number(this.workerMaxAge) : this.workerMaxAge;
    return this.health.check([
      () => this.taskQueue.pingCheck('broker'),
      () => this.taskQueue.workerCheck('workers', { maxHeartbeatAge }),
    ]);
  }
}
