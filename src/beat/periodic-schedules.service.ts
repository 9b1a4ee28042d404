import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { PeriodicRegistry } from '../discovery/periodic.registry.js';
import { TaskRegistry } from '../discovery/task.registry.js';
import { TaskQueueConfigError } from '../errors/index.js';
import type { ResolvedTaskQueueOptions } from '../interfaces/index.js';
import { assertName, buildMessage, toMs } from '../protocol/index.js';
import { TASK_QUEUE_BEAT_STORE, TASK_QUEUE_OPTIONS } from '../task-queue.constants.js';
import type { BeatStore, ScheduleDefinition, StoredSchedule } from '../transport/beat-store.interface.js';
import type { ScheduleInfo, ScheduleOptions } from './beat-options.interface.js';
import { BEAT_MESSAGES } from './beat.messages.js';
import { systemClock, type BeatClock } from './clock.js';
import { planTicks, resolveSchedule, ticksOf } from './schedule.js';

/** Default of BeatOptions.misfireGrace. */
export const DEFAULT_MISFIRE_GRACE = '1m';

/**
 * The schedules every beat runs: those declared with @Periodic() (upserted by
 * each beat when it starts) and those added at run time, all kept in the
 * broker so every beat and every process sees the same ones.
 *
 * @example
 * ```ts
 * constructor(private readonly schedules: PeriodicSchedules) {}
 *
 * await this.schedules.add('report.eu', { task: 'reports.build', cron: '0 6 * * 1', timezone: 'Europe/Berlin', args: ['eu'] });
 * await this.schedules.pause('report.eu');
 * (await this.schedules.list()).map((s) => [s.name, s.nextRunAt]);
 * ```
 * @publicApi
 */
@Injectable()
export class PeriodicSchedules implements OnApplicationBootstrap {
  private clock: BeatClock = systemClock;
  private graceMs = toMs(DEFAULT_MISFIRE_GRACE, 'misfireGrace');
  private declared?: Array<ScheduleDefinition & { site: string }>;

  constructor(
    @Inject(TASK_QUEUE_BEAT_STORE) private readonly store: BeatStore,
    private readonly tasks: TaskRegistry,
    private readonly periodic: PeriodicRegistry,
    @Inject(TASK_QUEUE_OPTIONS) private readonly options: ResolvedTaskQueueOptions,
  ) {}

  /** Validates the @Periodic() declarations, so a bad one fails the application's bootstrap. */
  onApplicationBootstrap(): void {
    this.decorated();
  }

  /**
   * The schedules declared with @Periodic() in this application, validated.
   * @internal
   */
  decorated(): Array<ScheduleDefinition & { site: string }> {
    if (this.declared) return this.declared;
    const out: Array<ScheduleDefinition & { site: string }> = [];
    const sites = new Map<string, string>();
    for (const { site, task, meta } of this.periodic.all()) {
      const where = `@Periodic() on ${site}`;
      const name = meta?.name ?? task.name;
      const def = resolveSchedule(
        { ...meta, task: task.name },
        name,
        where,
        task,
        this.options.defaultQueue,
        'decorator',
      );
      const other = sites.get(def.name);
      if (other)
        throw new TaskQueueConfigError(
          `name of ${where}`,
          def.name,
          BEAT_MESSAGES.duplicateName(def.name, other, site),
        );
      sites.set(def.name, site);
      this.checkMessage(def, where);
      out.push({ ...def, site });
    }
    this.declared = out;
    return out;
  }

  /**
   * Adds a schedule, or updates the one of that name. An update keeps its last
   * run and its paused state; a change of timing restarts its ticks from now.
   */
  async add(name: string, options: ScheduleOptions): Promise<ScheduleInfo> {
    const where = `schedule "${String(name)}"`;
    if (typeof options !== 'object' || options === null)
      throw new TaskQueueConfigError(where, options, 'expected { task, every } or { task, cron, timezone }');
    const site = this.decorated().find((d) => d.name === name)?.site;
    if (site) throw new TaskQueueConfigError('name', name, BEAT_MESSAGES.declared(name, site));
    const { paused, ...input } = options;
    const def = resolveSchedule(input, name, where, this.tasks.get(options.task), this.options.defaultQueue, 'api');
    this.checkMessage(def, where);
    return this.toInfo(await this.store.upsert(def, this.clock.now(), { paused: paused === true }));
  }

  /** Every schedule, sorted by name, with its last and next run. */
  async list(): Promise<ScheduleInfo[]> {
    const now = this.clock.now();
    return (await this.store.list()).map((s) => this.toInfo(s, now));
  }

  async get(name: string): Promise<ScheduleInfo | null> {
    const s = await this.store.get(assertName('name', name));
    return s ? this.toInfo(s) : null;
  }

  /** When the schedule next runs (in the past: due now); null when paused, unknown, or never again. */
  async nextRun(name: string): Promise<Date | null> {
    return (await this.get(name))?.nextRunAt ?? null;
  }

  /** Stops running the schedule until resumed. False when there is no such schedule. */
  async pause(name: string): Promise<boolean> {
    return (await this.store.setPaused(assertName('name', name), true, this.clock.now())) !== null;
  }

  /** Runs the schedule again, from now on: ticks that fell due while it was paused are not run. */
  async resume(name: string): Promise<boolean> {
    return (await this.store.setPaused(assertName('name', name), false, this.clock.now())) !== null;
  }

  /**
   * Removes the schedule. One declared with @Periodic() comes back when a beat
   * starts; pause it to stop it for good.
   */
  async remove(name: string): Promise<boolean> {
    return this.store.remove(assertName('name', name));
  }

  /** The clock and grace used for next-run times (the beat's, once one runs in this process). @internal */
  configure(clock: BeatClock, graceMs: number): void {
    this.clock = clock;
    this.graceMs = graceMs;
  }

  /** When the next run of `s` is due, epoch ms, or null. @internal */
  nextRunOf(s: StoredSchedule, now = this.clock.now()): number | null {
    if (s.paused) return null;
    const plan = planTicks(
      ticksOf(s, s.since),
      Math.max(s.lastRun ?? -Infinity, s.since),
      now,
      this.graceMs,
      s.catchUp,
      1,
    );
    return plan.ticks[0] ?? plan.nextAt;
  }

  private toInfo(s: StoredSchedule, now = this.clock.now()): ScheduleInfo {
    const next = this.nextRunOf(s, now);
    const info: ScheduleInfo = {
      name: s.name,
      task: s.task,
      queue: s.queue,
      args: s.args,
      catchUp: s.catchUp,
      source: s.source,
      paused: s.paused,
      lastRunAt: s.lastRun === null ? null : new Date(s.lastRun),
      lastTaskId: s.lastTaskId,
      nextRunAt: next === null ? null : new Date(next),
    };
    if (s.every !== undefined) info.every = s.every;
    if (s.cron !== undefined) info.cron = s.cron;
    if (s.timezone !== undefined) info.timezone = s.timezone;
    if (s.priority !== undefined) info.priority = s.priority;
    if (s.expiresMs !== undefined) info.expiresMs = s.expiresMs;
    return info;
  }

  /** Builds a message as the beat will, so a schedule whose runs could not be published fails now. */
  private checkMessage(def: ScheduleDefinition, where: string): void {
    try {
      buildMessage(
        def.task,
        def.args,
        { queue: def.queue, priority: def.priority },
        this.tasks.get(def.task),
        this.options,
      );
    } catch (err) {
      if (err instanceof TaskQueueConfigError)
        throw new TaskQueueConfigError(`${err.option} of ${where}`, err.value, err.reason);
      throw err;
    }
  }
}
