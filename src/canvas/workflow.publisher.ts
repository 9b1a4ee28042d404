import { DEFAULT_PRIORITY } from '../protocol/envelope.js';
import {
  buildMessage,
  type EncodedMessage,
  type PublishLimits,
  type TaskDefaults,
} from '../protocol/message.factory.js';
import type { SignalEmitter } from '../signals/signal.emitter.js';
import { TaskSignal } from '../signals/task-signal.constants.js';
import { AfterPublishSignal, BeforePublishSignal, payload } from '../signals/task-signal.payloads.js';
import type { ChordSpec, PublishItem } from '../transport/transport.interface.js';
import { CHORD_RESULTS_PLACEHOLDER, type Plan, type PublishOp, type TaskRef } from './planner.js';

/** What publishing a plan needs of the transport (type-only: canvas stays free of storage code). */
export interface PlanSink {
  publish(items: PublishItem[]): Promise<unknown>;
  chordCreate(spec: ChordSpec): Promise<void>;
}

/** Called around each message a plan publishes (the publish signals). */
export interface PublishHooks {
  /** May change `op.options.headers`. */
  beforePublish?(op: PublishOp): void;
  afterPublish?(op: PublishOp, item: PublishItem): void;
}

/**
 * Publishes a plan: chord states first (so no header result can arrive before
 * its chord exists), then every message in one round trip.
 * Shared by TaskClient (new workflows) and TaskWorker (next steps).
 */
export class WorkflowPublisher {
  constructor(
    private readonly sink: PlanSink,
    private readonly defaults: (task: string) => TaskDefaults | undefined,
    private readonly limits: PublishLimits & { resultExpiresMs: number },
    private readonly hooks: PublishHooks = {},
  ) {}

  /**
   * Publishes `plan`. `inherit` headers are added to every message that does
   * not set them itself (the correlation id of the task or request behind it).
   * `beforePublish` may change each message's headers before it is encoded.
   */
  async execute(plan: Plan, inherit?: Record<string, string>, now = Date.now()): Promise<TaskRef[]> {
    if (inherit || this.hooks.beforePublish) {
      // every op has its id by now (frozen), so handlers see the final id
      for (const op of [...plan.publishes, ...plan.chords.map((c) => c.body)]) {
        if (inherit) op.options = { ...op.options, headers: { ...inherit, ...op.options.headers } };
        this.hooks.beforePublish?.(op);
      }
    }
    // Every message is built before anything is written: a bad one (options,
    // size) throws here and leaves the broker as it was.
    const chords: ChordSpec[] = plan.chords.map((c) => {
      const item = this.build(c.body, now);
      let bodyHead = item.raw;
      let bodyTail = '';
      if (c.insert) {
        const marker = JSON.stringify(CHORD_RESULTS_PLACEHOLDER);
        const at = item.raw.indexOf(marker);
        bodyHead = item.raw.slice(0, at);
        bodyTail = item.raw.slice(at + marker.length);
      }
      return {
        queue: c.queue,
        id: c.id,
        size: c.size,
        bodyId: item.id,
        bodyPriority: item.priority,
        insert: c.insert,
        bodyHead,
        bodyTail,
        ttlMs: this.limits.resultExpiresMs,
      };
    });
    const items = plan.publishes.map((op) => this.build(op, now));
    // chord states first, so no header result can arrive before its chord exists
    await Promise.all(chords.map((c) => this.sink.chordCreate(c)));
    await this.sink.publish(items);
    if (this.hooks.afterPublish) plan.publishes.forEach((op, i) => this.hooks.afterPublish!(op, items[i]));
    return plan.publishes.map((op, i) => ({ id: items[i].id, queue: items[i].queue, task: op.task }));
  }

  /** Builds (and so validates) the message of one op; throws what publishing it would. */
  build(op: PublishOp, now = Date.now()): EncodedMessage {
    return buildMessage(op.task, op.args, op.options, this.defaults(op.task), this.limits, op.workflow, now).item;
  }
}

/** Publish hooks that emit the BeforePublish / AfterPublish signals. */
export function signalPublishHooks(signals: SignalEmitter, defaultQueue: string): PublishHooks {
  return {
    beforePublish(op) {
      if (!signals.has(TaskSignal.BeforePublish)) return;
      const headers = { ...op.options.headers };
      signals.emit(TaskSignal.BeforePublish, () =>
        payload(BeforePublishSignal, {
          id: op.options.taskId!,
          task: op.task,
          queue: op.options.queue ?? defaultQueue,
          args: op.args,
          priority: op.options.priority ?? DEFAULT_PRIORITY,
          eta: typeof op.options.eta === 'number' ? op.options.eta : op.options.eta?.getTime(),
          headers,
        }),
      );
      op.options = { ...op.options, headers };
    },
    afterPublish(op, item) {
      signals.emit(TaskSignal.AfterPublish, () =>
        payload(AfterPublishSignal, {
          id: item.id,
          task: op.task,
          queue: item.queue,
          args: op.args,
          headers: { ...op.options.headers },
        }),
      );
    },
  };
}
