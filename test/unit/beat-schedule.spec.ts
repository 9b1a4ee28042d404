import { TaskQueueConfigError } from '../../src/errors/index.js';
import { planTicks, resolveSchedule, ticksOf, type Ticks } from '../../src/beat/schedule.js';
import { ManualClock } from '../../src/beat/clock.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Every tick in (from, to], as ISO strings. */
function ticksBetween(t: Ticks, from: string, to: string): string[] {
  const out: string[] = [];
  let x = t.next(at(from));
  while (x !== null && x <= at(to)) {
    out.push(iso(x)!);
    x = t.next(x);
  }
  return out;
}

describe('interval ticks', () => {
  const since = at('2026-01-01T00:00:00.000Z');
  const t = ticksOf({ every: 15_000 }, since);

  it('tick at since + k·every, k >= 1, strictly after the instant asked', () => {
    expect(iso(t.next(since - 1))).toBe('2026-01-01T00:00:15.000Z');
    expect(iso(t.next(since))).toBe('2026-01-01T00:00:15.000Z');
    expect(iso(t.next(since + 15_000))).toBe('2026-01-01T00:00:30.000Z');
    expect(iso(t.next(since + 15_001))).toBe('2026-01-01T00:00:30.000Z');
  });

  it('latestBefore is strictly before, and null before the first tick', () => {
    expect(t.latestBefore(since + 15_000)).toBeNull();
    expect(iso(t.latestBefore(since + 15_001))).toBe('2026-01-01T00:00:15.000Z');
    expect(iso(t.latestBefore(since + 60_000))).toBe('2026-01-01T00:00:45.000Z');
  });

  it('is indifferent to DST: an interval counts elapsed time', () => {
    const s = ticksOf({ every: 3_600_000 }, at('2026-03-29T00:00:00Z'));
    expect(ticksBetween(s, '2026-03-29T00:00:00Z', '2026-03-29T03:00:00Z')).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T02:00:00.000Z',
      '2026-03-29T03:00:00.000Z',
    ]);
  });
});

