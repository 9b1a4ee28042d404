import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { TaskQueueConfigError } from '../errors/index.js';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import type { ResolvedRetry, RetryOptions, TaskOptions, UniqueOptions } from '../interfaces/task-options.interface.js';
import { MAX_PRIORITY, MIN_PRIORITY, DEFAULT_PRIORITY, assertName, optionalMs, toMs } from '../protocol/index.js';
import type { PeriodicMetadata } from '../decorators/periodic.decorator.js';
import { PERIODIC_METADATA, TASK_METADATA, TASK_QUEUE_OPTIONS } from '../task-queue.constants.js';
import { MESSAGES } from '../task-queue.messages.js';
import { PeriodicRegistry } from './periodic.registry.js';
import { TaskRegistry, type TaskDefinition } from './task.registry.js';

/**
 * Finds @Task() methods on singleton providers at bootstrap and fills the registry.
 * A @Periodic() method is a task too (implicitly, when it has no @Task()), and its
 * schedules go to the PeriodicRegistry.
 */
@Injectable()
export class TaskQueueExplorer implements OnModuleInit {
  private readonly logger = new Logger('TaskQueueExplorer');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly registry: TaskRegistry,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
    private readonly periodic: PeriodicRegistry,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const { instance, metatype } = wrapper;
      if (!instance || !metatype || wrapper.isAlias) continue;
      const proto = Object.getPrototypeOf(instance);
      if (!proto || proto === Object.prototype) continue;
      for (const methodName of this.scanner.getAllMethodNames(proto)) {
        const meta = this.reflector.get<TaskOptions | undefined>(
          TASK_METADATA,
          instance[methodName as keyof typeof instance] as never,
        );
        const periodic = this.reflector.get<PeriodicMetadata[] | undefined>(
          PERIODIC_METADATA,
          instance[methodName as keyof typeof instance] as never,
        );
        if (!meta && !periodic) continue;
        const site = `${metatype.name}#${methodName}`;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(MESSAGES.scopedProvider(site));
          continue;
        }
        const def = this.define(
          instance as Record<string, unknown>,
          metatype as Function,
          methodName,
          site,
          meta ?? {},
        );
        this.registry.register(def);
        for (const p of periodic ?? []) this.periodic.add({ site, task: def, meta: p });
      }
    }
  }

  private define(
    instance: Record<string, unknown>,
    target: Function,
    methodName: string,
    site: string,
    meta: TaskOptions,
  ): TaskDefinition {
    const at = (option: string) => `@Task(${option}) on ${site}`;
    const name = assertName(at('name'), meta.name ?? `${target.name}.${methodName}`);
    const priority = meta.priority ?? DEFAULT_PRIORITY;
    if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
      throw new TaskQueueConfigError(
        at('priority'),
        priority,
        `expected an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`,
      );
    }
    const autoretryFor = meta.autoretryFor;
    if (
      autoretryFor !== undefined &&
      (!Array.isArray(autoretryFor) || autoretryFor.some((c) => typeof c !== 'function'))
    ) {
      throw new TaskQueueConfigError(at('autoretryFor'), autoretryFor, 'expected an array of error classes');
    }
    const method = instance[methodName] as (...args: unknown[]) => unknown;
    return {
      name,
      site,
      target,
      methodName,
      instance,
      handler: method,
      queue: assertName(at('queue'), meta.queue ?? this.options.defaultQueue),
      priority,
      retry: meta.retry || autoretryFor ? resolveRetry(meta.retry ?? {}, at('retry')) : undefined,
      autoretryFor,
      timeLimitMs: optionalMs(meta.timeLimit, at('timeLimit')),
      softTimeLimitMs: optionalMs(meta.softTimeLimit, at('softTimeLimit')),
      expiresMs: optionalMs(meta.expires, at('expires')),
      ignoreResult: meta.ignoreResult ?? false,
      ...(meta.kwargs ? { kwargs: true } : {}),
      rateLimit: meta.rateLimit === undefined ? undefined : parseRateLimit(meta.rateLimit, at('rateLimit')),
      unique: meta.unique === undefined ? undefined : resolveUnique(meta.unique, at('unique')),
    };
  }
}

function resolveUnique(u: UniqueOptions, option: string): NonNullable<TaskDefinition['unique']> {
  if (typeof u !== 'object' || u === null || typeof u.key !== 'function')
    throw new TaskQueueConfigError(option, u, 'expected { key: (...args) => string, ttl, while? }');
  const ttlMs = optionalMs(u.ttl, `${option}.ttl`);
  if (ttlMs === undefined || ttlMs <= 0)
    throw new TaskQueueConfigError(
      `${option}.ttl`,
      u.ttl,
      'a unique task needs a ttl above 0 (the key is never kept longer)',
    );
  const w = u.while ?? 'running';
  if (!['queued', 'running', 'ttl'].includes(w))
    throw new TaskQueueConfigError(`${option}.while`, w, "expected 'queued', 'running' or 'ttl'");
  return { key: u.key, ttlMs, while: w };
}

export function resolveRetry(r: RetryOptions, option: string): ResolvedRetry {
  const max = r.max ?? 3;
  if (!Number.isInteger(max) || max < 0)
    throw new TaskQueueConfigError(`${option}.max`, max, 'expected an integer >= 0');
  const backoff = r.backoff ?? 'exponential';
  if (backoff !== 'fixed' && backoff !== 'exponential')
    throw new TaskQueueConfigError(`${option}.backoff`, backoff, "expected 'fixed' or 'exponential'");
  return {
    max,
    backoff,
    delayMs: toMs(r.delay ?? '1s', `${option}.delay`),
    maxDelayMs: toMs(r.maxDelay ?? '10m', `${option}.maxDelay`),
    jitter: r.jitter ?? true,
  };
}

const RATE_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** '10/s', '100/m', '1000/h', or a number per second. */
export function parseRateLimit(value: string | number, option: string): { limit: number; intervalMs: number } {
  const m =
    typeof value === 'number'
      ? [String(value), String(value), 's']
      : /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|m|h)\s*$/.exec(value);
  const limit = m ? Number(m[1]) : NaN;
  if (!m || !Number.isFinite(limit) || limit <= 0) {
    throw new TaskQueueConfigError(option, value, "expected a positive rate such as '10/s', '100/m' or '1000/h'");
  }
  return { limit, intervalMs: RATE_UNITS[m[2]] };
}
