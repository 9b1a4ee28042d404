import { Cron } from 'croner';
import type { CatchUpPolicy, PeriodicMetadata } from '../decorators/periodic.decorator.js';
import { TaskQueueConfigError } from '../errors/index.js';
import { DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY, assertJsonSafe, assertName, toMs } from '../protocol/index.js';
import type { ScheduleDefinition } from '../transport/beat-store.interface.js';

/**
 * Schedule math: when the ticks of an interval or a crontab fall, and which of
 * them a beat runs now. Pure functions of instants (epoch ms), no I/O, so the
 * cron, DST and catch-up rules are tested with fixed instants.
 */

/** The timing part of a schedule. */
export interface Timing {
  every?: number;
  cron?: string;
  timezone?: string;
}

/** The ticks of one schedule. Every instant is epoch ms. */
export interface Ticks {
  /** The first tick strictly after `t`, or null when there is none. */
  next(t: number): number | null;
  /** The last tick strictly before `t`, or null when there is none. */
  latestBefore(t: number): number | null;
}

const crons = new Map<string, Cron>();

function cronOf(pattern: string, timezone: string | undefined): Cron {
  const key = `${pattern}@${timezone ?? ''}`;
  let c = crons.get(key);
  if (!c) {
    // No function: croner schedules nothing, it only computes.
    c = new Cron(pattern, { timezone: timezone ?? 'UTC' });
    if (crons.size > 1000) crons.clear();
    crons.set(key, c);
  }
  return c;
}

/**
 * Ticks of `timing`. An interval ticks at `since + k·every` (k >= 1), so every
 * beat computes the same instants from the stored `since`. A crontab is read in
 * its timezone (default UTC) by croner, which gives wall-clock times that do not
 * exist (spring forward) the first instant after the gap, and wall-clock times
 * that happen twice (fall back) their first occurrence only.
 */
export function ticksOf(timing: Timing, since: number): Ticks {
  if (timing.every !== undefined) {
    const every = timing.every;
    return {
      next: (t) => (t < since + every ? since + every : since + (Math.floor((t - since) / every) + 1) * every),
      latestBefore: (t) => {
        const k = Math.ceil((t - since) / every) - 1;
        return k >= 1 ? since + k * every : null;
      },
    };
  }
  const cron = cronOf(timing.cron!, timing.timezone);
  return {
    next: (t) => cron.nextRun(new Date(t))?.getTime() ?? null,
    latestBefore: (t) => cron.previousRuns(1, new Date(t))[0]?.getTime() ?? null,
  };
}

/** Which ticks to run now, oldest first, and when to look again. */
export interface TickPlan {
  ticks: number[];
  /** Ticks older than the grace window fell due while no beat ran (dropped, or collapsed into one run). */
  missed: boolean;
  /** The next tick after those planned (may be <= now when more were due than one plan takes), or null. */
  nextAt: number | null;
}

/** Most ticks one plan takes; the rest follow at once in the next plan. */
export const MAX_TICKS_PER_PLAN = 1000;

/**
 * Plans the ticks of a schedule whose last run (or `since`) is `last`:
 * - a tick at most `graceMs` late is run, each one;
 * - ticks later than that fell due while no beat ran: with catchUp 'skip' they
 *   are dropped, with 'once' the latest of them is run (one run for all).
 */
export function planTicks(
  ticks: Ticks,
  last: number,
  now: number,
  graceMs: number,
  catchUp: CatchUpPolicy,
  max = MAX_TICKS_PER_PLAN,
): TickPlan {
  const planned: number[] = [];
  const first = ticks.next(last);
  if (first === null) return { ticks: planned, missed: false, nextAt: null };
  const cutoff = now - graceMs;
  let from = last;
  let missed = false;
  if (first < cutoff) {
    missed = true;
    if (catchUp === 'once') {
      const t = ticks.latestBefore(cutoff);
      if (t !== null && t > last) planned.push(t);
    }
    from = Math.max(last, cutoff - 1);
  }
  let t = ticks.next(from);
  while (t !== null && t <= now && planned.length < max) {
    planned.push(t);
    t = ticks.next(t);
  }
  return { ticks: planned, missed, nextAt: t };
}

