import { randomUUID } from 'node:crypto';
import { encodeMessage, PROTOCOL_VERSION, TaskState, type ResultRecord } from '../../src/protocol/index.js';
import type { ReserveRequest, TerminalUpdate, Transport } from '../../src/transport/index.js';

/**
 * The contract every Transport keeps. Each implementation's spec calls this
 * with a factory; each test works on queues of its own, so nothing leaks
 * between tests. Waits are short and real; assertions are about what happened,
 * never about how long it took.
 */
export function describeTransportContract(
  name: string,
  make: () => Promise<{ transport: Transport; cleanup: () => Promise<void> }>,
): void {
  describe(`Transport contract: ${name}`, () => {
    let t: Transport;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ transport: t, cleanup } = await make());
    });

    afterAll(async () => {
      await cleanup();
    });

    const TTL = 60_000;
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    const sleepUntil = (epochMs: number) => sleep(Math.max(0, epochMs - Date.now()));
    const newQueue = () => `q-${randomUUID().slice(0, 8)}`;

    interface Msg {
      queue: string;
      id: string;
      priority: number;
      raw: string;
    }

    const msg = (
      queue: string,
      opts: {
        id?: string;
        priority?: number;
        expires?: number;
        retries?: number;
        unique?: { key: string; while: 'queued' | 'running' | 'ttl'; ttl: number };
      } = {},
    ): Msg => {
      const id = opts.id ?? randomUUID();
      const priority = opts.priority ?? 5;
      const raw = encodeMessage({
        id,
        priority,
        queue,
        task: 'contract.task',
        retries: opts.retries ?? 0,
        created: Date.now(),
        expires: opts.expires,
        ...(opts.unique
          ? { uniqueKey: opts.unique.key, uniqueWhile: opts.unique.while, uniqueTtl: opts.unique.ttl }
          : {}),
        args: [1, 'two', { three: 3 }],
        v: PROTOCOL_VERSION,
      });
      return { queue, id, priority, raw };
    };

    const publish = (...msgs: Array<Msg & { dueAt?: number }>) =>
      t.publish(msgs.map((m) => ({ queue: m.queue, id: m.id, priority: m.priority, raw: m.raw, dueAt: m.dueAt })));

    const req = (queue: string, over: Partial<ReserveRequest> = {}): ReserveRequest => ({
      queue,
      max: 10,
      startCount: 10,
      leaseMs: 30_000,
      workerId: 'worker-1',
      maxRedeliveries: 3,
      resultTtlMs: TTL,
      ...over,
    });

    const record = (id: string, state: TaskState, extra: Partial<ResultRecord> = {}): ResultRecord => ({
      id,
      state,
      at: Date.now(),
      worker: 'worker-1',
      ...extra,
    });

    const update = (queue: string, id: string, rec: ResultRecord | null): TerminalUpdate => ({
      queue,
      id,
      record: rec,
      resultTtlMs: TTL,
    });

    const ids = (items: Array<{ id: string | null }>) => items.map((i) => i.id);

    describe('publish and reserve', () => {
      it('hands out messages of one priority first in, first out, with their raw and no redeliveries', async () => {
        const q = newQueue();
        const a = msg(q);
        const b = msg(q);
        const c = msg(q);
        await publish(a, b);
        await publish(c);
        const res = await t.reserve(req(q));
        expect(res.items).toEqual([
          { id: a.id, raw: a.raw, redeliveries: 0 },
          { id: b.id, raw: b.raw, redeliveries: 0 },
          { id: c.id, raw: c.raw, redeliveries: 0 },
        ]);
        expect(res.dropped).toEqual([]);
        expect((await t.reserve(req(q))).items).toEqual([]);
      });

      it('hands out higher priorities first, and no more than max', async () => {
        const q = newQueue();
        const p1 = msg(q, { priority: 1 });
        const p9 = msg(q, { priority: 9 });
        const p5 = msg(q, { priority: 5 });
        const p9b = msg(q, { priority: 9 });
        const p0 = msg(q, { priority: 0 });
        await publish(p1, p9, p5, p9b, p0);
        const first = await t.reserve(req(q, { max: 3 }));
        expect(ids(first.items)).toEqual([p9.id, p9b.id, p5.id]);
        const rest = await t.reserve(req(q, { max: 3 }));
        expect(ids(rest.items)).toEqual([p1.id, p0.id]);
      });

      it('publishes one batch spanning several queues', async () => {
        const q1 = newQueue();
        const q2 = newQueue();
        const a = msg(q1);
        const b = msg(q2);
        const c = msg(q1);
        await publish(a, b, c);
        expect(ids((await t.reserve(req(q1))).items)).toEqual([a.id, c.id]);
        expect(ids((await t.reserve(req(q2))).items)).toEqual([b.id]);
      });

      it('publishing nothing is a no-op', async () => {
        expect((await t.publish([])).size).toBe(0);
      });

      it('unique tasks: one per key; the others are skipped with the id holding it; freed as the rule says', async () => {
        const q = newQueue();
        const held = (k: string, w: 'queued' | 'running' | 'ttl') => msg(q, { unique: { key: k, while: w, ttl: TTL } });
        // running: held while queued and running, freed by releaseUnique only by its holder
        const [a, a2] = [held('contract|a', 'running'), held('contract|a', 'running')];
        const skipped = await t.publish([a, a2]);
        expect([...skipped]).toEqual([[a2.id, a.id]]);
        expect(ids((await t.reserve(req(q))).items)).toEqual([a.id]);
        const a3 = held('contract|a', 'running'); // still held while its task runs
        expect((await t.publish([a3])).get(a3.id)).toBe(a.id);
        await t.releaseUnique(q, 'contract|a', a2.id); // not the holder: no effect
        expect((await t.publish([a2])).get(a2.id)).toBe(a.id);
        await t.releaseUnique(q, 'contract|a', a.id);
        expect((await t.publish([a2])).size).toBe(0);
        // queued: freed when its task is reserved
        const [b, b2] = [held('contract|b', 'queued'), held('contract|b', 'queued')];
        await t.publish([b]);
        expect((await t.publish([b2])).get(b2.id)).toBe(b.id);
        await t.reserve(req(q, { max: 10 }));
        expect((await t.publish([b2])).size).toBe(0);
        // a revoked waiting task frees its key
        const c = { ...held('contract|c', 'running'), dueAt: Date.now() + 60_000 };
        await t.publish([c]);
        await t.revoke(q, c.id, { id: c.id, state: TaskState.REVOKED, at: Date.now() }, TTL);
        expect((await t.publish([held('contract|c', 'running')])).size).toBe(0);
      });

      it('with a once TTL publishes each id once, however often and from however many calls', async () => {
        const q = newQueue();
        const a = msg(q);
        const b = msg(q);
        const d = { ...msg(q), dueAt: Date.now() + 60_000 };
        const item = (m: Msg & { dueAt?: number }) => ({ ...m });
        await Promise.all([
          t.publish([item(a), item(b), item(d)], { onceTtlMs: TTL }),
          t.publish([item(a), item(d)], { onceTtlMs: TTL }),
          t.publish([item(b)], { onceTtlMs: TTL }),
        ]);
        await t.publish([item(a), item(b), item(d)], { onceTtlMs: TTL });
        expect(await t.counts(q)).toMatchObject({ ready: 2, delayed: 1 });
        expect(ids((await t.reserve(req(q))).items).sort()).toEqual([a.id, b.id].sort());
        // after it ran, the id is still known: a late duplicate is skipped
        await t.publish([item(a)], { onceTtlMs: TTL });
        expect(await t.counts(q)).toMatchObject({ ready: 0, reserved: 2 });
      });

      it('with a once TTL creates a chord once: a repeated create does not reset its joined results', async () => {
        const q = newQueue();
        const body = msg(q);
        const spec = {
          queue: q,
          id: randomUUID(),
          size: 2,
          bodyId: body.id,
          bodyPriority: 5,
          insert: false,
          bodyHead: body.raw,
          bodyTail: '',
          downstream: '[]',
          ttlMs: TTL,
        };
        await t.chordCreate(spec, { onceTtlMs: TTL });
        expect(await t.chordJoin(q, spec.id, 0, '1')).toBe('waiting');
        await t.chordCreate(spec, { onceTtlMs: TTL });
        expect(await t.chordJoin(q, spec.id, 1, '2')).toBe('complete');
        expect(ids((await t.reserve(req(q))).items)).toEqual([body.id]);
      });
    });

    describe('delayed messages', () => {
      it('does not hand out a delayed message before it is due, and does after', async () => {
        const q = newQueue();
        const m = msg(q);
        const dueAt = Date.now() + 300;
        await publish({ ...m, dueAt });
        const early = await t.reserve(req(q));
        expect(early.items).toEqual([]);
        expect(await t.counts(q)).toMatchObject({ ready: 0, delayed: 1 });
        await sleepUntil(dueAt + 20);
        const late = await t.reserve(req(q));
        expect(ids(late.items)).toEqual([m.id]);
        expect(await t.counts(q)).toMatchObject({ ready: 0, delayed: 0, reserved: 1 });
      });

      it('treats a dueAt in the past as ready now', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish({ ...m, dueAt: Date.now() - 1000 });
        expect(ids((await t.reserve(req(q))).items)).toEqual([m.id]);
      });

      it('reports the earliest delayed due time as nextWakeAt, and null when nothing is pending', async () => {
        const q = newQueue();
        expect((await t.reserve(req(q))).nextWakeAt).toBeNull();
        const now = Date.now();
        await publish(
          { ...msg(q), dueAt: now + 50_000 },
          { ...msg(q), dueAt: now + 30_000 },
          { ...msg(q), dueAt: now + 40_000 },
        );
        const res = await t.reserve(req(q));
        expect(res.items).toEqual([]);
        expect(res.nextWakeAt).toBe(now + 30_000);
      });

      it('reports a lease expiry as nextWakeAt when it comes before any delayed message', async () => {
        const q = newQueue();
        await publish(msg(q), { ...msg(q), dueAt: Date.now() + 60_000 });
        const before = Date.now();
        const res = await t.reserve(req(q, { leaseMs: 10_000 }));
        const after = Date.now();
        expect(res.items).toHaveLength(1);
        expect(res.nextWakeAt).not.toBeNull();
        expect(res.nextWakeAt).toBeGreaterThanOrEqual(before + 10_000);
        expect(res.nextWakeAt).toBeLessThanOrEqual(after + 10_000);
      });
    });

    describe('waitForWork', () => {
      it('wakes when a message is published to one of the queues', async () => {
        const q1 = newQueue();
        const q2 = newQueue();
        const ac = new AbortController();
        const waiting = t.waitForWork([q1, q2], Date.now() + 60_000, ac.signal);
        await sleep(50); // let the wait block before the publish
        await publish(msg(q2));
        await waiting; // a missed wake-up fails this test by its timeout
        ac.abort();
      }, 10_000);

      it('wakes when a delayed message is published that is due before anything else', async () => {
        const q = newQueue();
        const ac = new AbortController();
        const waiting = t.waitForWork([q], Date.now() + 60_000, ac.signal);
        await sleep(50);
        await publish({ ...msg(q), dueAt: Date.now() + 30_000 });
        await waiting;
        ac.abort();
      }, 10_000);

      it('wakes when held messages are released', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        // the publish left a wake-up for a worker that was not waiting yet; take it
        await t.waitForWork([q], Date.now() + 50, new AbortController().signal);
        const ac = new AbortController();
        const waiting = t.waitForWork([q], Date.now() + 60_000, ac.signal);
        await sleep(50);
        await t.release(q, [m.id]);
        await waiting;
        ac.abort();
      }, 10_000);

      it('returns at untilMs when no work comes', async () => {
        const q = newQueue();
        const untilMs = Date.now() + 200;
        await t.waitForWork([q], untilMs, new AbortController().signal);
        // not woken early: nothing was published (tolerance for clock granularity only)
        expect(Date.now()).toBeGreaterThanOrEqual(untilMs - 50);
      });

      it('returns when the signal aborts, and at once when it is aborted already', async () => {
        const q = newQueue();
        const ac = new AbortController();
        const waiting = t.waitForWork([q], Date.now() + 60_000, ac.signal);
        await sleep(50);
        ac.abort();
        await waiting;
        await t.waitForWork([q], Date.now() + 60_000, ac.signal);
      }, 10_000);
    });

    describe('reserve states and leases', () => {
      it('writes STARTED for the first startCount messages and RECEIVED for the prefetched rest', async () => {
        const q = newQueue();
        const [a, b, c] = [msg(q), msg(q), msg(q)];
        await publish(a, b, c);
        const res = await t.reserve(req(q, { max: 3, startCount: 1, workerId: 'w-start' }));
        expect(ids(res.items)).toEqual([a.id, b.id, c.id]);
        expect(await t.getResult(q, a.id)).toMatchObject({ id: a.id, state: 'STARTED', worker: 'w-start' });
        expect(await t.getResult(q, b.id)).toMatchObject({ id: b.id, state: 'RECEIVED', worker: 'w-start' });
        expect(await t.getResult(q, c.id)).toMatchObject({ id: c.id, state: 'RECEIVED' });
        expect(await t.counts(q)).toMatchObject({ ready: 0, reserved: 3 });
      });

      it('redelivers a message whose lease ran out, counting it, then dead-letters it past maxRedeliveries', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        const opts = { leaseMs: 200, maxRedeliveries: 1 };
        const first = await t.reserve(req(q, { ...opts, workerId: 'w-a' }));
        expect(first.items).toEqual([{ id: m.id, raw: m.raw, redeliveries: 0 }]);
        // a live lease is not taken by another worker
        expect((await t.reserve(req(q, { ...opts, workerId: 'w-b' }))).items).toEqual([]);

        await sleep(300);
        const second = await t.reserve(req(q, { ...opts, workerId: 'w-b' }));
        expect(second.items).toEqual([{ id: m.id, raw: m.raw, redeliveries: 1 }]);
        expect(second.dropped).toEqual([]);

        const waiting = t.waitForResult(q, m.id, 10_000);
        await sleep(300);
        const third = await t.reserve(req(q, { ...opts, workerId: 'w-c' }));
        expect(third.items).toEqual([]);
        expect(third.dropped).toEqual([{ id: m.id, raw: m.raw, reason: 'lost' }]);
        const rec = await t.getResult(q, m.id);
        expect(rec).toMatchObject({ id: m.id, state: 'FAILURE', error: { type: 'WorkerLostError' } });
        expect(await waiting).toMatchObject({ id: m.id, state: 'FAILURE' });
        const dead = await t.listDead(q);
        expect(dead).toHaveLength(1);
        expect(dead[0]).toMatchObject({ id: m.id, raw: m.raw, reason: 'lost' });
        expect(typeof dead[0].at).toBe('number');
        expect(await t.counts(q)).toEqual({ ready: 0, delayed: 0, reserved: 0, dead: 1, rejected: 0 });
      });

      it('renew keeps a lease alive past its original expiry and reports unknown ids as lost', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q, { leaseMs: 200, workerId: 'w-a' }));
        await sleep(100);
        expect(await t.renew(q, [m.id, 'no-such-id'], 2_000)).toEqual(['no-such-id']);
        await sleep(250); // past the first lease
        const other = await t.reserve(req(q, { leaseMs: 200, workerId: 'w-b' }));
        expect(other.items).toEqual([]);
        expect(other.dropped).toEqual([]);
        expect(await t.counts(q)).toMatchObject({ reserved: 1, ready: 0 });
        expect(await t.renew(q, [m.id], 2_000)).toEqual([]);
        expect(await t.renew(q, [], 2_000)).toEqual([]);
        await t.ack(update(q, m.id, record(m.id, TaskState.SUCCESS)));
        expect(await t.renew(q, [m.id], 2_000)).toEqual([m.id]);
      });

      it('setState stores a non-terminal record', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        await t.setState(q, record(m.id, TaskState.PROGRESS, { meta: { done: 3, of: 10 } }), TTL);
        expect(await t.getResult(q, m.id)).toMatchObject({ id: m.id, state: 'PROGRESS', meta: { done: 3, of: 10 } });
      });

      it('expires result records after their time to live', async () => {
        const q = newQueue();
        await t.setState(q, record('short-lived', TaskState.STARTED), 100);
        expect(await t.getResult(q, 'short-lived')).toMatchObject({ state: 'STARTED' });
        await sleep(250);
        expect(await t.getResult(q, 'short-lived')).toBeNull();
      });
    });

    describe('ack', () => {
      it('removes the held message, stores the record and wakes a concurrent waitForResult', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        const waiting = t.waitForResult(q, m.id, 10_000);
        await sleep(50);
        const res = await t.ack(
          update(q, m.id, record(m.id, TaskState.SUCCESS, { result: { answer: 42 }, task: 'contract.task' })),
        );
        expect(res).toBeUndefined();
        expect(await waiting).toMatchObject({ id: m.id, state: 'SUCCESS', result: { answer: 42 } });
        expect(await t.getResult(q, m.id)).toMatchObject({
          id: m.id,
          state: 'SUCCESS',
          result: { answer: 42 },
          task: 'contract.task',
        });
        expect(await t.counts(q)).toMatchObject({ reserved: 0, ready: 0 });
        // a result already final is returned at once
        expect(await t.waitForResult(q, m.id, 10_000)).toMatchObject({ state: 'SUCCESS' });
      });

      it('finds a record and wakes a waiter across several candidate queues', async () => {
        const [a, b] = [newQueue(), newQueue()];
        const m = msg(b);
        await publish(m);
        expect(await t.findResult([a, b], m.id)).toBeNull();
        await t.reserve(req(b));
        const waiting = t.waitForResult([a, b], m.id, 10_000);
        await sleep(50);
        await t.ack(update(b, m.id, record(m.id, TaskState.SUCCESS, { result: 7 })));
        expect(await waiting).toMatchObject({ id: m.id, state: 'SUCCESS', result: 7 });
        expect(await t.findResult([a, b], m.id)).toMatchObject({ queue: b, record: { state: 'SUCCESS', result: 7 } });
        expect(await t.waitForResult([a, b], m.id, 10_000)).toMatchObject({ state: 'SUCCESS' });
      });

      it('with record null deletes the result', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'STARTED' });
        await t.ack(update(q, m.id, null));
        expect(await t.getResult(q, m.id)).toBeNull();
        expect(await t.counts(q)).toMatchObject({ reserved: 0 });
      });

      it('with next reserves the next message in the same call', async () => {
        const q = newQueue();
        const a = msg(q);
        const b = msg(q);
        const c = msg(q);
        await publish(a, b, c);
        expect(ids((await t.reserve(req(q, { max: 1 }))).items)).toEqual([a.id]);
        const next = await t.ack(
          update(q, a.id, record(a.id, TaskState.SUCCESS)),
          req(q, { max: 1, startCount: 1, workerId: 'w-next' }),
        );
        expect(next).toBeDefined();
        expect(next?.items).toEqual([{ id: b.id, raw: b.raw, redeliveries: 0 }]);
        expect(await t.getResult(q, a.id)).toMatchObject({ state: 'SUCCESS' });
        expect(await t.getResult(q, b.id)).toMatchObject({ state: 'STARTED', worker: 'w-next' });
        expect(await t.counts(q)).toMatchObject({ ready: 1, reserved: 1 });
      });

      it('with next for another queue reserves from that queue', async () => {
        const q1 = newQueue();
        const q2 = newQueue();
        const a = msg(q1);
        const b = msg(q2);
        const c = msg(q1);
        await publish(a, b, c);
        expect(ids((await t.reserve(req(q1, { max: 1 }))).items)).toEqual([a.id]);
        const next = await t.ack(update(q1, a.id, record(a.id, TaskState.SUCCESS)), req(q2, { max: 1 }));
        expect(ids(next?.items ?? [])).toEqual([b.id]);
        expect(await t.counts(q1)).toMatchObject({ ready: 1, reserved: 0 });
        expect(await t.counts(q2)).toMatchObject({ ready: 0, reserved: 1 });
      });
    });

    describe('retry', () => {
      it('with dueAt in the future: stores RETRY and holds the next attempt back until due', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        const again = msg(q, { id: m.id, retries: 1 });
        const dueAt = Date.now() + 300;
        await t.retry(
          {
            ...update(q, m.id, null),
            record: record(m.id, TaskState.RETRY, { retries: 1, error: { type: 'Error', message: 'boom' } }),
          },
          again.raw,
          again.priority,
          dueAt,
        );
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'RETRY', retries: 1, error: { message: 'boom' } });
        expect(await t.counts(q)).toMatchObject({ ready: 0, delayed: 1, reserved: 0 });
        const early = await t.reserve(req(q));
        expect(early.items).toEqual([]);
        expect(early.nextWakeAt).toBe(dueAt);
        await sleepUntil(dueAt + 20);
        const late = await t.reserve(req(q));
        expect(late.items).toEqual([{ id: m.id, raw: again.raw, redeliveries: 0 }]);
      });

      it('with dueAt now: the next attempt is reservable at once', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        const again = msg(q, { id: m.id, retries: 1 });
        await t.retry(
          { ...update(q, m.id, null), record: record(m.id, TaskState.RETRY, { retries: 1 }) },
          again.raw,
          again.priority,
          Date.now(),
        );
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'RETRY' });
        const res = await t.reserve(req(q));
        expect(res.items).toEqual([{ id: m.id, raw: again.raw, redeliveries: 0 }]);
      });
    });

    describe('fail, reject, release', () => {
      it('fail stores the FAILURE record, wakes waiters and keeps the message in the dead-letter list', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        const waiting = t.waitForResult(q, m.id, 10_000);
        const error = { type: 'TypeError', message: 'bad input', stack: 'TypeError: bad input\n    at task' };
        await t.fail({ ...update(q, m.id, null), record: record(m.id, TaskState.FAILURE, { error }) }, m.raw);
        expect(await waiting).toMatchObject({ state: 'FAILURE', error });
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'FAILURE', error });
        const dead = await t.listDead(q);
        expect(dead).toHaveLength(1);
        expect(dead[0]).toMatchObject({ id: m.id, raw: m.raw, reason: 'failed', error });
        expect(await t.counts(q)).toEqual({ ready: 0, delayed: 0, reserved: 0, dead: 1, rejected: 0 });
      });

      it('lists dead letters newest first, with paging', async () => {
        const q = newQueue();
        const ms = [msg(q), msg(q), msg(q)];
        await publish(...ms);
        await t.reserve(req(q));
        for (const m of ms)
          await t.fail(
            {
              ...update(q, m.id, null),
              record: record(m.id, TaskState.FAILURE, { error: { type: 'Error', message: m.id } }),
            },
            m.raw,
          );
        expect(ids(await t.listDead(q))).toEqual([ms[2].id, ms[1].id, ms[0].id]);
        expect(ids(await t.listDead(q, 1, 1))).toEqual([ms[1].id]);
        expect(ids(await t.listDead(q, 1))).toEqual([ms[1].id, ms[0].id]);
        expect(await t.listDead(q, 5, 10)).toEqual([]);
      });

      it('reject parks the message with its reason and removes it from the held set', async () => {
        const q = newQueue();
        const a = msg(q);
        const b = msg(q);
        await publish(a, b);
        await t.reserve(req(q));
        expect(await t.counts(q)).toMatchObject({ reserved: 2 });
        await t.reject(q, a.id, a.raw, 'unknown task');
        await t.reject(q, b.id, b.raw, 'malformed');
        const rejected = await t.listRejected(q);
        expect(rejected).toHaveLength(2);
        expect(rejected[0]).toMatchObject({ id: b.id, raw: b.raw, reason: 'malformed' });
        expect(rejected[1]).toMatchObject({ id: a.id, raw: a.raw, reason: 'unknown task' });
        expect(typeof rejected[0].at).toBe('number');
        expect(await t.listRejected(q, 1, 1)).toEqual([rejected[1]]);
        expect(await t.counts(q)).toEqual({ ready: 0, delayed: 0, reserved: 0, dead: 0, rejected: 2 });
        expect(await t.listDead(q)).toEqual([]);
      });

      it('release gives held messages back to the front of the ready lists, in order', async () => {
        const q = newQueue();
        const [a, b, c] = [msg(q), msg(q), msg(q)];
        await publish(a, b, c);
        expect(ids((await t.reserve(req(q, { max: 2 }))).items)).toEqual([a.id, b.id]);
        await t.release(q, [a.id, b.id]);
        expect(await t.counts(q)).toMatchObject({ ready: 3, reserved: 0 });
        await t.release(q, []);
        await t.release(q, ['no-such-id']);
        expect(ids((await t.reserve(req(q))).items)).toEqual([a.id, b.id, c.id]);
      });

      it('release keeps the priority of each message', async () => {
        const q = newQueue();
        const hi = msg(q, { priority: 8 });
        const lo = msg(q, { priority: 2 });
        await publish(hi, lo);
        await t.reserve(req(q));
        await t.release(q, [lo.id, hi.id]);
        expect(ids((await t.reserve(req(q))).items)).toEqual([hi.id, lo.id]);
      });
    });

    describe('revoke and expires', () => {
      it('a revoked ready message is dropped at reserve with reason revoked, and its state is REVOKED', async () => {
        const q = newQueue();
        const m = msg(q);
        const other = msg(q);
        await publish(m, other);
        const waiting = t.waitForResult(q, m.id, 10_000);
        await t.revoke(
          q,
          m.id,
          record(m.id, TaskState.REVOKED, { error: { type: 'TaskRevokedError', message: 'revoked' } }),
          TTL,
        );
        expect(await waiting).toMatchObject({ state: 'REVOKED' });
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'REVOKED' });
        const res = await t.reserve(req(q));
        expect(ids(res.items)).toEqual([other.id]);
        expect(res.dropped).toEqual([{ id: m.id, raw: m.raw, reason: 'revoked' }]);
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'REVOKED' });
        expect(await t.counts(q)).toMatchObject({ ready: 0, reserved: 1 });
      });

      it('a revoked delayed message is removed at once', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish({ ...m, dueAt: Date.now() + 60_000 });
        expect(await t.counts(q)).toMatchObject({ delayed: 1 });
        await t.revoke(q, m.id, record(m.id, TaskState.REVOKED), TTL);
        expect(await t.counts(q)).toMatchObject({ delayed: 0, ready: 0 });
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'REVOKED' });
        const res = await t.reserve(req(q));
        expect(res).toEqual({ items: [], dropped: [], nextWakeAt: null });
      });

      it('revoking a task that succeeded leaves its record unchanged', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        await t.ack(update(q, m.id, record(m.id, TaskState.SUCCESS, { result: 'done' })));
        await t.revoke(q, m.id, record(m.id, TaskState.REVOKED), TTL);
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'SUCCESS', result: 'done' });
      });

      it('revoking a task that failed leaves its record unchanged', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        await t.fail(
          {
            ...update(q, m.id, null),
            record: record(m.id, TaskState.FAILURE, { error: { type: 'Error', message: 'x' } }),
          },
          m.raw,
        );
        await t.revoke(q, m.id, record(m.id, TaskState.REVOKED), TTL);
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'FAILURE' });
      });

      it('revoking a running task whose progress meta mentions a final state still revokes it', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        await t.setState(q, record(m.id, TaskState.PROGRESS, { meta: { state: 'SUCCESS', step: 'FAILURE' } }), TTL);
        await t.revoke(q, m.id, record(m.id, TaskState.REVOKED), TTL);
        expect(await t.getResult(q, m.id)).toMatchObject({ state: 'REVOKED' });
      });

      it('a message past its expires is dropped with reason expired and a REVOKED record', async () => {
        const q = newQueue();
        const old = msg(q, { expires: Date.now() - 1_000 });
        const fresh = msg(q, { expires: Date.now() + 60_000 });
        await publish(old, fresh);
        const waiting = t.waitForResult(q, old.id, 10_000);
        const res = await t.reserve(req(q));
        expect(ids(res.items)).toEqual([fresh.id]);
        expect(res.dropped).toEqual([{ id: old.id, raw: old.raw, reason: 'expired' }]);
        const rec = await t.getResult(q, old.id);
        expect(rec).toMatchObject({
          id: old.id,
          state: 'REVOKED',
          error: { type: 'TaskRevokedError', message: 'expired' },
        });
        expect(await waiting).toMatchObject({ state: 'REVOKED' });
      });
    });

    describe('results', () => {
      it('waitForResult returns null after its timeout when no final state arrives', async () => {
        const q = newQueue();
        expect(await t.waitForResult(q, 'never-published', 200)).toBeNull();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        expect(await t.waitForResult(q, m.id, 200)).toBeNull(); // STARTED is not final
      });

      it('getResult of an unknown id is null', async () => {
        expect(await t.getResult(newQueue(), 'unknown')).toBeNull();
      });

      it('forget deletes the result', async () => {
        const q = newQueue();
        const m = msg(q);
        await publish(m);
        await t.reserve(req(q));
        await t.ack(update(q, m.id, record(m.id, TaskState.SUCCESS, { result: 1 })));
        expect(await t.getResult(q, m.id)).not.toBeNull();
        await t.forget(q, m.id);
        expect(await t.getResult(q, m.id)).toBeNull();
        await t.forget(q, 'unknown');
      });
    });

    describe('counts and purge', () => {
      it('counts ready, delayed, reserved, dead and rejected messages', async () => {
        const q = newQueue();
        expect(await t.counts(q)).toEqual({ ready: 0, delayed: 0, reserved: 0, dead: 0, rejected: 0 });
        const [a, b, c, d, e] = [
          msg(q, { priority: 9 }),
          msg(q, { priority: 8 }),
          msg(q, { priority: 7 }),
          msg(q, { priority: 1 }),
          msg(q, { priority: 0 }),
        ];
        await publish(a, b, c, d, e, { ...msg(q), dueAt: Date.now() + 60_000 });
        await t.reserve(req(q, { max: 3 }));
        await t.fail({ ...update(q, a.id, null), record: record(a.id, TaskState.FAILURE) }, a.raw);
        await t.reject(q, b.id, b.raw, 'malformed');
        expect(await t.counts(q)).toEqual({ ready: 2, delayed: 1, reserved: 1, dead: 1, rejected: 1 });
      });

      it('purge empties a queue and leaves the others alone', async () => {
        const q = newQueue();
        const keep = newQueue();
        const [a, b, c] = [msg(q), msg(q), msg(q)];
        const k = msg(keep);
        await publish(a, b, c, k, { ...msg(q), dueAt: Date.now() + 60_000 });
        await t.reserve(req(q, { max: 2 }));
        await t.fail({ ...update(q, a.id, null), record: record(a.id, TaskState.FAILURE) }, a.raw);
        await t.reject(q, b.id, b.raw, 'malformed');
        await t.revoke(q, c.id, record(c.id, TaskState.REVOKED), TTL);
        await t.purge(q);
        expect(await t.counts(q)).toEqual({ ready: 0, delayed: 0, reserved: 0, dead: 0, rejected: 0 });
        expect(await t.getResult(q, a.id)).toBeNull();
        expect(await t.getResult(q, c.id)).toBeNull();
        expect(await t.listDead(q)).toEqual([]);
        expect(await t.listRejected(q)).toEqual([]);
        expect(await t.reserve(req(q))).toEqual({ items: [], dropped: [], nextWakeAt: null });
        // after a purge the queue works as new; a message with a revoked id is not dropped
        await publish(c);
        expect(ids((await t.reserve(req(q))).items)).toEqual([c.id]);
        expect(await t.counts(keep)).toMatchObject({ ready: 1 });
      });
    });

    describe('ping and close', () => {
      it('ping returns a round-trip time in ms', async () => {
        const ms = await t.ping();
        expect(typeof ms).toBe('number');
        expect(ms).toBeGreaterThanOrEqual(0);
      });

      it('close ends pending waits: waitForWork resolves and waitForResult resolves null', async () => {
        const own = await make();
        try {
          const q = newQueue();
          const work = own.transport.waitForWork([q], Date.now() + 60_000, new AbortController().signal);
          const result = own.transport.waitForResult(q, 'pending', 60_000);
          await sleep(50);
          await own.transport.close();
          await expect(work).resolves.toBeUndefined();
          await expect(result).resolves.toBeNull();
          await own.transport.close(); // idempotent
        } finally {
          await own.cleanup();
        }
      }, 10_000);
    });

    describe('replay and delete parked entries', () => {
      /** Publishes, reserves and dead-letters each message (after `retries` retries), oldest first. */
      const deadLetter = async (q: string, ms: Msg[]) => {
        await publish(...ms);
        await t.reserve(req(q));
        for (const m of ms)
          await t.fail(
            {
              ...update(q, m.id, null),
              record: record(m.id, TaskState.FAILURE, { error: { type: 'E', message: m.id } }),
            },
            m.raw,
          );
      };

      it('replays selected dead letters as fresh deliveries: retries 0, no expires, result cleared, oldest first', async () => {
        const q = newQueue();
        const [a, b, c] = [msg(q, { retries: 3 }), msg(q, { retries: 2, expires: Date.now() - 1000 }), msg(q)];
        await deadLetter(q, [a, b, c]);
        expect(await t.getResult(q, a.id)).toMatchObject({ state: 'FAILURE' });
        const woken = t.waitForWork([q], Date.now() + 10_000, new AbortController().signal);
        expect(await t.parked('replay', q, 'dead', [b.id, a.id, 'no-such-id'])).toBe(2);
        await woken;
        expect(ids(await t.listDead(q))).toEqual([c.id]);
        expect(await t.getResult(q, a.id)).toBeNull();
        expect(await t.getResult(q, c.id)).toMatchObject({ state: 'FAILURE' });
        expect(await t.counts(q)).toEqual({ ready: 2, delayed: 0, reserved: 0, dead: 1, rejected: 0 });
        const { items, dropped } = await t.reserve(req(q));
        expect(dropped).toEqual([]); // b's past `expires` was dropped with the replay
        expect(ids(items)).toEqual([a.id, b.id]);
        for (const it of items) {
          const m = JSON.parse(it.raw) as { retries: number; expires?: number; args: unknown[] };
          expect(m.retries).toBe(0);
          expect(m.expires).toBeUndefined();
          expect(m.args).toEqual([1, 'two', { three: 3 }]);
        }
      });

      it('replays all, keeps priorities, and answers 0 when there is nothing to take', async () => {
        const q = newQueue();
        const lo = msg(q, { priority: 1 });
        const hi = msg(q, { priority: 9 });
        await deadLetter(q, [lo, hi]);
        expect(await t.parked('replay', q, 'dead', 'all')).toBe(2);
        expect(await t.listDead(q)).toEqual([]);
        expect(ids((await t.reserve(req(q))).items)).toEqual([hi.id, lo.id]);
        expect(await t.parked('replay', q, 'dead', 'all')).toBe(0);
        expect(await t.parked('replay', q, 'dead', [])).toBe(0);
        expect(await t.parked('delete', newQueue(), 'rejected', 'all')).toBe(0);
      });

      it('deletes selected or all entries without running anything', async () => {
        const q = newQueue();
        const [a, b, c] = [msg(q), msg(q), msg(q)];
        await deadLetter(q, [a, b, c]);
        expect(await t.parked('delete', q, 'dead', [b.id])).toBe(1);
        expect(ids(await t.listDead(q))).toEqual([c.id, a.id]);
        expect(await t.getResult(q, b.id)).toMatchObject({ state: 'FAILURE' }); // the record stays until its TTL
        expect(await t.parked('delete', q, 'dead', 'all')).toBe(2);
        expect(await t.counts(q)).toEqual({ ready: 0, delayed: 0, reserved: 0, dead: 0, rejected: 0 });
      });

      it('keeps the order of a long list when it takes a few entries out of it', async () => {
        const q = newQueue();
        const ms = Array.from({ length: 1200 }, () => msg(q));
        // fail() of messages nobody holds parks them just the same
        for (const m of ms) await t.fail({ ...update(q, m.id, null), record: record(m.id, TaskState.FAILURE) }, m.raw);
        expect(await t.parked('replay', q, 'dead', [ms[7].id, ms[1100].id])).toBe(2);
        const left = ms.filter((_, i) => i !== 7 && i !== 1100).reverse();
        expect(ids(await t.listDead(q, 0, 2000))).toEqual(left.map((m) => m.id));
        expect(ids((await t.reserve(req(q))).items)).toEqual([ms[7].id, ms[1100].id]);
      });

      it('replays and deletes rejected messages, an unparsable one included', async () => {
        const q = newQueue();
        const [a, b] = [msg(q), msg(q)];
        await publish(a, b);
        await t.reserve(req(q));
        await t.reject(q, a.id, a.raw, 'unknown task');
        await t.reject(q, b.id, b.raw, 'unknown task');
        await t.publish([{ queue: q, id: 'junk', priority: 5, raw: 'not json' }]);
        await t.reserve(req(q));
        await t.reject(q, 'junk', 'not json', 'malformed');
        expect(await t.parked('replay', q, 'rejected', [a.id])).toBe(1);
        expect(ids(await t.listRejected(q))).toEqual(['junk', b.id]);
        expect(await t.parked('delete', q, 'rejected', 'all')).toBe(2);
        expect(await t.listRejected(q)).toEqual([]);
        expect(ids((await t.reserve(req(q))).items)).toEqual([a.id]);
      });
    });
  });
}
