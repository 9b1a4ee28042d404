import { PERIODIC_METADATA } from '../task-queue.constants.js';
import type { Duration } from '../protocol/duration.js';

/** When a periodic task runs: every fixed interval, or on a crontab in a timezone. @publicApi */
export type PeriodicSchedule =
  | {
      /** Interval: milliseconds, or '15s', '5m', '1h'. Ticks are counted from when the schedule was first stored. */
      every: Duration;
      cron?: never;
      timezone?: never;
    }
  | {
      /** Crontab: 5 fields (minute hour day month weekday) or 6 with seconds first; '@daily' and friends. */
      cron: string;
      /** IANA timezone the crontab is read in, e.g. 'Europe/London'. @default 'UTC' */
      timezone?: string;
      every?: never;
    };

/**
 * What happens to ticks that fell due while no beat ran (more than the beat's
 * `misfireGrace` ago): `'skip'` drops them, `'once'` runs one for all of them.
 * Ticks less late than that are always run, each once.
 * @publicApi
 */
export type CatchUpPolicy = 'skip' | 'once';

/** Options of a periodic schedule, besides its timing. @publicApi */
export interface PeriodicOptions {
  /** Name of the schedule (unique in the application). @default the task name */
  name?: string;
  /** Arguments each run is called with (plain JSON). @default [] */
  args?: unknown[];
  /** Queue the runs are published to. @default the task's queue */
  queue?: string;
  /** 0 (lowest) to 9 (highest). @default the task's priority */
  priority?: number;
  /** A run not started within this long of its tick is dropped (the message's `expires`). @default the task's `expires` */
  expires?: Duration;
  /** @default 'skip' */
  catchUp?: CatchUpPolicy;
}

/** The object @Periodic() stores as metadata (one per decorator; a method may carry several). @publicApi */
export type PeriodicMetadata = PeriodicSchedule & PeriodicOptions;

/**
 * Runs a provider method on a schedule. Any number of beats may run: each tick
 * is published exactly once. The method is a task too (its @Task() options
 * apply; without @Task() it is registered as `ClassName.method`). Discovered at
 * bootstrap, where an invalid interval, crontab or timezone fails naming the method.
 *
 * @example
 * ```ts
 * @Periodic({ cron: '0 2 * * *', timezone: 'Europe/London' })
 * async cleanupExpiredSessions() {}
 *
 * @Periodic({ every: '5m', args: ['eu'], expires: '1m' })
 * async refreshRates(region: string) {}
 * ```
 * @publicApi
 */
export function Periodic(schedule: PeriodicMetadata): MethodDecorator;
export function Periodic(schedule: PeriodicSchedule, options: PeriodicOptions): MethodDecorator;
export function Periodic(schedule: PeriodicMetadata, options?: PeriodicOptions): MethodDecorator {
  const meta = { ...schedule, ...options } as PeriodicMetadata;
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    // Several @Periodic() on one method add up (decorators apply bottom-up; keep source order).
    const existing = (Reflect.getMetadata(PERIODIC_METADATA, method) as PeriodicMetadata[] | undefined) ?? [];
    Reflect.defineMetadata(PERIODIC_METADATA, [meta, ...existing], method);
    return descriptor;
  };
}

/** The metadata key (its value is an array of PeriodicMetadata), for composing decorators of your own. */
Periodic.KEY = PERIODIC_METADATA;
