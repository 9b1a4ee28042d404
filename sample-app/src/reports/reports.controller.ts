import { BadRequestException, Body, Controller, Post } from '@nestjs/common';
import { TaskClient, chord } from 'nestjs-taskqueue';
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

  /**
   * A workflow: fan out over `items` (one task each, in parallel on any
   * worker), then aggregate their results once all are in (a chord).
   */
  @Post('fanout')
  async fanout(@Body() body: { items?: unknown } | undefined): Promise<{ taskId: string } & TaskLinks> {
    const items = body?.items;
    if (
      !Array.isArray(items) ||
      items.length > 1000 ||
      !items.every((i) => typeof i === 'string' && i.length > 0 && i.length <= 100)
    ) {
      throw new BadRequestException(
        'body.items must be an array of at most 1000 non-empty strings (100 characters at most)',
      );
    }
    const t = this.tasks.for(ReportsService);
    const result = await chord(
      items.map((item: string) => t.scoreItem.s(item)),
      t.aggregate.s(),
    ).delay();
    return { taskId: result.id, ...taskLinks(result) };
  }
}
