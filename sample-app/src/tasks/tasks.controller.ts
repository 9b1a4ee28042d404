import { BadRequestException, Controller, Get, GatewayTimeoutException, Param } from '@nestjs/common';
import {
  TaskClient,
  TaskError,
  TaskQueueConfigError,
  TaskRevokedError,
  TaskState,
  TaskTimeoutError,
  type AsyncResult,
} from 'nestjs-taskqueue';
import { taskView, type TaskView } from './task-view.js';

/**
 * Task status, by id: the library finds the task in any queue this application
 * knows. `tasks.result()` refuses ids that cannot be task ids, which becomes a 400.
 */
@Controller('tasks')
export class TasksController {
  constructor(private readonly tasks: TaskClient) {}

  @Get(':id')
  async status(@Param('id') id: string): Promise<TaskView> {
    return taskView(id, await this.handle(id).record());
  }

  /** Waits up to 10 s for the task to finish; 504 (with the current state) if it has not. */
  @Get(':id/wait')
  async wait(@Param('id') id: string): Promise<TaskView> {
    const result = this.handle(id);
    try {
      return { id, task: result.taskName, state: TaskState.SUCCESS, result: await result.get({ timeout: '10s' }) };
    } catch (err) {
      if (err instanceof TaskError)
        return {
          id,
          task: err.taskName,
          state: TaskState.FAILURE,
          error: { type: err.type, message: err.remoteMessage },
        };
      if (err instanceof TaskRevokedError)
        return { id, state: TaskState.REVOKED, error: { type: err.name, message: err.reason } };
      if (err instanceof TaskTimeoutError)
        throw new GatewayTimeoutException({ message: err.message, task: taskView(id, await result.record()) });
      throw err;
    }
  }

  private handle(id: string): AsyncResult<unknown> {
    try {
      return this.tasks.result(id);
    } catch (err) {
      if (err instanceof TaskQueueConfigError) throw new BadRequestException(err.message);
      throw err;
    }
  }
}
