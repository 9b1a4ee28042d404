import { Inject, Injectable, Logger, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { TASK_QUEUE_MODULE_OPTIONS } from './task-queue.module-definition.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from './task-queue.constants.js';
import { MESSAGES } from './task-queue.messages.js';
import { resolveModuleOptions } from './task-queue.options.js';
import type { ResolvedTaskQueueOptions, TaskQueueModuleOptions } from './interfaces/index.js';
import { MemoryTransport } from './transport/memory/memory.transport.js';
import { RedisTransport } from './transport/redis/redis.transport.js';
import type { Transport } from './transport/transport.interface.js';

export const optionsProvider: Provider = {
  provide: TASK_QUEUE_OPTIONS,
  useFactory: (raw: TaskQueueModuleOptions) => resolveModuleOptions(raw),
  inject: [TASK_QUEUE_MODULE_OPTIONS],
};

/** Creates the transport and closes it (when it owns it) after everything else has shut down. */
@Injectable()
export class TaskQueueConnection implements OnApplicationShutdown {
  private readonly logger = new Logger('TaskQueueModule');
  readonly transport: Transport;
  private readonly owned: boolean;

  constructor(@Inject(TASK_QUEUE_OPTIONS) options: ResolvedTaskQueueOptions) {
    if (options.transport === 'memory') {
      this.logger.warn(MESSAGES.memoryBroker(options.brokerUrl));
      this.transport = MemoryTransport.shared(options.brokerUrl.slice('memory://'.length) || 'default');
      this.owned = false; // shared by every module of this process that names the same broker
    } else {
      this.transport = new RedisTransport({
        url: options.brokerUrl,
        client: options.client,
        redisOptions: options.redis,
        prefix: options.prefix,
      });
      this.owned = true;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.owned) await this.transport.close();
  }
}

export const transportProvider: Provider = {
  provide: TASK_QUEUE_TRANSPORT,
  useFactory: (connection: TaskQueueConnection) => connection.transport,
  inject: [TaskQueueConnection],
};
