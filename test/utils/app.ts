import type { Provider, Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TaskQueueModule, type TaskQueueModuleOptions } from '../../src/index.js';

/** Boots a testing module with TaskQueueModule and the given providers; init() runs discovery. */
export async function createTaskApp(
  options: TaskQueueModuleOptions,
  providers: Array<Provider | Type>,
): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [TaskQueueModule.forRoot(options)],
    providers,
  }).compile();
  moduleRef.useLogger(process.env.TEST_LOGS ? console : false);
  await moduleRef.init();
  return moduleRef;
}
