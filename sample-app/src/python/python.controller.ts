import { BadRequestException, Body, Controller, Post } from '@nestjs/common';
import { TaskClient } from 'nestjs-taskqueue';
import { taskLinks, type TaskLinks } from '../tasks/task-view.js';

/** Queue of the Python Celery worker of python/celery_app.py. */
export const PYTHON_QUEUE = 'py';

@Controller('python')
export class PythonController {
  constructor(private readonly tasks: TaskClient) {}

  /**
   * Sends `app.add` to a Python Celery worker (run with TASKQUEUE_PROTOCOL=celery
   * and python/celery_app.py); the task is known by name only.
   */
  @Post('add')
  async add(@Body() body: { a?: unknown; b?: unknown } | undefined): Promise<{ taskId: string } & TaskLinks> {
    const { a, b } = body ?? {};
    if (typeof a !== 'number' || typeof b !== 'number')
      throw new BadRequestException('body.a and body.b must be numbers');
    const result = await this.tasks.send<number>('app.add', [a, b], { queue: PYTHON_QUEUE });
    return { taskId: result.id, ...taskLinks(result) };
  }
}
