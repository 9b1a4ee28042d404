/**
 * The flaky task with nestjs-taskqueue/testing in eager mode (Celery's
 * task_always_eager): delay() returns once the task has run, retries included,
 * so the controller's answer already points at a finished task.
 */
import { Test, type TestingModule } from '@nestjs/testing';
import { TaskClient, TaskState } from 'nestjs-taskqueue';
import { TaskQueueTester, TaskQueueTestingModule } from 'nestjs-taskqueue/testing';
import { FlakyController } from '../src/flaky/flaky.controller.js';
import { FlakyModule } from '../src/flaky/flaky.module.js';
import { FlakyService } from '../src/flaky/flaky.service.js';

describe('FlakyController (eager)', () => {
  let moduleRef: TestingModule;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [TaskQueueTestingModule.forRoot({ alwaysEager: true }), FlakyModule],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
  });

  afterAll(async () => {
    await moduleRef.close();
  });

  it('retries on TransientError without waiting for the backoff, and answers with a finished task', async () => {
    const res = await moduleRef.get(FlakyController).create({ failures: 2 });
    const record = await moduleRef.get(TaskClient).result(res.taskId).record();
    expect(record).toMatchObject({ state: TaskState.SUCCESS, retries: 2, result: { attempts: 3 } });
    expect(
      moduleRef
        .get(TaskQueueTester)
        .published(FlakyService, 'run')
        .map((t) => t.args),
    ).toEqual([[2]]);
  });

  it('stores the failure once the retries are spent', async () => {
    const res = await moduleRef.get(FlakyController).create({ failures: 6 });
    const result = moduleRef.get(TaskClient).result(res.taskId);
    expect(await result.state()).toBe(TaskState.FAILURE);
    await expect(result.get()).rejects.toMatchObject({
      type: 'TransientError',
      remoteMessage: 'attempt 6 of 7 failed',
    });
  });
});
