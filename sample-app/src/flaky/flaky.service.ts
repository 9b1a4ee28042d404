import { Injectable, Logger } from '@nestjs/common';
import { Task, TaskContext } from 'nestjs-taskqueue';
import { TransientError } from './transient.error.js';

@Injectable()
export class FlakyService {
  private readonly logger = new Logger(FlakyService.name);

  constructor(private readonly ctx: TaskContext) {}

  /**
   * Fails its first `failures` runs with TransientError, then succeeds. Only
   * TransientError is retried (autoretryFor), up to 5 times, after 200 ms,
   * 400 ms, 800 ms, ... (jittered). `ctx.retries` counts the runs before this
   * one, so the task works the same in any process.
   */
  @Task({
    name: 'flaky.run',
    autoretryFor: [TransientError],
    retry: { max: 5, backoff: 'exponential', delay: '200ms' },
  })
  async run(failures: number): Promise<{ attempts: number }> {
    const attempt = this.ctx.retries + 1;
    if (attempt <= failures) {
      this.logger.warn(`Task ${this.ctx.id}: attempt ${attempt} fails on purpose`);
      throw new TransientError(`attempt ${attempt} of ${failures + 1} failed`);
    }
    return { attempts: attempt };
  }
}
