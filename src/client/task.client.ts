import { Inject, Injectable, type Type } from '@nestjs/common';
import type { TaskDefinition } from '../discovery/task.registry.js';
import { TaskRegistry } from '../discovery/task.registry.js';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import type { PublishOptions } from '../interfaces/task-options.interface.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import { assertName, buildMessage } from '../protocol/index.js';
import type { PublishItem, Transport } from '../transport/transport.interface.js';
import { randomUUID } from 'node:crypto';
import { TaskQueueConfigError } from '../errors/index.js';
import {
  Signature,
  WorkflowPublisher,
  freeze,
  signalPublishHooks,
  type PublishHooks,
  type PublishOp,
  checkPlan,
  plan as planCanvas,
  resultShape,
  taskRefs,
  type Canvas,
  type CanvasPublisher,
  type CanvasResult,
  type ResultShape,
  type SignatureOptions,
  type TaskRef,
} from '../canvas/index.js';
import type { SignatureOptionsJSON } from '../protocol/canvas-json.js';
import { AsyncResult } from './async-result.js';
import { correlationStorage } from '../context/correlation.js';
import { SignalEmitter } from '../signals/signal.emitter.js';
import { TaskSignal } from '../signals/task-signal.constants.js';
import { GroupResult, type ResultHandle } from './group-result.js';

function canvasOptions(o: PublishOptions): SignatureOptionsJSON {
  const { eta, expires, parentId: _p, rootId: _r, ...rest } = o;
  return {
    ...(rest as SignatureOptionsJSON),
    ...(eta !== undefined ? { eta: eta instanceof Date ? eta.getTime() : eta } : {}),
    ...(expires !== undefined
      ? { expires: expires instanceof Date ? Math.max(0, expires.getTime() - Date.now()) : expires }
      : {}),
  };
}

type AnyFn = (...args: any[]) => any;

/** Every suffix of a parameter list: what a partial signature may be given. */
export type PartialArgs<P extends unknown[]> = P | (P extends [unknown, ...infer Rest] ? PartialArgs<Rest> : never);

/** The typed handle of one task method. @publicApi */
export interface TaskHandle<F extends AnyFn> {
  /** A partial signature: leading arguments left out are filled by the parent's result (or the caller). */
  s(...args: PartialArgs<Parameters<F>>): Signature<Awaited<ReturnType<F>>>;
  /** An immutable signature: it ignores the parent's result. */
  si(...args: Parameters<F>): Signature<Awaited<ReturnType<F>>>;
  /** Publishes with the task's default options. */
  delay(...args: Parameters<F>): Promise<AsyncResult<Awaited<ReturnType<F>>>>;
  /** Publishes with per-call options (countdown, eta, expires, priority, queue, headers, taskId). */
  applyAsync(args: Parameters<F>, options?: PublishOptions): Promise<AsyncResult<Awaited<ReturnType<F>>>>;
  /** The registered task name. */
  readonly taskName: string;
}

/** The methods of T, each as a TaskHandle. Only @Task() methods work at run time. @publicApi */
export type TaskHandles<T> = {
  readonly [K in keyof T as T[K] extends AnyFn ? K : never]: T[K] extends AnyFn ? TaskHandle<T[K]> : never;
};

/**
 * Publishes tasks and hands back their results.
 *
 * @example
 * ```ts
 * const r = await this.tasks.for(EmailService).sendWelcome.delay(user.id, url);
 * await r.get({ timeout: '10s' });
 * ```
 * @publicApi
 */
@Injectable()
export class TaskClient implements CanvasPublisher {
  private readonly handles = new WeakMap<Function, object>();
  private readonly workflow: WorkflowPublisher;
  private readonly hooks: PublishHooks;

  constructor(
    @Inject(TASK_QUEUE_TRANSPORT) private readonly transport: Transport,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
    private readonly registry: TaskRegistry,
    private readonly signals: SignalEmitter,
  ) {
    this.hooks = signalPublishHooks(signals, options.defaultQueue);
    this.workflow = new WorkflowPublisher(transport, (t) => registry.get(t), options, this.hooks);
  }

  /** The correlation id of the request or task behind this call, as a header to inherit. */
  private inherited(): Record<string, string> | undefined {
    const cid = correlationStorage.getStore();
    return cid === undefined ? undefined : { [this.options.correlation.header]: cid };
  }

  /** Typed handles on the @Task() methods of a provider class. */
  for<T extends object>(service: Type<T>): TaskHandles<T> {
    const cached = this.handles.get(service);
    if (cached) return cached as TaskHandles<T>;
    const cache = new Map<string, TaskHandle<AnyFn>>();
    const proxy = new Proxy(
      {},
      {
        get: (_t, prop) => {
          if (typeof prop !== 'string') return undefined;
          let handle = cache.get(prop);
          if (!handle) {
            const def = this.registry.forMethod(service, prop);
            handle = this.handleFor(def);
            cache.set(prop, handle);
          }
          return handle;
        },
      },
    );
    this.handles.set(service, proxy);
    return proxy as TaskHandles<T>;
  }

