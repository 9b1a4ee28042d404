import { buildMessage, type PublishLimits, type TaskDefaults } from '../protocol/message.factory.js';
import type { ChordSpec, PublishItem } from '../transport/transport.interface.js';
import { CHORD_RESULTS_PLACEHOLDER, type Plan, type TaskRef } from './planner.js';

/** What publishing a plan needs of the transport (type-only: canvas stays free of storage code). */
export interface PlanSink {
  publish(items: PublishItem[]): Promise<void>;
  chordCreate(spec: ChordSpec): Promise<void>;
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
  ) {}

  async execute(plan: Plan, now = Date.now()): Promise<TaskRef[]> {
    for (const c of plan.chords) {
      const { item } = buildMessage(c.body.task, c.body.args, c.body.options, this.defaults(c.body.task), this.limits, c.body.workflow, now);
      let bodyHead = item.raw;
      let bodyTail = '';
      if (c.insert) {
        const marker = JSON.stringify(CHORD_RESULTS_PLACEHOLDER);
        const at = item.raw.indexOf(marker);
        bodyHead = item.raw.slice(0, at);
        bodyTail = item.raw.slice(at + marker.length);
      }
      await this.sink.chordCreate({
        queue: c.queue,
        id: c.id,
        size: c.size,
        bodyId: item.id,
        bodyPriority: item.priority,
        insert: c.insert,
        bodyHead,
        bodyTail,
        downstream: JSON.stringify(c.downstream),
        ttlMs: this.limits.resultExpiresMs,
      });
    }
    const items = plan.publishes.map((op) => buildMessage(op.task, op.args, op.options, this.defaults(op.task), this.limits, op.workflow, now).item);
    await this.sink.publish(items);
    return plan.publishes.map((op, i) => ({ id: items[i].id, queue: items[i].queue, task: op.task }));
  }
}
