import type { PublishItem } from './transport.interface.js';

/**
 * Storage of periodic schedules and of the beats that run them. Like
 * `Transport`, it is the only way the beat layer reaches storage; the Redis and
 * memory implementations pass one contract suite (test/integration/beat-store.contract.ts).
 *
 * Exactly-once rests on `claim`: recording that a schedule's tick ran and
 * publishing its message are one atomic step, and a tick at or before the
 * recorded last run is never published again, whichever beat asks.
 */

/** What a schedule is: set by `upsert`. Times are epoch milliseconds. */
export interface ScheduleDefinition {
  /** Unique name of the schedule ([A-Za-z0-9._:-], at most 200 characters). */
  name: string;
  /** Task name of the runs. */
  task: string;
  /** Queue the runs are published to; the schedule's state lives with that queue. */
  queue: string;
  /** Interval in ms (ticks at since + k·every), or ... */
  every?: number;
  /** ... a crontab, read in `timezone` (IANA, default UTC). */
  cron?: string;
  timezone?: string;
  args: unknown[];
  /** When absent, the task's own priority. */
  priority?: number;
  /** A run not started within this long of its tick is dropped. */
  expiresMs?: number;
  catchUp: 'skip' | 'once';
  /** Where it came from: a @Periodic() decorator (upserted by every beat at start) or the API. */
  source: 'decorator' | 'api';
}

/** A schedule as stored, with its run-time state. */
export interface StoredSchedule extends ScheduleDefinition {
  /**
   * Ticks at or before this instant are not run. Set when the schedule is
   * created, when its timing (every / cron / timezone) changes, and on resume.
   */
  since: number;
  paused: boolean;
  /** Revision token, new at every change of the definition or of `paused`; `claim` refuses a stale one. */
  rev: string;
  /** The tick last published, or null. */
  lastRun: number | null;
  /** Id of the message published for `lastRun`. */
  lastTaskId: string | null;
}

/**
 * Result of a claim:
 * - `published`: this call recorded the tick and published the message;
 * - `duplicate`: the tick (or a later one) was recorded already, nothing published;
 * - `stale`: the schedule changed since `rev` (reload it), nothing published;
 * - `paused`, `gone`: the schedule is paused or was removed, nothing published.
 */
export type ClaimOutcome = 'published' | 'duplicate' | 'stale' | 'paused' | 'gone';

/** What a beat says of itself, at each lease renewal. */
export interface BeatHeartbeat {
  id: string;
  /** Epoch ms of this heartbeat. */
  at: number;
  startedAt: number;
  pid: number;
  hostname: string;
}

export interface LeaseResult {
  /** This beat holds the lease (always false when it did not campaign). */
  leader: boolean;
  /** Who holds the lease now, or null. */
  leaderId: string | null;
  /** The schedules' change counter, to notice changes made elsewhere. */
  version: number;
}

export interface BeatStore {
  /**
   * Creates or updates a schedule. An update keeps `since`, `paused` and the
   * last run, except that a change of timing sets `since` to `now` (no tick of
   * the old timing is run late, none of the new one early). Unchanged
   * definitions are left alone (no new revision). A change of queue moves the
   * schedule (and starts it afresh at `now`).
   */
  upsert(def: ScheduleDefinition, now: number, options?: { paused?: boolean }): Promise<StoredSchedule>;

  get(name: string): Promise<StoredSchedule | null>;

  /** Every schedule, sorted by name. */
  list(): Promise<StoredSchedule[]>;

  /** Pauses or resumes; resuming sets `since` to `now` (ticks while paused are not run). Null when unknown. */
  setPaused(name: string, paused: boolean, now: number): Promise<StoredSchedule | null>;

  /** Removes a schedule; false when it did not exist. */
  remove(name: string): Promise<boolean>;

  /**
   * Atomically: when `schedule` still has revision `rev`, is not paused, and
   * `tick` is after both its `since` and its last run, records `tick` as the
   * last run and publishes `item` (which must go to the schedule's queue).
   */
  claim(
    schedule: Pick<StoredSchedule, 'name' | 'queue' | 'rev'>,
    tick: number,
    item: PublishItem,
  ): Promise<ClaimOutcome>;

  /**
   * Records the heartbeat of beat `heartbeat.id` and, when `campaign`, takes or
   * renews the leader lease for `leaseMs` (only one beat holds it at a time).
   * The leader's heartbeat is also kept where `leaderHeartbeat()` reads it.
   */
  lease(heartbeat: BeatHeartbeat, leaseMs: number, campaign: boolean): Promise<LeaseResult>;

  /** Gives up the lease (when held) and forgets the beat's heartbeat. */
  release(id: string): Promise<void>;

  /** The heartbeat of the current leader (or, without leader election, of the beat heard from last); null when none is alive. */
  leaderHeartbeat(): Promise<BeatHeartbeat | null>;

  /** Heartbeats of every beat heard from recently, newest first. */
  beats(): Promise<BeatHeartbeat[]>;
}
