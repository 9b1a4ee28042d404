// Compiled by test/unit/typed-client.spec.ts; each line marked BAD must fail to compile.
import { Injectable } from '@nestjs/common';
import { Task, type AsyncResult, type TaskClient } from '../../src/index.js';

@Injectable()
export class Mailer {
  @Task('mail.send')
  async send(userId: number, url: string): Promise<{ sent: boolean }> {
    return { sent: userId > 0 && url.length > 0 };
  }
}

export async function calls(tasks: TaskClient): Promise<void> {
  const ok: AsyncResult<{ sent: boolean }> = await tasks.for(Mailer).send.delay(1, 'https://x');
  const sent: boolean = (await ok.get()).sent;
  await tasks.for(Mailer).send.applyAsync([2, 'u'], { countdown: '5s', priority: 9 });
  void sent;
  await tasks.for(Mailer).send.delay('1', 'https://x'); // BAD: string where number
  await tasks.for(Mailer).send.delay(1); // BAD: missing argument
  await tasks.for(Mailer).send.applyAsync([1, 2]); // BAD: number where string
  const wrong: AsyncResult<string> = await tasks.for(Mailer).send.delay(1, 'u'); // BAD: result type
  await tasks.for(Mailer).nope.delay(); // BAD: no such method
  void wrong;
}
