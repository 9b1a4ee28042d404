import { Controller, Get } from '@nestjs/common';
import { PeriodicSchedules } from 'nestjs-taskqueue';
import { MaintenanceService } from './maintenance.service.js';

@Controller('maintenance')
export class MaintenanceController {
  constructor(
    private readonly schedules: PeriodicSchedules,
    private readonly maintenance: MaintenanceService,
  ) {}

  /** The periodic schedules with their next run times, and the cleanup's recent runs in this process. */
  @Get()
  async status(): Promise<{ schedules: unknown[]; recentRuns: unknown[] }> {
    return { schedules: await this.schedules.list(), recentRuns: this.maintenance.recentRuns() };
  }
}
