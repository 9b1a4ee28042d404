import { BadRequestException, Body, Controller, Post } from '@nestjs/common';
import { TaskClient } from 'nestjs-taskqueue';
import { taskLinks, type TaskLinks } from '../tasks/task-view.js';
import { FlakyService } from './flaky.service.js';

@Controller('flaky')
export class FlakyController {
  constructor(private readonly tasks: TaskClient) {}

  /** Queues a task that fails `failures` times before it succeeds (more than 5: it ends FAILURE). */
  @Post()
  async create(@Body() body: { failures?: unknown } | undefined): Promise<{ taskId: string } & TaskLinks> {
    const failures = body?.failures ?? 0;
    if (typeof failures !== 'number' || !Number.isInteger(failures) || failures < 0 || failures > 10) {
      throw new BadRequestException('body.failures must be an integer from 0 to 10');
    }
    const result = await this.tasks.for(FlakyService).run.delay(failures);
    return { taskId: result.id, ...taskLinks(result) };
  }
}
