import { jest } from '@jest/globals';
import { Injectable, type Provider, type Type } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import {
  BEAT_HEADERS,
  BeatScheduler,
  ManualClock,
  Periodic,
  PeriodicSchedules,
  Task,
  TaskQueueConfigError,
  TaskRegistry,
  TaskWorker,
  type BeatOptions,
  type TaskMessage,
} from '../../src/index.js';
import { decodeMessage } from '../../src/protocol/index.js';
import { TASK_QUEUE_BEAT_STORE, TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import type { BeatStore } from '../../src/transport/beat-store.interface.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import type { Transport } from '../../src/transport/transport.interface.js';
import { createTaskApp } from '../utils/app.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const T0 = Date.parse('2026-05-04T12:00:00.000Z');
const MIN = 60_000;

@Injectable()
class Ticker {
  readonly runs: unknown[][] = [];

  @Periodic({ every: '1m', queue: 'beat', name: 'ticker.minute' })
  minute(): void {}

  @Task({ name: 'ticker.report', queue: 'reports', priority: 8 })
  @Periodic({ cron: '0 2 * * *', timezone: 'Europe/London', args: ['daily'], expires: '5m', queue: 'beat' })
  report(kind: string): string {
    return kind;
  }

  @Periodic({ every: '10s', args: [1, 'x'] })
  record(...args: unknown[]): number {
    this.runs.push(args);
    return args.length;
  }
}

@Injectable()
class Stacked {
  @Periodic({ every: '1h', name: 'stacked.hourly', queue: 'beat' })
  @Periodic({ cron: '*/15 * * * *', name: 'stacked.quarter', queue: 'beat' })
  run(): void {}
}

const brokers = [
  ['redis', () => REDIS_URL],
  ['memory', () => `memory://beat-${Math.random().toString(36).slice(2)}`],
] as const;

describe.each(brokers)('beat on %s', (kind, brokerUrlOf) => {
  let prefix: string;
  let brokerUrl: string;
  const apps: TestingModule[] = [];

  const app = async (providers: Array<Provider | Type> = []) => {
    const a = await createTaskApp({ brokerUrl, prefix }, providers);
    apps.push(a);
    return a;
  };
  const beatOf = (a: TestingModule) => a.get(BeatScheduler);
  const storeOf = (a: TestingModule) => a.get<BeatStore>(TASK_QUEUE_BEAT_STORE);
  const transportOf = (a: TestingModule) => a.get<Transport>(TASK_QUEUE_TRANSPORT);

  /** Messages published to `queue`, taken from it (reserved) and decoded; accumulates across calls. */
  const taken = new Map<string, TaskMessage[]>();
  const take = async (t: Transport, queue: string) => {
    const list = taken.get(queue) ?? [];
    taken.set(queue, list);
    for (;;) {
      const r = await t.reserve({
        queue,
        max: 500,
        startCount: 500,
        leaseMs: 3_600_000,
        workerId: 'test',
        maxRedeliveries: 5,
        resultTtlMs: 60_000,
      });
      for (const it of r.items) list.push(decodeMessage(it.raw));
      if (r.items.length < 500) return list;
    }
  };
  const ticksOf = (msgs: TaskMessage[], schedule: string) =>
    msgs
      .filter((m) => m.headers?.[BEAT_HEADERS.schedule] === schedule)
      .map((m) => Number(m.headers![BEAT_HEADERS.tick]));
  const lastRun = async (a: TestingModule, name: string) => (await storeOf(a).get(name))?.lastRun ?? null;

  /** Moves the clock and waits until `sleepers` beat loops are at rest again (each woken one has done its work). */
  const moveTo = async (clock: ManualClock, t: number, sleepers = 1) => {
    clock.set(t);
    await until(
      () => clock.waiting >= sleepers,
      10_000,
      `${sleepers} beat(s) at rest at ${new Date(t).toISOString()}`,
      5,
    );
  };
  const startBeat = async (a: TestingModule, opts: BeatOptions) => {
    await beatOf(a).start(opts);
    if (opts.leaderElection !== false) await until(() => beatOf(a).isLeader, 10_000, 'leadership', 5);
  };

  beforeEach(() => {
    prefix = testPrefix(`beat-${kind}`);
    brokerUrl = brokerUrlOf();
    taken.clear();
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    if (kind === 'redis') await cleanupPrefix(prefix);
    await MemoryTransport.resetShared();
  });

  it('discovers @Periodic methods, registering plain ones as tasks', async () => {
    const a = await app([Ticker, Stacked]);
    const registry = a.get(TaskRegistry);
    expect(registry.get('Ticker.minute')).toMatchObject({ queue: 'default', methodName: 'minute' });
    expect(registry.get('ticker.report')).toMatchObject({ queue: 'reports', priority: 8 });
    expect(registry.get('Stacked.run')).toBeDefined();
    const declared = a.get(PeriodicSchedules).decorated();
    expect(declared.map((d) => d.name).sort()).toEqual([
      'Ticker.record',
      'stacked.hourly',
      'stacked.quarter',
      'ticker.minute',
      'ticker.report',
    ]);
    expect(declared.find((d) => d.name === 'ticker.report')).toMatchObject({
      task: 'ticker.report',
      queue: 'beat',
      cron: '0 2 * * *',
      timezone: 'Europe/London',
      args: ['daily'],
      expiresMs: 300_000,
      catchUp: 'skip',
      source: 'decorator',
      site: 'Ticker#report',
    });
    expect(declared.find((d) => d.name === 'Ticker.record')).toMatchObject({
      task: 'Ticker.record',
      queue: 'default',
      every: 10_000,
      args: [1, 'x'],
    });
  });

  it('publishes an interval tick on time, and a worker runs it with its args', async () => {
    const a = await app([Ticker]);
    const clock = new ManualClock(Date.now());
    const since = clock.now();
    await startBeat(a, { clock });
    await a.get(TaskWorker).start({ queues: ['default'], concurrency: 2 });
    await moveTo(clock, since + 9_999);
    expect(await lastRun(a, 'Ticker.record')).toBeNull();
    await moveTo(clock, since + 10_000);
    expect(await lastRun(a, 'Ticker.record')).toBe(since + 10_000);
    const ticker = a.get(Ticker);
    await until(() => ticker.runs.length === 1, 10_000, 'the worker to run the tick');
    expect(ticker.runs).toEqual([[1, 'x']]);
    await moveTo(clock, since + 20_000);
    await until(() => ticker.runs.length === 2, 10_000, 'the second tick to run');
  });

  it('publishes a crontab tick at its time in its timezone, with expires counted from the tick', async () => {
    // A date in the future, so the worker-side expiry check (real time) keeps the message: 30 Mar 2036 is spring-forward day in London.
    const a = await app([Ticker]);
    const clock = new ManualClock(Date.parse('2036-03-29T23:00:00Z'));
    await startBeat(a, { clock });
    expect(await a.get(PeriodicSchedules).nextRun('ticker.report')).toEqual(new Date('2036-03-30T01:00:00Z')); // 02:00 BST
    await moveTo(clock, Date.parse('2036-03-30T00:59:59Z'));
    expect(ticksOf(await take(transportOf(a), 'beat'), 'ticker.report')).toEqual([]);
    await moveTo(clock, Date.parse('2036-03-30T01:00:00Z'));
    const msgs = (await take(transportOf(a), 'beat')).filter((m) => m.task === 'ticker.report');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({
      task: 'ticker.report',
      queue: 'beat',
      priority: 8,
      args: ['daily'],
      expires: Date.parse('2036-03-30T01:05:00Z'),
    });
    expect(await a.get(PeriodicSchedules).nextRun('ticker.report')).toEqual(new Date('2036-03-31T01:00:00Z'));
  });

  it('three beats at once publish each of 60 ticks exactly once (leader election)', async () => {
    const clock = new ManualClock(T0);
    const beats = [await app([Ticker]), await app([Ticker]), await app([Ticker])];
    for (const b of beats) await beatOf(b).start({ clock });
    await until(() => beats.filter((b) => beatOf(b).isLeader).length === 1, 10_000, 'one leader');
    for (let i = 1; i <= 60; i++) await moveTo(clock, T0 + i * MIN);
    await until(async () => (await lastRun(beats[0], 'ticker.minute')) === T0 + 60 * MIN, 10_000, 'the 60th tick');
    const ticks = ticksOf(await take(transportOf(beats[0]), 'beat'), 'ticker.minute');
    expect(ticks).toEqual(Array.from({ length: 60 }, (_, i) => T0 + (i + 1) * MIN));
  });

  it('three beats without leader election, all firing, still publish each of 60 ticks exactly once', async () => {
    const clock = new ManualClock(T0);
    const beats = [await app([Ticker]), await app([Ticker]), await app([Ticker])];
    for (const b of beats) await beatOf(b).start({ clock, leaderElection: false });
    for (let i = 1; i <= 60; i++) await moveTo(clock, T0 + i * MIN, 3);
    const ticks = ticksOf(await take(transportOf(beats[0]), 'beat'), 'ticker.minute');
    expect(ticks).toEqual(Array.from({ length: 60 }, (_, i) => T0 + (i + 1) * MIN));
    // Ticker.record (every 10 s) raced the same way: 360 ticks, each once
    const records = ticksOf(await take(transportOf(beats[0]), 'default'), 'Ticker.record');
    expect(records).toEqual(Array.from({ length: 360 }, (_, i) => T0 + (i + 1) * 10_000));
    expect(beats.reduce((n, b) => n + beatOf(b).publishedCount, 0)).toBe(60 + 360);
  });

  it('three beats on the real clock (50 ms interval, no election) publish every tick once, in order', async () => {
    const beats = [await app([]), await app([]), await app([])];
    const schedules = beats[0].get(PeriodicSchedules);
    const created = await schedules.add('fast', { task: 'fast.job', every: 50, queue: 'fast' });
    const since = (await storeOf(beats[0]).get('fast'))!.since;
    for (const b of beats) await beatOf(b).start({ leaderElection: false, lease: 300 });
    await until(async () => ((await lastRun(beats[0], 'fast')) ?? 0) >= since + 60 * 50, 30_000, '60 ticks');
    await Promise.all(beats.map((b) => beatOf(b).stop()));
    const last = (await lastRun(beats[0], 'fast'))!;
    const ticks = ticksOf(await take(transportOf(beats[0]), 'fast'), 'fast');
    expect(created.every).toBe(50);
    expect(ticks).toEqual(Array.from({ length: (last - since) / 50 }, (_, i) => since + (i + 1) * 50));
  });

  it('restarted within the grace window: the tick that fell due meanwhile runs once, none repeats', async () => {
    const clock = new ManualClock(T0);
    const a = await app([Ticker]);
    await startBeat(a, { clock });
    await moveTo(clock, T0 + MIN);
    await beatOf(a).stop();
    clock.set(T0 + 2 * MIN + 20_000); // tick 2 fell due 20 s ago, while no beat ran
    const b = await app([Ticker]);
    await startBeat(b, { clock });
    await until(async () => (await lastRun(b, 'ticker.minute')) === T0 + 2 * MIN, 10_000, 'the late tick');
    await moveTo(clock, T0 + 3 * MIN);
    expect(ticksOf(await take(transportOf(b), 'beat'), 'ticker.minute')).toEqual([
      T0 + MIN,
      T0 + 2 * MIN,
      T0 + 3 * MIN,
    ]);
  });

  it.each(['skip', 'once'] as const)("restarted after missed ticks, catchUp '%s'", async (catchUp) => {
    const clock = new ManualClock(T0);
    const a = await app([]);
    a.get(PeriodicSchedules).configure(clock, 60_000); // created on the test's clock (a beat does this when it starts)
    await a.get(PeriodicSchedules).add('api.minute', { task: 'some.task', every: '1m', queue: 'beat', catchUp });
    await startBeat(a, { clock });
    await moveTo(clock, T0 + MIN);
    expect(await lastRun(a, 'api.minute')).toBe(T0 + MIN);
    await beatOf(a).stop();
    clock.set(T0 + 10 * MIN + 30_000); // ticks 2..10 fell due while no beat ran (more than the 1m grace ago, except none)
    const b = await app([]);
    await startBeat(b, { clock, misfireGrace: '10s' });
    await moveTo(clock, clock.now());
    if (catchUp === 'skip') {
      expect(await lastRun(b, 'api.minute')).toBe(T0 + MIN);
      expect(await b.get(PeriodicSchedules).nextRun('api.minute')).toEqual(new Date(T0 + 11 * MIN));
    } else {
      await until(async () => (await lastRun(b, 'api.minute')) === T0 + 10 * MIN, 10_000, 'one catch-up run');
    }
    await moveTo(clock, T0 + 11 * MIN);
    const ticks = ticksOf(await take(transportOf(b), 'beat'), 'api.minute');
    expect(ticks).toEqual(catchUp === 'skip' ? [T0 + MIN, T0 + 11 * MIN] : [T0 + MIN, T0 + 10 * MIN, T0 + 11 * MIN]);
  });

  it('adds, lists, pauses, resumes and removes schedules at run time; a beat elsewhere follows', async () => {
    const clock = new ManualClock(T0);
    const api = await app([]);
    const beat = await app([]);
    await startBeat(beat, { clock });
    const schedules = api.get(PeriodicSchedules);
    schedules.configure(clock, 60_000); // next-run times on the test's clock
    const info = await schedules.add('api.report', {
      task: 'reports.build',
      cron: '*/5 * * * *',
      timezone: 'America/New_York',
      args: ['eu'],
      queue: 'beat',
      priority: 3,
    });
    expect(info).toMatchObject({
      name: 'api.report',
      task: 'reports.build',
      queue: 'beat',
      cron: '*/5 * * * *',
      args: ['eu'],
      priority: 3,
      source: 'api',
      paused: false,
      lastRunAt: null,
      nextRunAt: new Date(T0 + 5 * MIN),
    });
    expect((await schedules.list()).map((s) => s.name)).toEqual(['api.report']);
    // the beat notices the new schedule (a change counter read at each lease renewal)
    await until(
      async () => {
        await moveTo(clock, T0 + 5 * MIN);
        return (await lastRun(api, 'api.report')) === T0 + 5 * MIN;
      },
      15_000,
      'the beat to pick up the added schedule',
    );
    expect(await schedules.get('api.report')).toMatchObject({
      lastRunAt: new Date(T0 + 5 * MIN),
      nextRunAt: new Date(T0 + 10 * MIN),
    });
    expect((await schedules.get('api.report'))!.lastTaskId).toEqual(expect.any(String));

    expect(await schedules.pause('api.report')).toBe(true);
    expect(await schedules.nextRun('api.report')).toBeNull();
    await moveTo(clock, T0 + 10 * MIN);
    await moveTo(clock, T0 + 15 * MIN);
    expect(await lastRun(api, 'api.report')).toBe(T0 + 5 * MIN);
    expect(await schedules.resume('api.report')).toBe(true); // at 12:15: ticks while paused are not run
    expect(await schedules.nextRun('api.report')).toEqual(new Date(T0 + 20 * MIN));
    await until(
      async () => {
        await moveTo(clock, T0 + 20 * MIN);
        return (await lastRun(api, 'api.report')) === T0 + 20 * MIN;
      },
      15_000,
      'the resumed schedule to run',
    );
    expect(ticksOf(await take(transportOf(api), 'beat'), 'api.report')).toEqual([T0 + 5 * MIN, T0 + 20 * MIN]);

    expect(await schedules.remove('api.report')).toBe(true);
    expect(await schedules.remove('api.report')).toBe(false);
    expect(await schedules.get('api.report')).toBeNull();
    expect(await schedules.pause('api.report')).toBe(false);
  });

  it('rejects bad run-time schedules and names taken by @Periodic', async () => {
    const a = await app([Ticker]);
    const schedules = a.get(PeriodicSchedules);
    await expect(schedules.add('x', { task: 't', cron: '99 * * * *' })).rejects.toThrow(TaskQueueConfigError);
    await expect(schedules.add('x', { task: 't', cron: '0 * * * *', timezone: 'Nowhere/City' })).rejects.toThrow(
      /timezone of schedule "x"/,
    );
    await expect(schedules.add('bad name', { task: 't', every: '1s' })).rejects.toThrow(/name of schedule/);
    await expect(schedules.add('ticker.minute', { task: 't', every: '1s' })).rejects.toThrow(
      /declared by @Periodic\(\) on Ticker#minute/,
    );
    await expect(schedules.add('x', { task: 't', every: '1s', args: [new Date()] })).rejects.toThrow(/Date/);
  });

  it('upserts @Periodic schedules at start and removes those no longer declared; a paused one stays paused', async () => {
    const clock = new ManualClock(T0);
    const a = await app([Ticker, Stacked]);
    await startBeat(a, { clock });
    await a.get(PeriodicSchedules).pause('stacked.hourly');
    await beatOf(a).stop();
    const b = await app([Ticker, Stacked]);
    await startBeat(b, { clock });
    expect((await b.get(PeriodicSchedules).get('stacked.hourly'))!.paused).toBe(true);
    await beatOf(b).stop();
    const c = await app([Ticker]); // Stacked removed from the application
    await startBeat(c, { clock });
    const names = (await c.get(PeriodicSchedules).list()).map((s) => s.name);
    expect(names).toEqual(['Ticker.record', 'ticker.minute', 'ticker.report']);
  });

  it('writes a heartbeat, calls onInit, and stops idempotently, giving up the lease', async () => {
    const a = await app([Ticker]);
    const beat = beatOf(a);
    const inits: unknown[] = [];
    const hook = jest.spyOn(beat, 'onInit');
    await startBeat(a, { onInit: (info) => inits.push(info), id: `beat-${kind}-1` });
    await beat.start(); // running: nothing happens
    expect(inits).toEqual([
      {
        id: `beat-${kind}-1`,
        schedules: expect.arrayContaining(['ticker.minute', 'ticker.report', 'Ticker.record']),
        leaderElection: true,
      },
    ]);
    expect(hook).toHaveBeenCalledTimes(1);
    const hb = await storeOf(a).leaderHeartbeat();
    expect(hb).toMatchObject({ id: `beat-${kind}-1`, pid: process.pid });
    expect(Date.now() - hb!.at).toBeLessThan(60_000);
    const s1 = beat.stop();
    const s2 = beat.stop();
    expect(s2).toBe(s1);
    await s1;
    expect(beat.isRunning).toBe(false);
    expect(await storeOf(a).leaderHeartbeat()).toBeNull();
    await beat.stop();
  });

  it('a follower takes over when the leader stops', async () => {
    const clock = new ManualClock(T0);
    const a = await app([Ticker]);
    const b = await app([Ticker]);
    await startBeat(a, { clock, lease: 300 });
    await beatOf(b).start({ clock, lease: 300 });
    expect(beatOf(b).isLeader).toBe(false);
    await moveTo(clock, T0 + MIN);
    await beatOf(a).stop();
    await until(() => beatOf(b).isLeader, 10_000, 'b to lead');
    await moveTo(clock, T0 + 2 * MIN);
    await until(async () => (await lastRun(b, 'ticker.minute')) === T0 + 2 * MIN, 10_000, 'b to fire');
    expect(ticksOf(await take(transportOf(b), 'beat'), 'ticker.minute')).toEqual([T0 + MIN, T0 + 2 * MIN]);
  });
});

describe('beat across DST (memory broker, fixed instants)', () => {
  const apps: TestingModule[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await MemoryTransport.resetShared();
  });

  /** Runs one beat over [from, to] stepping the clock every `stepMs`; returns the ticks published for the schedule. */
  async function runDay(
    cron: string,
    timezone: string,
    from: string,
    to: string,
    stepMs: number,
    graceMs: number,
  ): Promise<string[]> {
    const a = await createTaskApp({ brokerUrl: `memory://dst-${Math.random().toString(36).slice(2)}` }, []);
    apps.push(a);
    const clock = new ManualClock(Date.parse(from));
    const schedules = a.get(PeriodicSchedules);
    schedules.configure(clock, graceMs); // created on the test's clock (a beat does this when it starts)
    await schedules.add('dst', { task: 'dst.job', cron, timezone, queue: 'dst' });
    const beat = a.get(BeatScheduler);
    await beat.start({ clock, misfireGrace: graceMs });
    await until(() => beat.isLeader && clock.waiting === 1, 10_000, 'the beat at rest');
    for (let t = Date.parse(from) + stepMs; t <= Date.parse(to); t += stepMs) {
      clock.set(t);
      await until(() => clock.waiting === 1, 10_000, 'the beat at rest', 2);
    }
    const t = a.get<Transport>(TASK_QUEUE_TRANSPORT);
    const r = await t.reserve({
      queue: 'dst',
      max: 1000,
      startCount: 1000,
      leaseMs: 60_000,
      workerId: 't',
      maxRedeliveries: 1,
      resultTtlMs: 60_000,
    });
    return r.items.map((i) => new Date(Number(decodeMessage(i.raw).headers![BEAT_HEADERS.tick])).toISOString());
  }

  it.each([
    [
      'Europe/London spring forward: 01:30 (in the gap) runs once',
      '30 1 * * *',
      'Europe/London',
      '2026-03-28T12:00:00Z',
      '2026-03-30T12:00:00Z',
      ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    ],
    [
      'Europe/London spring forward: 02:30 runs once',
      '30 2 * * *',
      'Europe/London',
      '2026-03-28T12:00:00Z',
      '2026-03-30T12:00:00Z',
      ['2026-03-29T01:30:00.000Z', '2026-03-30T01:30:00.000Z'],
    ],
    [
      'Europe/London fall back: 01:30 (twice on the clock) runs once',
      '30 1 * * *',
      'Europe/London',
      '2026-10-24T12:00:00Z',
      '2026-10-26T12:00:00Z',
      ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'],
    ],
    [
      'America/New_York spring forward: 02:30 (in the gap) runs once',
      '30 2 * * *',
      'America/New_York',
      '2026-03-07T12:00:00Z',
      '2026-03-09T12:00:00Z',
      ['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z'],
    ],
    [
      'America/New_York fall back: 01:30 runs once',
      '30 1 * * *',
      'America/New_York',
      '2026-10-31T12:00:00Z',
      '2026-11-02T12:00:00Z',
      ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'],
    ],
  ])('%s', async (_title, cron, tz, from, to, expected) => {
    // 10-minute steps with a 15-minute grace: every tick is seen late, as by a busy beat, and still runs once
    expect(await runDay(cron, tz, from, to, 10 * MIN, 15 * MIN)).toEqual(expected);
  });
});

