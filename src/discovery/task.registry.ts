import { Injectable } from '@nestjs/common';
import { DuplicateTaskError, UnknownTaskError } from '../errors/index.js';
import type { ErrorClass, ResolvedRetry } from '../interfaces/task-options.interface.js';

/** A discovered task, its options resolved. @internal */
export interface TaskDefinition {
  name: string;
  /** `Class#method`, for messages. */
  site: string;
  target: Function;
  methodName: string;
  instance: object;
  handler: (...args: unknown[]) => unknown;
  queue: string;
  priority: number;
  retry?: ResolvedRetry;
  autoretryFor?: ErrorClass[];
  timeLimitMs?: number;
  softTimeLimitMs?: number;
  expiresMs?: number;
  ignoreResult: boolean;
  /** Takes Celery keyword arguments as a trailing object (protocol 'celery'). */
  kwargs?: boolean;
  /** At most `limit` starts per `intervalMs`, across workers. */
  rateLimit?: { limit: number; intervalMs: number };
  /** Unique tasks (see TaskOptions.unique). */
  unique?: { key: (...args: any[]) => string; ttlMs: number; while: 'queued' | 'running' | 'ttl' };
}

/** Every task of this application, by name and by class + method. Final after bootstrap. */
@Injectable()
export class TaskRegistry {
  private readonly byName = new Map<string, TaskDefinition>();
  private readonly byMethod = new Map<Function, Map<string, TaskDefinition>>();

  register(def: TaskDefinition): void {
    const existing = this.byName.get(def.name);
    if (existing) throw new DuplicateTaskError(def.name, [existing.site, def.site]);
    this.byName.set(def.name, def);
    let methods = this.byMethod.get(def.target);
    if (!methods) this.byMethod.set(def.target, (methods = new Map()));
    methods.set(def.methodName, def);
  }

  get(name: string): TaskDefinition | undefined {
    return this.byName.get(name);
  }

  getOrThrow(name: string): TaskDefinition {
    const def = this.byName.get(name);
    if (!def) throw new UnknownTaskError(name);
    return def;
  }

  /** The task a class's method was decorated as; walks up the prototype chain for subclasses. */
  forMethod(target: Function, methodName: string): TaskDefinition {
    for (let cls: Function | null = target; cls && cls !== Function.prototype; cls = Object.getPrototypeOf(cls)) {
      const def = this.byMethod.get(cls)?.get(methodName);
      if (def) return def;
    }
    throw new UnknownTaskError(
      `${target.name}.${methodName}`,
      `${target.name}#${methodName} is not decorated with @Task(), or ${target.name} is not a provider of this application.`,
    );
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  all(): TaskDefinition[] {
    return [...this.byName.values()];
  }
}
