import { randomUUID } from 'node:crypto';
import { PROTOCOL_VERSION, encodeMessage } from '../../src/protocol/index.js';
import type { BeatHeartbeat, BeatStore, ScheduleDefinition } from '../../src/transport/beat-store.interface.js';
import type { PublishItem, Transport } from '../../src/transport/transport.interface.js';
import { until } from '../utils/redis.js';

/**
 * The contract every BeatStore keeps (Redis and memory). Each test works on
 * schedules and queues of its own. Times passed as `now` are fixed instants.
 */
export function describeBeatStoreContract(
  name: string,
  make: () => Promise<{ store: BeatStore; transport: Transport; cleanup: () => Promise<void> }>,
): void {
  describe(`BeatStore contract: ${name}`, () => {
    let store: BeatStore;
    let transport: Transport;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ store, transport, cleanup } = await make());
    });

    afterAll(async () => {
      await cleanup();
    });

    const T0 = Date.parse('2026-05-01T00:00:00Z');
    const uid = () => randomUUID().slice(0, 8);
    const def = (over: Partial<ScheduleDefinition> = {}): ScheduleDefinition => ({
      name: `s-${uid()}`,
      task: 'jobs.run',
      queue: `q-${uid()}`,
      every: 1000,
      args: [1, 'a', { n: 0.1 }],
      catchUp: 'skip',
      source: 'api',
      ...over,
    });
    const item = (queue: string, tick: number, priority = 5): PublishItem => {
      const id = randomUUID();
      const raw = encodeMessage({
        id,
        priority,
        queue,
        task: 'jobs.run',
        retries: 0,
        created: tick,
        args: [tick],
        headers: { 'beat-tick': tick },
        v: PROTOCOL_VERSION,
      });
      return { queue, id, priority, raw };
    };
    const ready = async (queue: string) => (await transport.counts(queue)).ready;
    const hb = (id: string, at = Date.now()): BeatHeartbeat => ({
      id,
      at,
      startedAt: at,
      pid: process.pid,
      hostname: 'test',
    });

    it('creates a schedule: since = now, not paused, no last run, and reads it back', async () => {
      const d = def({ priority: 7, expiresMs: 500 });
      const s = await store.upsert(d, T0);
      expect(s).toMatchObject({ ...d, since: T0, paused: false, lastRun: null, lastTaskId: null });
      expect(typeof s.rev).toBe('string');
      expect(await store.get(d.name)).toEqual(s);
      expect((await store.list()).find((x) => x.name === d.name)).toEqual(s);
      expect(await store.get(`missing-${uid()}`)).toBeNull();
    });

    it('lists schedules sorted by name', async () => {
      const p = `sorted-${uid()}`;
      for (const n of ['c', 'a', 'b']) await store.upsert(def({ name: `${p}-${n}` }), T0);
      const names = (await store.list()).map((s) => s.name).filter((n) => n.startsWith(p));
      expect(names).toEqual([`${p}-a`, `${p}-b`, `${p}-c`]);
    });

    it('leaves an unchanged definition alone, and keeps since, paused and the last run on other changes', async () => {
      const d = def();
      const s1 = await store.upsert(d, T0);
      const same = await store.upsert({ ...d }, T0 + 5000);
      expect(same.rev).toBe(s1.rev);
      expect(same.since).toBe(T0);
      expect(await store.claim(s1, T0 + 1000, item(d.queue, T0 + 1000))).toBe('published');
      await store.setPaused(d.name, true, T0 + 1500);
      const s2 = await store.upsert({ ...d, args: [2] }, T0 + 6000);
      expect(s2.rev).not.toBe(s1.rev);
      expect(s2).toMatchObject({ args: [2], since: T0, paused: true, lastRun: T0 + 1000 });
    });

    it('restarts the ticks from now when the timing changes', async () => {
      const d = def();
      await store.upsert(d, T0);
      const s = await store.upsert({ ...d, every: undefined, cron: '0 * * * *', timezone: 'Europe/London' }, T0 + 7000);
      expect(s).toMatchObject({ cron: '0 * * * *', timezone: 'Europe/London', since: T0 + 7000 });
      expect(s.every).toBeUndefined();
      const s2 = await store.upsert(
        { ...d, every: undefined, cron: '0 * * * *', timezone: 'America/New_York' },
        T0 + 9000,
      );
      expect(s2.since).toBe(T0 + 9000);
    });

    it('creates a schedule paused when asked', async () => {
      const s = await store.upsert(def(), T0, { paused: true });
      expect(s.paused).toBe(true);
    });

    it('claim publishes the message and records the tick; the same or an earlier tick never again', async () => {
      const d = def();
      const s = await store.upsert(d, T0);
      const first = item(d.queue, T0 + 1000, 7);
      expect(await store.claim(s, T0 + 1000, first)).toBe('published');
      expect(await ready(d.queue)).toBe(1);
      expect(await store.get(d.name)).toMatchObject({ lastRun: T0 + 1000, lastTaskId: first.id });
      expect(await store.claim(s, T0 + 1000, item(d.queue, T0 + 1000))).toBe('duplicate');
      expect(await store.claim(s, T0 + 500, item(d.queue, T0 + 500))).toBe('duplicate');
      expect(await store.claim(s, T0, item(d.queue, T0))).toBe('duplicate'); // not after since
      expect(await ready(d.queue)).toBe(1);
      expect(await store.claim(s, T0 + 2000, item(d.queue, T0 + 2000))).toBe('published');
      expect(await ready(d.queue)).toBe(2);
      // the published message is the one given, with its priority, ready to reserve
      const r = await transport.reserve({
        queue: d.queue,
        max: 10,
        startCount: 10,
        leaseMs: 10_000,
        workerId: 'w',
        maxRedeliveries: 5,
        resultTtlMs: 60_000,
      });
      expect(r.items.map((i) => i.id)).toEqual([first.id, expect.any(String)]);
      expect(r.items[0].raw).toBe(first.raw);
    });

    it('publishes a tick once when many claims race for it', async () => {
      const d = def();
      const s = await store.upsert(d, T0);
      const outcomes = await Promise.all(
        Array.from({ length: 25 }, () => store.claim(s, T0 + 1000, item(d.queue, T0 + 1000))),
      );
      expect(outcomes.filter((o) => o === 'published')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(24);
      expect(await ready(d.queue)).toBe(1);
    });

    it('refuses a claim made from a stale revision, publishing nothing', async () => {
      const d = def();
      const old = await store.upsert(d, T0);
      await store.upsert({ ...d, args: ['new'] }, T0);
      expect(await store.claim(old, T0 + 1000, item(d.queue, T0 + 1000))).toBe('stale');
      expect(await ready(d.queue)).toBe(0);
    });

    it('pauses and resumes; resuming skips the ticks that fell due while paused', async () => {
      const d = def();
      await store.upsert(d, T0);
      const paused = await store.setPaused(d.name, true, T0 + 500);
      expect(paused).toMatchObject({ paused: true, since: T0 });
      expect(await store.claim(paused!, T0 + 1000, item(d.queue, T0 + 1000))).toBe('paused');
      expect((await store.setPaused(d.name, true, T0 + 600))!.rev).toBe(paused!.rev); // unchanged
      const resumed = await store.setPaused(d.name, false, T0 + 5500);
      expect(resumed).toMatchObject({ paused: false, since: T0 + 5500 });
      expect(await store.claim(resumed!, T0 + 5000, item(d.queue, T0 + 5000))).toBe('duplicate');
      expect(await store.claim(resumed!, T0 + 6000, item(d.queue, T0 + 6000))).toBe('published');
      expect(await ready(d.queue)).toBe(1);
      expect(await store.setPaused(`missing-${uid()}`, true, T0)).toBeNull();
    });

    it('removes a schedule: claims find it gone; removing twice says so', async () => {
      const d = def();
      const s = await store.upsert(d, T0);
      expect(await store.remove(d.name)).toBe(true);
      expect(await store.get(d.name)).toBeNull();
      expect((await store.list()).some((x) => x.name === d.name)).toBe(false);
      expect(await store.claim(s, T0 + 1000, item(d.queue, T0 + 1000))).toBe('gone');
      expect(await store.remove(d.name)).toBe(false);
      // created again: a fresh schedule, and the old revision still refused
      const again = await store.upsert(d, T0 + 3000);
      expect(again).toMatchObject({ since: T0 + 3000, lastRun: null });
      expect(await store.claim(s, T0 + 4000, item(d.queue, T0 + 4000))).toBe('stale');
    });

    it('moves a schedule to another queue, starting afresh there', async () => {
      const d = def();
      const s = await store.upsert(d, T0);
      await store.claim(s, T0 + 1000, item(d.queue, T0 + 1000));
      const q2 = `q-${uid()}`;
      const moved = await store.upsert({ ...d, queue: q2 }, T0 + 1500);
      expect(moved).toMatchObject({ queue: q2, since: T0 + 1500, lastRun: null });
      expect(await store.get(d.name)).toMatchObject({ queue: q2 });
      expect(await store.claim(s, T0 + 2000, item(d.queue, T0 + 2000))).toBe('gone');
      expect(await store.claim(moved, T0 + 2000, item(q2, T0 + 2000))).toBe('published');
    });

    it('rejects a claim whose message goes to another queue than the schedule', async () => {
      const d = def();
      const s = await store.upsert(d, T0);
      await expect(store.claim(s, T0 + 1000, item('elsewhere', T0 + 1000))).rejects.toThrow(/queue/);
    });

    it('elects one leader; the lease passes on release and on expiry; heartbeats are kept', async () => {
      const a = `beat-a-${uid()}`;
      const b = `beat-b-${uid()}`;
      const c = `beat-c-${uid()}`;
      // (other tests may hold no lease: this suite is the only campaigner of its store)
      expect(await store.lease(hb(a), 10_000, true)).toMatchObject({ leader: true, leaderId: a });
      expect(await store.lease(hb(b), 10_000, true)).toMatchObject({ leader: false, leaderId: a });
      expect(await store.lease(hb(a), 10_000, true)).toMatchObject({ leader: true, leaderId: a });
      expect((await store.leaderHeartbeat())?.id).toBe(a);
      expect((await store.beats()).map((x) => x.id).sort()).toEqual(expect.arrayContaining([a, b]));
      await store.release(a);
      expect((await store.beats()).map((x) => x.id)).not.toContain(a);
      expect(await store.leaderHeartbeat()).toBeNull();
      expect(await store.lease(hb(b), 200, true)).toMatchObject({ leader: true, leaderId: b });
      // b stops renewing: its lease runs out and c gets it
      await until(async () => (await store.lease(hb(c), 10_000, true)).leader, 10_000, 'the lease to pass to c');
      expect((await store.leaderHeartbeat())?.id).toBe(c);
      await store.release(c);
      await store.release(b);
    });

    it('without campaigning, records the heartbeat and never leads', async () => {
      const d = `beat-d-${uid()}`;
      const r = await store.lease(hb(d), 10_000, false);
      expect(r.leader).toBe(false);
      expect((await store.leaderHeartbeat())?.id).toBe(d);
      await store.release(d);
    });

    it('counts schedule changes, so beats notice changes made elsewhere', async () => {
      const id = `beat-v-${uid()}`;
      const v0 = (await store.lease(hb(id), 10_000, false)).version;
      const d = def();
      await store.upsert(d, T0);
      const v1 = (await store.lease(hb(id), 10_000, false)).version;
      expect(v1).toBeGreaterThan(v0);
      await store.upsert(d, T0); // unchanged
      expect((await store.lease(hb(id), 10_000, false)).version).toBe(v1);
      await store.setPaused(d.name, true, T0);
      const v2 = (await store.lease(hb(id), 10_000, false)).version;
      expect(v2).toBeGreaterThan(v1);
      await store.remove(d.name);
      expect((await store.lease(hb(id), 10_000, false)).version).toBeGreaterThan(v2);
      await store.release(id);
    });
  });
}
