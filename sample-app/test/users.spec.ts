/**
 * The users controller with nestjs-taskqueue/testing: registering a user
 * queues the welcome email (asserted without running it), and draining the
 * queue sends it. No Redis: TaskQueueTestingModule brings a private in-process
 * broker per test.
 */
import { ConfigModule } from '@nestjs/config';
import { Test, type TestingModule } from '@nestjs/testing';
import { TaskQueueTester, TaskQueueTestingModule } from 'nestjs-taskqueue/testing';
import { EmailModule } from '../src/email/email.module.js';
import { EmailService } from '../src/email/email.service.js';
import { UsersController } from '../src/users/users.controller.js';
import { UsersModule } from '../src/users/users.module.js';

describe('UsersController', () => {
  let moduleRef: TestingModule;
  let users: UsersController;
  let email: EmailService;
  let tester: TaskQueueTester;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          load: [() => ({ PUBLIC_URL: 'https://app.example.com' })],
        }),
        // Instead of TaskQueueModule.forRoot(): nothing runs until the test drains the queue.
        TaskQueueTestingModule.forRoot({ worker: false }),
        EmailModule,
        UsersModule,
      ],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    users = moduleRef.get(UsersController);
    email = moduleRef.get(EmailService);
    tester = moduleRef.get(TaskQueueTester);
  });

  afterEach(async () => {
    await moduleRef.close();
  });

  it('queues the welcome email when a user registers, and sends it when the queue is drained', async () => {
    const res = await users.register({ email: 'Ada@Example.com' });

    // Published, with the arguments typed from EmailService.sendWelcome, but not sent yet.
    const published = tester.published(EmailService, 'sendWelcome');
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      id: res.taskId,
      task: 'email.welcome',
      queue: 'email',
      args: [res.user.id, 'https://app.example.com/login'],
    });
    expect(email.outbox()).toEqual([]);

    await expect(tester.drain()).resolves.toMatchObject({ succeeded: 1, failed: 0 });
    expect(email.outbox()).toEqual([
      expect.objectContaining({
        userId: res.user.id,
        subject: 'Welcome!',
        taskId: res.taskId,
        attempt: 0,
        body: expect.stringContaining('https://app.example.com/login'),
      }),
    ]);
  });

  it('queues nothing when the email is invalid', async () => {
    await expect(users.register({ email: 'not-an-email' })).rejects.toThrow('body.email must be an email address');
    expect(tester.published()).toEqual([]);
  });
});
