import { BadRequestException, Body, Controller, Post } from '@nestjs/common';
import { TaskClient } from 'nestjs-taskqueue';
import { taskLinks, type TaskLinks } from '../tasks/task-view.js';
import { ReportsService } from './reports.service.js';

@Controller('reports')
export class ReportsController {
  constructor(private readonly tasks: TaskClient) {}

  /** Queues a report over `rows` rows (1 to 10000); follow it at statusUrl. */
  @Post()
  async create(@Body() body: { rows?: unknown } | undefined): Promise<{ taskId: string } & TaskLinks> {
    const rows = body?.rows;
    if (typeof rows !== 'number' || !Number.isInteger(rows) || rows < 1 || rows > 10_000) {
      throw new BadRequestException('body.rows must be an integer from 1 to 10000');
    }
    const result = await this.tasks.for(ReportsService).build.delay(rows);
    return { taskId: result.id, ...taskLinks(result) };
  }
}