  private handleFor(def: TaskDefinition): TaskHandle<AnyFn> {
    return {
      taskName: def.name,
      delay: (...args: unknown[]) => this.send(def.name, args),
      applyAsync: (args: unknown[], options?: PublishOptions) => this.send(def.name, args, options),
      s: (...args: unknown[]) => this.signature(def.name, args),
      si: (...args: unknown[]) => this.signature(def.name, args).si(),
    } as TaskHandle<AnyFn>;
  }

  /** A signature of a task by name, bound to this client (Celery's `signature()`). */
  signature<R = unknown>(name: string, args: readonly unknown[] = [], options: SignatureOptions = {}): Signature<R> {
    return new Signature<R>(name, args, options).bind(this);
  }

  /**
   * Publishes a workflow: a signature, chain, group or chord. Returns the handle
   * of what the workflow ends in: an AsyncResult, or a GroupResult for a group.
   * `args` are prepended to the first task's arguments.
   */
  async applyCanvas<R = unknown>(
    canvas: Canvas<R>,
    args: readonly unknown[] = [],
    options: PublishOptions = {},
  ): Promise<CanvasResult<R>> {
    let json = canvas.toJSON();
    if (Object.keys(options).length) {
      if (json.type !== 'signature')
        throw new TaskQueueConfigError(
          'options',
          options,
          'set options on the signatures of a chain, group or chord (sig.set({ ... }))',
        );
      json = { ...json, options: { ...json.options, ...canvasOptions(options) } };
    }
    const frozen = freeze(json, {
      defaults: (t) => this.registry.get(t),
      defaultQueue: this.options.defaultQueue,
      newId: randomUUID,
    });
    const graph = taskRefs(frozen);
    const plan = planCanvas(frozen, args.length ? [...args] : undefined, { rest: [], rootId: graph[0]?.id });
    // the whole graph, as the workers will continue it: what they could not publish is refused now
    // (options only: the rest of the workflow a message carries is checked on its own message)
    checkPlan(plan, (op) => this.workflow.build({ ...op, workflow: {} }));
    await this.workflow.execute(plan, this.inherited());
    return this.handle(resultShape(frozen), graph) as unknown as CanvasResult<R>;
  }

  private handle(shape: ResultShape, graph?: TaskRef[]): ResultHandle {
    const parent = shape.parent ? this.handle(shape.parent) : undefined;
    if (shape.kind === 'group')
      return new GroupResult(
        shape.id,
        shape.members.map((m) => this.handle(m)),
        parent,
      );
    return new AsyncResult(
      shape.ref.id,
      shape.ref.queue,
      shape.ref.task,
      this.transport,
      this.options.resultExpiresMs,
      { parent, graph },
    );
  }

  /**
   * Publishes a task by name. The task may live in another process or codebase:
   * names this application does not know are sent with the module's defaults.
   */
  async send<R = unknown>(
    name: string,
    args: readonly unknown[] = [],
    options: PublishOptions = {},
  ): Promise<AsyncResult<R>> {
    const [item, result, op] = this.prepare<R>(name, args, options);
    await this.transport.publish([item]);
    this.hooks.afterPublish?.(op, item);
    return result;
  }

  /** Publishes many calls in one round trip. */
  async sendMany<R = unknown>(
    calls: ReadonlyArray<{ name: string; args?: readonly unknown[]; options?: PublishOptions }>,
  ): Promise<AsyncResult<R>[]> {
    const prepared = calls.map((c) => this.prepare<R>(c.name, c.args ?? [], c.options ?? {}));
    await this.transport.publish(prepared.map(([item]) => item));
    if (this.hooks.afterPublish) for (const [item, , op] of prepared) this.hooks.afterPublish(op, item);
    return prepared.map(([, r]) => r);
  }

  /**
   * A handle on a task by id (Celery's `AsyncResult(id)`). Without `queue`, the
   * task is looked for in every queue this application knows: the default
   * queue, its tasks' queues and its worker's queues.
   */
  result<R = unknown>(id: string, queue?: string, taskName?: string): AsyncResult<R> {
    assertName('result id', id);
    if (queue !== undefined) assertName('result queue', queue);
    return new AsyncResult<R>(
      id,
      queue,
      taskName,
      this.transport,
      this.options.resultExpiresMs,
      {},
      this.knownQueues(),
    );
  }

  /** Queues a task of this application may be in. */
  knownQueues(): string[] {
    const queues = new Set<string>([this.options.defaultQueue]);
    for (const def of this.registry.all()) queues.add(def.queue);
    for (const q of this.options.worker.queues ?? []) queues.add(q);
    return [...queues];
  }

  private prepare<R>(
    name: string,
    args: readonly unknown[],
    o: PublishOptions,
  ): [PublishItem, AsyncResult<R>, PublishOp] {
    const inherit = this.inherited();
    const op: PublishOp = {
      task: name,
      args: args as unknown[],
      options: inherit ? { ...o, headers: { ...inherit, ...o.headers } } : o,
      workflow: {},
    };
    if (this.signals.has(TaskSignal.BeforePublish)) {
      op.options = { ...op.options, taskId: op.options.taskId ?? randomUUID() };
      this.hooks.beforePublish?.(op);
    }
    const { item } = buildMessage(op.task, op.args, op.options, this.registry.get(name), this.options);
    return [item, new AsyncResult<R>(item.id, item.queue, name, this.transport, this.options.resultExpiresMs), op];
  }
}
