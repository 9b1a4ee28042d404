import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { TaskQueueModuleOptions } from './interfaces/task-queue-module-options.interface.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: TASK_QUEUE_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<TaskQueueModuleOptions>()
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createTaskQueueOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
