import type { ScheduleDefinition } from '../transport/beat-store.interface.js';
import type { PeriodicOptions, PeriodicSchedule } from '../decorators/periodic.decorator.js';
import type { Duration } from '../protocol/duration.js';
import type { BeatClock } from './clock.js';

/** Options of a beat (BeatScheduler.start, bootstrapBeat, or a worker's `beat`). @publicApi */
export interface BeatOptions {
  /**
   * Leader lease. One beat of all that run holds it and fires the ticks; when
   * it dies, another takes over within about one lease. @default '5s'
   */
  lease?: Duration;
  /**
   * A tick found at most this late is run; ticks later than that fell due
   * while no beat ran and follow their schedule's `catchUp`. @default '1m'
   */
  misfireGrace?: Duration;
  /**
   * Elect a leader (the default). Without election every beat fires the ticks
   * and the per-tick claim alone keeps each tick to one run: more Redis calls,
   * no takeover delay. @default true
   */
  leaderElection?: boolean;
  /** Time source; tests pass a ManualClock. @default the system clock */
  clock?: BeatClock;
  /** Id of this beat in heartbeats and logs. @default '<hostname>:<pid>:<random>' */
  id?: string;
  /** Called once the beat has started (the `beat.init` signal). */
  onInit?: (info: BeatInitInfo) => void;
}

/** @internal */
export interface ResolvedBeatOptions {
  leaseMs: number;
  graceMs: number;
  leaderElection: boolean;
  clock: BeatClock;
  id: string;
  onInit?: (info: BeatInitInfo) => void;
}

/** What a beat says when it starts. @publicApi */
export interface BeatInitInfo {
  id: string;
  /** Names of the schedules declared with @Periodic() in this application. */
  schedules: string[];
  leaderElection: boolean;
}

/** A schedule added at run time through PeriodicSchedules.add(). @publicApi */
export type ScheduleOptions = PeriodicSchedule &
  Omit<PeriodicOptions, 'name'> & {
    /** Name of the task to run (it may live in another process). */
    task: string;
    /** Create it paused. @default false */
    paused?: boolean;
  };

/** A schedule as PeriodicSchedules reports it: its definition and its run-time state. @publicApi */
export interface ScheduleInfo extends ScheduleDefinition {
  paused: boolean;
  /** The tick last published (its scheduled time), or null. */
  lastRunAt: Date | null;
  /** Id of the message published for the last run (for TaskClient.result()). */
  lastTaskId: string | null;
  /** When the next run is due (in the past: due now), or null when paused or never again. */
  nextRunAt: Date | null;
}
