import { Inject, Injectable, type Type } from '@nestjs/common';
import { TaskTracing, tracingPublishHooks } from '../tracing/task-tracing.js';
import type { TaskDefinition } from '../discovery/task.registry.js';
import { TaskRegistry } from '../discovery/task.registry.js';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import type { InTransactionMode, PublishOptions, SqlClient } from '../interfaces/task-options.interface.js';
import { TASK_QUEUE_OPTIONS, TASK_QUEUE_TRANSPORT } from '../task-queue.constants.js';
import { assertName, buildMessage, uniqueOfRaw } from '../protocol/index.js';
import type { ChordSpec, PublishItem, Skipped, Transport } from '../transport/transport.interface.js';
import { asSqlClient, currentTransactionScope, type TransactionScope } from '../outbox/transaction-scope.js';
import { outboxStatements } from '../outbox/outbox.sql.js';
import { writeOutboxPayload } from '../outbox/outbox.payload.js';
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

/** Where a publish goes when not straight to the broker: after the commit, or into the outbox in the transaction. */
type Route = { kind: 'after-commit'; scope: TransactionScope } | { kind: 'outbox'; client: SqlClient };

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
  private readonly outboxInsert?: string;

  constructor(
    @Inject(TASK_QUEUE_TRANSPORT) private readonly transport: Transport,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
    private readonly registry: TaskRegistry,
    private readonly signals: SignalEmitter,
    private readonly tracing: TaskTracing,
  ) {
    this.hooks = tracingPublishHooks(tracing, signalPublishHooks(signals, options.defaultQueue), options.defaultQueue);
    this.workflow = new WorkflowPublisher(transport, (t) => registry.get(t), options, this.hooks);
    if (options.outbox) this.outboxInsert = outboxStatements(options.outbox.table).insert;
  }

  /**
   * Where a publish goes: undefined for straight to the broker (outside a
   * transaction, or 'immediate'), else after the commit or into the outbox.
   */
  private route(mode: InTransactionMode | undefined, transaction: SqlClient | undefined): Route | undefined {
    const m = mode ?? this.options.inTransaction;
    if (m === 'immediate') return undefined;
    if (transaction !== undefined) {
      const client = asSqlClient(transaction);
      if (!client) throw new TaskQueueConfigError('transaction', transaction, 'expected a SQL client with query()');
      if (!this.options.outbox)
        throw new TaskQueueConfigError(
          'transaction',
          transaction,
          'a transaction given per call is written to the outbox: configure the outbox option',
        );
      return { kind: 'outbox', client };
    }
    const scope = currentTransactionScope();
    if (!scope) return undefined;
    if (m === 'outbox') {
      if (!this.options.outbox)
        throw new TaskQueueConfigError('inTransaction', m, 'needs the outbox option ({ outbox: { dataSource } })');
      if (!scope.client)
        throw new TaskQueueConfigError(
          'inTransaction',
          m,
          "the transaction's client has no query(text, params) to write the outbox row with",
        );
      return { kind: 'outbox', client: scope.client };
    }
    return { kind: 'after-commit', scope };
  }

  /** Chord states, then messages: to the broker now, after the commit, or into the outbox. `after` runs once published. */
  private async dispatch(
    items: PublishItem[],
    chords: ChordSpec[],
    route: Route | undefined,
    after: () => void,
  ): Promise<Skipped> {
    if (route?.kind === 'outbox') {
      await route.client.query(this.outboxInsert!, [writeOutboxPayload({ items, chords })]);
      after();
      return new Map();
    }
    let skipped: Skipped = new Map();
    const publish = async () => {
      for (const c of chords) await this.transport.chordCreate(c);
      skipped = await this.transport.publish(items);
      after();
    };
    if (route) await route.scope.afterCommit(publish);
    else await publish();
    return skipped;
  }

  /**
   * A unique task is decided when it reaches the broker; held for a commit, its
   * caller would hold the handle of a task that may never exist.
   */
  private refuseDeferredUnique(item: PublishItem, route: Route): void {
    if (!uniqueOfRaw(item.raw)) return;
    throw new TaskQueueConfigError(
      'inTransaction',
      route.kind,
      "a unique task (unique or dedupe) is published at once: publish it with inTransaction: 'immediate' or outside the transaction",
    );
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
    const { inTransaction, transaction, ...rest } = options;
    const route = this.route(inTransaction, transaction);
    options = rest;
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
    if (!route) await this.workflow.execute(plan, this.inherited());
    else {
      // record what the plan publishes, then hand it to the transaction
      const rec = { items: [] as PublishItem[], chords: [] as ChordSpec[] };
      const sink = {
        publish: async (items: PublishItem[]) => void rec.items.push(...items),
        chordCreate: async (c: ChordSpec) => void rec.chords.push(c),
      };
      const published: Array<[PublishOp, PublishItem]> = [];
      const recorder = new WorkflowPublisher(sink, (t) => this.registry.get(t), this.options, {
        beforePublish: this.hooks.beforePublish,
        afterPublish: (op, item) => void published.push([op, item]),
      });
      await recorder.execute(plan, this.inherited());
      await this.dispatch(rec.items, rec.chords, route, () => {
        for (const [op, item] of published) this.hooks.afterPublish?.(op, item);
      });
    }
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
    const { inTransaction, transaction, ...rest } = options;
    const route = this.route(inTransaction, transaction);
    const [item, result, op] = this.prepare<R>(name, args, rest);
    if (!route) {
      const holder = (await this.transport.publish([item])).get(item.id);
      // a unique task already there: the caller gets its handle
      if (holder !== undefined)
        return new AsyncResult<R>(holder, item.queue, name, this.transport, this.options.resultExpiresMs);
      this.hooks.afterPublish?.(op, item);
    } else {
      this.refuseDeferredUnique(item, route);
      await this.dispatch([item], [], route, () => this.hooks.afterPublish?.(op, item));
    }
    return result;
  }

  /** Publishes many calls in one round trip. */
  async sendMany<R = unknown>(
    calls: ReadonlyArray<{ name: string; args?: readonly unknown[]; options?: PublishOptions }>,
  ): Promise<AsyncResult<R>[]> {
    // calls going to the same place (broker now, a transaction, an outbox client) are published together
    const groups = new Map<unknown, { route: Route | undefined; items: PublishItem[]; ops: PublishOp[] }>();
    const results = calls.map((c) => {
      const { inTransaction, transaction, ...rest } = c.options ?? {};
      const route = this.route(inTransaction, transaction);
      const [item, result, op] = this.prepare<R>(c.name, c.args ?? [], rest);
      const key = route ? (route.kind === 'outbox' ? route.client : route.scope) : null;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { route, items: [], ops: [] }));
      g.items.push(item);
      g.ops.push(op);
      return result;
    });
    const holders = new Map<string, string>();
    for (const g of groups.values()) {
      if (g.route) g.items.forEach((item) => this.refuseDeferredUnique(item, g.route!));
      const skipped = await this.dispatch(g.items, [], g.route, () => {
        if (this.hooks.afterPublish)
          g.ops.forEach((op, i) => {
            if (!holders.has(g.items[i].id)) this.hooks.afterPublish!(op, g.items[i]);
          });
      });
      for (const [id, holder] of skipped) holders.set(id, holder);
    }
    // unique tasks already there: their callers get the handles of those
    return results.map((r) => {
      const holder = holders.get(r.id);
      return holder === undefined
        ? r
        : new AsyncResult<R>(holder, r.queue, r.taskName, this.transport, this.options.resultExpiresMs);
    });
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
    if (this.tracing.enabled || this.signals.has(TaskSignal.BeforePublish)) {
      op.options = { ...op.options, taskId: op.options.taskId ?? randomUUID() };
      this.hooks.beforePublish?.(op);
    }
    const { item } = buildMessage(op.task, op.args, op.options, this.registry.get(name), this.options);
    return [item, new AsyncResult<R>(item.id, item.queue, name, this.transport, this.options.resultExpiresMs), op];
  }
}
