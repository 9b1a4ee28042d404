import { randomUUID } from 'node:crypto';
import type { ScheduleDefinition } from './beat-store.interface.js';

/** Rules both BeatStore implementations share (so they pass one contract suite). @internal */

/** The timing of a definition; when it changes, the schedule's ticks start afresh (`since` = now). */
export function timingKey(def: Pick<ScheduleDefinition, 'every' | 'cron' | 'timezone'>): string {
  return def.every !== undefined ? `every:${def.every}` : `cron:${def.cron ?? ''}@${def.timezone ?? 'UTC'}`;
}

/** How long a beat's heartbeat outlives its last renewal (several lease periods). */
export function heartbeatTtlMs(leaseMs: number): number {
  return Math.max(3 * leaseMs, 10_000);
}

/** A revision token: random, so a schedule removed and created again never repeats an old one. */
export function newRev(): string {
  return randomUUID().slice(0, 13);
}

/** The definition's own fields in a fixed order, so an unchanged definition encodes to the same JSON. */
export function definitionOf(d: ScheduleDefinition): ScheduleDefinition {
  const out: ScheduleDefinition = {
    name: d.name,
    task: d.task,
    queue: d.queue,
    args: d.args,
    catchUp: d.catchUp,
    source: d.source,
  };
  if (d.every !== undefined) out.every = d.every;
  if (d.cron !== undefined) out.cron = d.cron;
  if (d.timezone !== undefined) out.timezone = d.timezone;
  if (d.priority !== undefined) out.priority = d.priority;
  if (d.expiresMs !== undefined) out.expiresMs = d.expiresMs;
  return out;
}
