import { Inject, Injectable, Logger, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { TASK_QUEUE_MODULE_OPTIONS } from './task-queue.module-definition.js';
import { TASK_QUEUE_BEAT_STORE, TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from './task-queue.constants.js';
import { MESSAGES } from './task-queue.messages.js';
import { resolveModuleOptions } from './task-queue.options.js';
import type { ResolvedTaskQueueOptions, TaskQueueModuleOptions } from './interfaces/index.js';
import { MemoryTransport } from './transport/memory/memory.transport.js';
import { RedisTransport } from './transport/redis/redis.transport.js';
import { CeleryRedisTransport } from './transport/redis/celery/celery-redis.transport.js';
import type { Transport } from './transport/transport.interface.js';
import { withShards } from './transport/sharded.transport.js';
import type { BeatStore } from './transport/beat-store.interface.js';
import { MemoryBeatStore } from './transport/memory/memory-beat.store.js';
import { RedisBeatStore } from './transport/redis/redis-beat.store.js';

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
  /** The broker's own transport, without the queue shards (the beat store talks to it). */
  readonly base: Transport;
  private readonly owned: boolean;

  constructor(@Inject(TASK_QUEUE_OPTIONS) options: ResolvedTaskQueueOptions) {
    if (options.transport === 'memory') {
      this.logger.warn(MESSAGES.memoryBroker(options.brokerUrl));
      this.base = MemoryTransport.shared(options.brokerUrl.slice('memory://'.length) || 'default');
      this.owned = false; // shared by every module of this process that names the same broker
    } else if (options.protocol === 'celery') {
      this.base = new CeleryRedisTransport({
        url: options.brokerUrl,
        client: options.client,
        connection: options.connection,
        redisOptions: options.redis,
        prefix: options.prefix,
        maxMessageBytes: options.maxMessageBytes,
        resultTtlMs: options.resultExpiresMs,
      });
      this.owned = true;
    } else {
      this.base = new RedisTransport({
        url: options.brokerUrl,
        client: options.client,
        connection: options.connection,
        durability: options.durability,
        redisOptions: options.redis,
        prefix: options.prefix,
      });
      this.owned = true;
    }
    // One logical queue over several broker queues, where `queues` asks for it.
    this.transport = withShards(this.base, options.shards);
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

/** The store of periodic schedules and beats, on the same broker as the transport (and its connection). */
export const beatStoreProvider: Provider = {
  provide: TASK_QUEUE_BEAT_STORE,
  useFactory: (connection: TaskQueueConnection): BeatStore => {
    // `base` is absent where a test kit stands in for the connection with a transport of its own.
    const base = connection.base ?? connection.transport;
    return base instanceof MemoryTransport
      ? MemoryBeatStore.for(base)
      : new RedisBeatStore((base as RedisTransport).redis, (base as RedisTransport).keys);
  },
  inject: [TaskQueueConnection],
};
