import { CELERY_RESULT_PREFIX, KOMBU_SEP, kombuQueueKeys } from '../../../protocol/celery/index.js';
import type { RedisKeys } from '../keys.js';

/**
 * Key names of the Celery protocol mode: kombu's and Celery's own (no prefix,
 * as Python clients and workers expect them) and the few of ours it adds. The
 * suffixes `celery:in` and `celery:inl` are mirrored in celery-scripts.ts.
 */
export class CeleryKeys {
  constructor(readonly ours: RedisKeys) {}

  /** kombu's lists of the queues, band-major (the order a kombu consumer BRPOPs them). */
  kombuLists(queues: string[]): string[] {
    const perQueue = queues.map(kombuQueueKeys);
    return [0, 1, 2, 3].flatMap((band) => perQueue.map((keys) => keys[band]));
  }

  /** kombu's binding table of a queue's exchange (the default exchange is named after the queue). */
  binding(queue: string): string {
    return `_kombu.binding.${queue}`;
  }

  /** The binding entry of a queue on the default exchange: routing key, pattern, queue. */
  bindingMember(queue: string): string {
    return `${queue}${KOMBU_SEP}${KOMBU_SEP}${queue}`;
  }

  /** Celery's result key of a task, which is also the channel its final state is published on. */
  result(id: string): string {
    return `${CELERY_RESULT_PREFIX}${id}`;
  }

  /** Celery's key of a saved group; `.j` (ZSET of joined header results), `.s` (size) and `.t` (extra size) of a chord. */
  taskset(id: string): string {
    return `celery-taskset-meta-${id}`;
  }

  /** The Celery signature of a chord's body, kept for our workers' join (Celery's own carry it in each header message). */
  chordBody(id: string): string {
    return `${this.ours.prefix}:{@celery-chord}:${id}`;
  }

  /** HASH delivery tag → Celery envelope: messages taken from kombu's lists and not yet admitted. */
  inbox(queue: string): string {
    return `${this.ours.base(queue)}celery:in`;
  }

  /** ZSET delivery tag → ms after which another worker may admit the message (its taker died). */
  inboxLeases(queue: string): string {
    return `${this.ours.base(queue)}celery:inl`;
  }

  /** A list only this process's blocking wait reads: a push to it ends the wait. */
  privateWake(id: string): string {
    return `${this.ours.prefix}:{@celery-wake}:${id}`;
  }
}
