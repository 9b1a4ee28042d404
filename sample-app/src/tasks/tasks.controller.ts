import { BadRequestException, Controller, Get, GatewayTimeoutException, Param, Query } from '@nestjs/common';
import { TaskClient, TaskError, TaskRevokedError, TaskState, TaskTimeoutError, type AsyncResult } from 'nestjs-taskqueue';
import { taskView, type TaskView } from './task-view.js';

/** Task ids and queue names: what the library accepts ([A-Za-z0-9._:-], 1 to 200 characters). */
const NAME = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * Task status. A result is looked up by id *and queue*, so `?queue=` names the
 * queue the task was published to; it defaults to 'default' (the module's
 * default queue). The email task is on 'email': POST /users answers with
 * links that carry it.
 */
@Controller('tasks')
export class TasksController {
  constructor(private readonly tasks: TaskClient) {}

  @Get(':id')
  async status(@Param('id') id: string, @Query('queue') queue?: string): Promise<TaskView> {
    return taskView(id, await this.handle(id, queue).record());
  }

  /** Waits up to 10 s for the task to finish; 504 (with the current state) if it has not. */
  @Get(':id/wait')
  async wait(@Param('id') id: string, @Query('queue') queue?: string): Promise<TaskView> {
    const result = this.handle(id, queue);
    try {
      return { id, task: result.taskName, state: TaskState.SUCCESS, result: await result.get({ timeout: '10s' }) };
    } catch (err) {
      if (err instanceof TaskError) return { id, task: err.taskName, state: TaskState.FAILURE, error: { type: err.type, message: err.remoteMessage } };
      if (err instanceof TaskRevokedError) return { id, state: TaskState.REVOKED, error: { type: err.name, message: err.reason } };
      if (err instanceof TaskTimeoutError) throw new GatewayTimeoutException({ message: err.message, task: taskView(id, await result.record()) });
      throw err;
    }
  }

  private handle(id: string, queue = 'default'): AsyncResult<unknown> {
    if (!NAME.test(id)) throw new BadRequestException('id: use 1 to 200 characters from A-Z a-z 0-9 . _ : -');
    if (!NAME.test(queue)) throw new BadRequestException('queue: use 1 to 200 characters from A-Z a-z 0-9 . _ : -');
    return this.tasks.result(id, queue);
  }
}
