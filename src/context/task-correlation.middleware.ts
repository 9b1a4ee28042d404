import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import { TASK_QUEUE_OPTIONS } from '../task-queue.constants.js';
import { correlationStorage } from './correlation.js';

interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
}
interface HttpResponseLike {
  setHeader?(name: string, value: string): unknown;
}

/**
 * Takes the correlation id from the request header named by the module's
 * `correlation.httpHeader` (or makes one), echoes it on the response, and
 * makes it the correlation id of every task published while handling the request.
 *
 * @example
 * ```ts
 * export class AppModule implements NestModule {
 *   configure(consumer: MiddlewareConsumer) { consumer.apply(TaskCorrelationMiddleware).forRoutes('*'); }
 * }
 * ```
 * @publicApi
 */
@Injectable()
export class TaskCorrelationMiddleware implements NestMiddleware {
  constructor(@Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions) {}

  use(req: HttpRequestLike, res: HttpResponseLike, next: (error?: unknown) => void): void {
    const { httpHeader } = this.options.correlation;
    const raw = req.headers[httpHeader.toLowerCase()];
    const given = Array.isArray(raw) ? raw[0] : raw;
    const id = given && /^[\x21-\x7e]{1,200}$/.test(given) ? given : randomUUID();
    res.setHeader?.(httpHeader, id);
    correlationStorage.run(id, next);
  }
}