describe('invalid @Periodic fails the bootstrap naming the method and the value', () => {
  it.each([
    ['a bad crontab', { cron: '0 25 * * *' }, /cron of @Periodic\(\) on Bad#run" \("0 25 \* \* \*"\)/],
    [
      'a bad timezone',
      { cron: '0 2 * * *', timezone: 'Europe/Lodnon' },
      /timezone of @Periodic\(\) on Bad#run" \("Europe\/Lodnon"\)/,
    ],
    ['a bad interval', { every: '5 minutes' }, /every of @Periodic\(\) on Bad#run" \("5 minutes"\)/],
    ['bad args', { every: '5m', args: [() => 1] }, /args\[0\]/],
  ])('%s', async (_title, meta, message) => {
    @Injectable()
    class Bad {
      @Periodic(meta as never)
      run(): void {}
    }
    const err = await createTaskApp({ brokerUrl: 'memory://bad-periodic' }, [Bad]).catch((e: unknown) => e);
    await MemoryTransport.resetShared();
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(message);
  });

  it('a schedule name used twice', async () => {
    @Injectable()
    class Twice {
      @Periodic({ every: '1m', name: 'same' })
      a(): void {}

      @Periodic({ every: '2m', name: 'same' })
      b(): void {}
    }
    const err = await createTaskApp({ brokerUrl: 'memory://bad-periodic-2' }, [Twice]).catch((e: unknown) => e);
    await MemoryTransport.resetShared();
    expect(err).toBeInstanceOf(TaskQueueConfigError);
    expect((err as Error).message).toContain('"same" is used by Twice#a and by Twice#b');
  });
});