/** Where a schedule came from, for error messages: `@Periodic() on Class#method` or `schedule "name"`. */
export type ScheduleSite = string;

/** A schedule as the user writes it (decorator or API), with the task it runs. */
export type ScheduleInput = PeriodicMetadata & { task: string };

/** What a schedule defaults to from its task, when this process knows the task. */
export interface TaskDefaultsForSchedule {
  queue: string;
}

/**
 * Validates a schedule and resolves its defaults. Throws TaskQueueConfigError
 * naming `site` and the offending option and value.
 */
export function resolveSchedule(
  input: ScheduleInput,
  name: string,
  site: ScheduleSite,
  task: TaskDefaultsForSchedule | undefined,
  defaultQueue: string,
  source: ScheduleDefinition['source'],
): ScheduleDefinition {
  const at = (option: string) => `${option} of ${site}`;
  if (typeof input !== 'object' || input === null)
    throw new TaskQueueConfigError(site, input, 'expected { every } or { cron, timezone }');
  assertName(at('name'), name);
  const taskName = assertName(at('task'), input.task);
  const timing = resolveTiming(input, at);
  const args = input.args ?? [];
  if (!Array.isArray(args)) throw new TaskQueueConfigError(at('args'), args, 'expected an array of arguments');
  assertJsonSafe(taskName, args);
  const queue = assertName(at('queue'), input.queue ?? task?.queue ?? defaultQueue);
  const priority = input.priority;
  if (priority !== undefined && (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY)) {
    throw new TaskQueueConfigError(
      at('priority'),
      priority,
      `expected an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (default: the task's, else ${DEFAULT_PRIORITY})`,
    );
  }
  let expiresMs: number | undefined;
  if (input.expires !== undefined) {
    expiresMs = toMs(input.expires, at('expires'));
    if (expiresMs <= 0) throw new TaskQueueConfigError(at('expires'), input.expires, 'must be more than 0');
  }
  const catchUp = input.catchUp ?? 'skip';
  if (catchUp !== 'skip' && catchUp !== 'once')
    throw new TaskQueueConfigError(at('catchUp'), catchUp, "expected 'skip' or 'once'");
  const def: ScheduleDefinition = { name, task: taskName, queue, args: [...args], catchUp, source, ...timing };
  if (priority !== undefined) def.priority = priority;
  if (expiresMs !== undefined) def.expiresMs = expiresMs;
  return def;
}

function resolveTiming(input: PeriodicMetadata, at: (option: string) => string): Timing {
  const { every, cron, timezone } = input as { every?: unknown; cron?: unknown; timezone?: unknown };
  if (every !== undefined && cron !== undefined)
    throw new TaskQueueConfigError(at('every'), every, 'give every or cron, not both');
  if (every !== undefined) {
    if (timezone !== undefined)
      throw new TaskQueueConfigError(at('timezone'), timezone, 'a timezone applies to cron schedules only');
    const ms = toMs(every as number | string, at('every'));
    if (!(ms >= 1)) throw new TaskQueueConfigError(at('every'), every, 'must be at least 1 ms');
    return { every: ms };
  }
  if (cron === undefined)
    throw new TaskQueueConfigError(at('cron'), input, "expected { every: '15s' } or { cron: '0 2 * * *', timezone }");
  if (typeof cron !== 'string' || cron.trim() === '')
    throw new TaskQueueConfigError(at('cron'), cron, "expected a crontab string such as '0 2 * * *'");
  if (timezone !== undefined) {
    if (typeof timezone !== 'string' || !isTimeZone(timezone)) {
      throw new TaskQueueConfigError(
        at('timezone'),
        timezone,
        "expected an IANA timezone such as 'Europe/London' or 'America/New_York'",
      );
    }
  }
  let next: number | null;
  try {
    next = ticksOf({ cron, timezone: timezone as string | undefined }, 0).next(Date.now());
  } catch (err) {
    throw new TaskQueueConfigError(
      at('cron'),
      cron,
      `not a valid crontab: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (next === null) throw new TaskQueueConfigError(at('cron'), cron, 'it never fires (no date matches)');
  const out: Timing = { cron };
  if (timezone !== undefined) out.timezone = timezone as string;
  return out;
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