describe('crontab ticks in a timezone, across DST', () => {
  it('reads the crontab in UTC by default', () => {
    const t = ticksOf({ cron: '0 2 * * *' }, 0);
    expect(iso(t.next(at('2026-06-01T00:00:00Z')))).toBe('2026-06-01T02:00:00.000Z');
  });

  it('Europe/London, summer and winter', () => {
    const t = ticksOf({ cron: '0 2 * * *', timezone: 'Europe/London' }, 0);
    expect(iso(t.next(at('2026-06-01T00:00:00Z')))).toBe('2026-06-01T01:00:00.000Z'); // 02:00 BST
    expect(iso(t.next(at('2026-12-01T00:00:00Z')))).toBe('2026-12-01T02:00:00.000Z'); // 02:00 GMT
  });

  it('Europe/London spring forward (29 Mar 2026, 01:00 GMT → 02:00 BST): a job in the gap runs once', () => {
    const t = ticksOf({ cron: '30 1 * * *', timezone: 'Europe/London' }, 0);
    // 01:30 does not exist that day: it runs once, at the first instant after the gap (02:00 BST = 01:00Z)
    expect(ticksBetween(t, '2026-03-28T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('Europe/London spring forward: 02:30 exists (BST) and runs once', () => {
    const t = ticksOf({ cron: '30 2 * * *', timezone: 'Europe/London' }, 0);
    expect(ticksBetween(t, '2026-03-28T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual([
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T01:30:00.000Z',
    ]);
  });

  it('Europe/London fall back (25 Oct 2026, 02:00 BST → 01:00 GMT): 01:30 happens twice, the job runs once', () => {
    const t = ticksOf({ cron: '30 1 * * *', timezone: 'Europe/London' }, 0);
    expect(ticksBetween(t, '2026-10-24T12:00:00Z', '2026-10-26T12:00:00Z')).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('America/New_York spring forward (8 Mar 2026, 02:00 EST → 03:00 EDT): a 02:30 job runs once, at 03:00 EDT', () => {
    const t = ticksOf({ cron: '30 2 * * *', timezone: 'America/New_York' }, 0);
    expect(ticksBetween(t, '2026-03-07T12:00:00Z', '2026-03-09T12:00:00Z')).toEqual([
      '2026-03-08T07:00:00.000Z', // 03:00 EDT, the first instant after the gap
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
    ]);
    expect(ticksBetween(t, '2026-03-06T12:00:00Z', '2026-03-07T12:00:00Z')).toEqual(['2026-03-07T07:30:00.000Z']); // 02:30 EST
  });

  it('America/New_York fall back (1 Nov 2026, 02:00 EDT → 01:00 EST): a 01:30 job runs once', () => {
    const t = ticksOf({ cron: '30 1 * * *', timezone: 'America/New_York' }, 0);
    expect(ticksBetween(t, '2026-10-31T12:00:00Z', '2026-11-02T12:00:00Z')).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('America/New_York: an hourly job runs every elapsed hour through both changes (23 and 25 runs)', () => {
    const t = ticksOf({ cron: '0 * * * *', timezone: 'America/New_York' }, 0);
    expect(ticksBetween(t, '2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z')).toHaveLength(23); // local midnight to midnight
    expect(ticksBetween(t, '2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z')).toHaveLength(25);
  });

  it('latestBefore agrees with next across the gap', () => {
    const t = ticksOf({ cron: '30 2 * * *', timezone: 'America/New_York' }, 0);
    expect(iso(t.latestBefore(at('2026-03-08T08:00:00Z')))).toBe('2026-03-08T07:00:00.000Z');
    expect(iso(t.latestBefore(at('2026-03-08T07:00:00Z')))).toBe('2026-03-07T07:30:00.000Z');
  });
});

describe('planTicks (which ticks a beat runs now)', () => {
  const since = at('2026-01-01T00:00:00Z');
  const t = ticksOf({ every: 60_000 }, since); // every minute
  const grace = 30_000;

  it('runs nothing before the first tick and says when it is', () => {
    const p = planTicks(t, since, since + 59_000, grace, 'skip');
    expect(p).toEqual({ ticks: [], missed: false, nextAt: since + 60_000 });
  });

  it('runs a due tick, on time or late within the grace', () => {
    expect(planTicks(t, since, since + 60_000, grace, 'skip').ticks).toEqual([since + 60_000]);
    expect(planTicks(t, since, since + 89_000, grace, 'skip').ticks).toEqual([since + 60_000]);
  });

  it('runs each tick of the grace window, oldest first, after a short stall', () => {
    const tt = ticksOf({ every: 10_000 }, since);
    const p = planTicks(tt, since, since + 35_000, grace, 'skip');
    expect(p.ticks).toEqual([since + 10_000, since + 20_000, since + 30_000]);
    expect(p.nextAt).toBe(since + 40_000);
  });

  it("catchUp 'skip' drops ticks missed while no beat ran, and resumes on schedule", () => {
    const last = since + 60_000; // ran at 00:01, then no beat until 00:10:45
    const p = planTicks(t, last, since + 645_000, grace, 'skip');
    expect(p.missed).toBe(true);
    expect(p.ticks).toEqual([]); // 00:02 .. 00:10 all later than the grace
    expect(p.nextAt).toBe(since + 660_000);
  });

  it("catchUp 'skip' still runs the ticks inside the grace window", () => {
    const p = planTicks(t, since + 60_000, since + 605_000, grace, 'skip');
    expect(p.missed).toBe(true);
    expect(p.ticks).toEqual([since + 600_000]);
  });

  it("catchUp 'once' runs one run for all missed ticks (the latest), then the ones in the grace window", () => {
    const p1 = planTicks(t, since + 60_000, since + 645_000, grace, 'once');
    expect(p1.ticks).toEqual([since + 600_000]);
    const p2 = planTicks(t, since + 60_000, since + 605_000, grace, 'once');
    expect(p2.ticks).toEqual([since + 540_000, since + 600_000]);
    // and nothing more the next time round
    expect(planTicks(t, since + 600_000, since + 610_000, grace, 'once')).toEqual({
      ticks: [],
      missed: false,
      nextAt: since + 660_000,
    });
  });

  it('caps one plan, leaving the rest due at once', () => {
    const tt = ticksOf({ every: 1 }, since);
    const p = planTicks(tt, since, since + 5_000, 10_000, 'skip', 100);
    expect(p.ticks).toHaveLength(100);
    expect(p.nextAt).toBe(since + 101);
  });

  it("DST: a New York 02:30 job planned over the spring-forward night runs once; with 'once' after an outage, once", () => {
    const c = ticksOf({ cron: '30 2 * * *', timezone: 'America/New_York' }, 0);
    const last = at('2026-03-07T07:30:00Z');
    const p = planTicks(c, last, at('2026-03-08T07:00:00Z'), grace, 'skip');
    expect(p.ticks.map(iso)).toEqual(['2026-03-08T07:00:00.000Z']);
    const outage = planTicks(c, last, at('2026-03-10T12:00:00Z'), grace, 'once');
    expect(outage.ticks.map(iso)).toEqual(['2026-03-10T06:30:00.000Z']);
  });
});

describe('resolveSchedule (validation)', () => {
  const site = '@Periodic() on Jobs#run';
  const resolve = (input: object) =>
    resolveSchedule(
      { task: 'jobs.run', ...input } as never,
      'jobs.run',
      site,
      { queue: 'jobs' },
      'default',
      'decorator',
    );

  it('resolves defaults from the task', () => {
    expect(resolve({ every: '15s' })).toEqual({
      name: 'jobs.run',
      task: 'jobs.run',
      queue: 'jobs',
      every: 15_000,
      args: [],
      catchUp: 'skip',
      source: 'decorator',
    });
    expect(
      resolve({
        cron: '0 2 * * *',
        timezone: 'Europe/London',
        args: [1],
        queue: 'q',
        priority: 7,
        expires: '1m',
        catchUp: 'once',
      }),
    ).toEqual({
      name: 'jobs.run',
      task: 'jobs.run',
      queue: 'q',
      cron: '0 2 * * *',
      timezone: 'Europe/London',
      args: [1],
      priority: 7,
      expiresMs: 60_000,
      catchUp: 'once',
      source: 'decorator',
    });
  });

  it.each([
    [{ cron: '61 * * * *' }, 'cron of @Periodic() on Jobs#run', '"61 * * * *"'],
    [{ cron: 'every day' }, 'cron of @Periodic() on Jobs#run', '"every day"'],
    [{ cron: '0 0 30 2 *' }, 'cron of @Periodic() on Jobs#run', 'never fires'],
    [{ cron: '0 2 * * *', timezone: 'Europe/Londn' }, 'timezone of @Periodic() on Jobs#run', '"Europe/Londn"'],
    [{ every: 'soon' }, 'every of @Periodic() on Jobs#run', '"soon"'],
    [{ every: 0 }, 'every of @Periodic() on Jobs#run', 'at least 1 ms'],
    [{ every: '1s', cron: '* * * * *' }, 'every of @Periodic() on Jobs#run', 'not both'],
    [{ every: '1s', timezone: 'UTC' }, 'timezone of @Periodic() on Jobs#run', 'cron schedules only'],
    [{}, 'cron of @Periodic() on Jobs#run', 'expected { every'],
    [{ every: '1s', catchUp: 'all' }, 'catchUp of @Periodic() on Jobs#run', '"all"'],
    [{ every: '1s', priority: 10 }, 'priority of @Periodic() on Jobs#run', '10'],
    [{ every: '1s', args: 'x' }, 'args of @Periodic() on Jobs#run', '"x"'],
    [{ every: '1s', queue: 'bad queue' }, 'queue of @Periodic() on Jobs#run', '"bad queue"'],
  ])('rejects %j naming the site and the value', (input, option, text) => {
    let err: unknown;
    try {
      resolve(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TaskQueueConfigError);
    expect((err as TaskQueueConfigError).option).toBe(option);
    expect((err as Error).message).toContain(text);
    expect((err as Error).message).toContain('Jobs#run');
  });
});

describe('ManualClock', () => {
  it('wakes sleepers when moved past their time, and on abort', async () => {
    const clock = new ManualClock(1000);
    const ac = new AbortController();
    const woke: string[] = [];
    const a = clock.sleep(100, ac.signal).then(() => woke.push('a'));
    const b = clock.sleep(200, ac.signal).then(() => woke.push('b'));
    const ac2 = new AbortController();
    const c = clock.sleep(10_000, ac2.signal).then(() => woke.push('c'));
    expect(clock.waiting).toBe(3);
    clock.advance(150);
    await a;
    expect(woke).toEqual(['a']);
    clock.set(1200);
    await b;
    ac2.abort();
    await c;
    expect(woke).toEqual(['a', 'b', 'c']);
    expect(clock.waiting).toBe(0);
    clock.set(0); // never goes back
    expect(clock.now()).toBe(1200);
  });
});
