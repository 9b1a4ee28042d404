import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { PublishHooks } from '../canvas/workflow.publisher.js';
import type { TaskHeaders, TaskMessage } from '../protocol/envelope.js';
import type { StoredError } from '../protocol/result.js';

/** The parts of @opentelemetry/api this library uses (an optional peer, loaded when installed). */
interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    getTracerProvider(): { getDelegate?(): object };
    setSpan(ctx: unknown, span: OtelSpan): unknown;
  };
  context: { active(): unknown; with<T>(ctx: unknown, fn: () => T): T };
  propagation: {
    inject(ctx: unknown, carrier: Record<string, unknown>): void;
    extract(ctx: unknown, carrier: Record<string, unknown>): unknown;
  };
  SpanKind: { PRODUCER: number; CONSUMER: number };
  SpanStatusCode: { ERROR: number };
}
interface OtelTracer {
  startSpan(
    name: string,
    options: { kind: number; attributes: Record<string, string | number> },
    ctx?: unknown,
  ): OtelSpan;
}
interface OtelSpan {
  setAttribute(key: string, value: string | number | boolean): void;
  setStatus(status: { code: number; message?: string }): void;
  addEvent(name: string, attributes?: Record<string, string | number>): void;
  recordException(exception: { name: string; message: string; stack?: string }): void;
  end(): void;
}

/** What a task's run reports to its span. @internal */
export interface TaskOutcome {
  state: string;
  error?: StoredError;
  retries?: number;
}

const SYSTEM = 'nestjs-taskqueue';

/**
 * OpenTelemetry tracing of tasks, through @opentelemetry/api when it is
 * installed (an optional peer; without it nothing is loaded or done). A
 * PRODUCER span `send <queue>` for each message published, whose context goes
 * in the message's headers (W3C `traceparent`), and a CONSUMER span
 * `process <queue>` around each run, child of the producer's, in whose context
 * the task runs and publishes what follows it: a chain, a group or a chord
 * (and a retry) stays in the caller's trace. Attributes follow the messaging
 * semantic conventions.
 * @internal
 */
@Injectable()
export class TaskTracing implements OnModuleInit {
  private readonly logger = new Logger(TaskTracing.name);
  private api?: OtelApi;
  private tracer?: OtelTracer;

  async onModuleInit(): Promise<void> {
    try {
      this.api = (await import('@opentelemetry/api')) as unknown as OtelApi;
      this.tracer = this.api.trace.getTracer(SYSTEM);
    } catch {
      // @opentelemetry/api is not installed: no tracing, no cost
      this.api = undefined;
    }
  }

  private active = false;
  private checkedAt = 0;

  /**
   * True when @opentelemetry/api is there and a tracer provider is registered
   * (looked at again each second, so one registered later is picked up):
   * without one, tasks do not even go through the no-op API.
   */
  get enabled(): boolean {
    if (!this.api) return false;
    const now = Date.now();
    if (now - this.checkedAt < 1000) return this.active;
    this.checkedAt = now;
    const global = this.api.trace.getTracerProvider();
    // the global provider is a proxy; until one is registered it delegates to the API's no-op provider
    const delegate = global.getDelegate?.() ?? global;
    this.active = delegate.constructor?.name !== 'NoopTracerProvider';
    return this.active;
  }

  /** Records the PRODUCER span of a message being created and writes its context into `headers`. */
  send(id: string, task: string, queue: string, headers: TaskHeaders): void {
    const api = this.api!;
    const span = this.tracer!.startSpan(`send ${queue}`, {
      kind: api.SpanKind.PRODUCER,
      attributes: attributes('send', id, task, queue),
    });
    const carrier: Record<string, unknown> = {};
    api.propagation.inject(api.trace.setSpan(api.context.active(), span), carrier);
    for (const [k, v] of Object.entries(carrier)) if (typeof v === 'string') headers[k] = v;
    span.end();
  }

  /** Runs `fn` inside the CONSUMER span of `msg` (child of its producer's), and ends the span with the outcome. */
  async process(msg: TaskMessage, queue: string, worker: string, fn: () => Promise<TaskOutcome | void>): Promise<void> {
    const api = this.api!;
    const parent = api.propagation.extract(api.context.active(), { ...msg.headers });
    const span = this.tracer!.startSpan(
      `process ${queue}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          ...attributes('process', msg.id, msg.task, queue),
          'taskqueue.retries': msg.retries,
          'taskqueue.worker': worker,
        },
      },
      parent,
    );
    try {
      const outcome = await api.context.with(api.trace.setSpan(parent, span), fn);
      if (outcome) {
        span.setAttribute('taskqueue.state', outcome.state);
        if (outcome.state === 'RETRY')
          span.addEvent('retry', { 'taskqueue.retries': outcome.retries ?? msg.retries + 1 });
        if (outcome.error && outcome.state !== 'RETRY') this.fail(span, { name: outcome.error.type, ...outcome.error });
      }
    } catch (err) {
      this.fail(span, err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      span.end();
    }
  }

  private fail(span: OtelSpan, error: { name: string; message: string; stack?: string }): void {
    span.recordException(error);
    span.setStatus({ code: this.api!.SpanStatusCode.ERROR, message: `${error.name}: ${error.message}` });
  }
}

function attributes(operation: 'send' | 'process', id: string, task: string, queue: string): Record<string, string> {
  return {
    'messaging.system': SYSTEM,
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    'messaging.destination.name': queue,
    'messaging.message.id': id,
    'taskqueue.task': task,
  };
}

/**
 * Publish hooks that add a PRODUCER span to each message (around `inner`, the
 * signal hooks), as the message is created: its context rides in the headers.
 * The span ends at once, so a message that never reaches the broker leaves
 * nothing open; a failed publish is reported by the publish call itself.
 * @internal
 */
export function tracingPublishHooks(tracing: TaskTracing, inner: PublishHooks, defaultQueue: string): PublishHooks {
  return {
    beforePublish(op) {
      inner.beforePublish?.(op);
      if (!tracing.enabled || !op.options.taskId) return;
      const headers = { ...op.options.headers };
      tracing.send(op.options.taskId, op.task, op.options.queue ?? defaultQueue, headers);
      op.options = { ...op.options, headers };
    },
    afterPublish: inner.afterPublish,
  };
}
