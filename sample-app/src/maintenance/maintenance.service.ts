import { Injectable } from '@nestjs/common';
import { Periodic, TaskLogger } from 'nestjs-taskqueue';
import { EmailService } from '../email/email.service.js';

/** Housekeeping that runs on a schedule, fired by the beat (once per tick, whatever the number of beats). */
@Injectable()
export class MaintenanceService {
  private readonly log = new TaskLogger(MaintenanceService.name);
  private readonly runs: Array<{ at: string; removed: number }> = [];

  constructor(private readonly email: EmailService) {}

  /** Keeps the outbox to its newest 100 entries. (SAMPLE_CLEANUP_EVERY changes the interval, for the sample's tests.) */
  @Periodic({ every: process.env.SAMPLE_CLEANUP_EVERY || '30s', name: 'maintenance.cleanupOutbox' })
  cleanupOutbox(): { removed: number } {
    const removed = this.email.trimOutbox(100);
    this.runs.push({ at: new Date().toISOString(), removed });
    if (this.runs.length > 20) this.runs.shift();
    this.log.log(`outbox cleanup: ${removed} removed`);
    return { removed };
  }

  /** A nightly job in a timezone: right across daylight saving changes. */
  @Periodic({ cron: '30 2 * * *', timezone: 'Europe/London', name: 'maintenance.nightly' })
  nightly(): string {
    this.log.log('nightly maintenance');
    return 'done';
  }

  /** The cleanup's recent runs (in this process). */
  recentRuns(): Array<{ at: string; removed: number }> {
    return [...this.runs];
  }
}
