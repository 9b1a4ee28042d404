import type { TestingModule } from '@nestjs/testing';
import {
  AsyncResult,
  GroupResult,
  TaskClient,
  TaskError,
  TaskWorker,
  canvasFromJSON,
  chain,
  chord,
  group,
  type Canvas,
  type TaskHandles,
} from '../../src/index.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { CanvasTasks } from '../fixtures/canvas.service.js';
import { createTaskApp } from '../utils/app.js';
import { BROKERS, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.each(BROKERS)('canvas on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`canvas-${kind}`);
  let app: TestingModule;
  let client: TaskClient;
  let t: TaskHandles<CanvasTasks>;

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: brokerUrl(), prefix, resultExpires: '10m' }, [CanvasTasks]);
    client = app.get(TaskClient);
    t = client.for(CanvasTasks);
    await app.get(TaskWorker).start({ concurrency: 8, lease: '5s' });
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  describe('signatures', () => {
    it('s() is partial: the caller fills the leading arguments', async () => {
      const r = await t.add.s(2).delay(40);
      expect(await r.get({ timeout: 5000 })).toBe(42);
    });

    it('set() applies options, signature() works by name', async () => {
      const sig = client
        .signature<number>('add', [1, 2])
        .set({ queue: 'default', priority: 9, countdown: 50, taskId: `sig-${kind}` });
      const r = (await sig.delay()) as AsyncResult<number>;
      expect(r.id).toBe(`sig-${kind}`);
      expect(await r.get({ timeout: 5000 })).toBe(3);
    });

    it('serializes every canvas type to JSON and back without loss', () => {
      const canvases: Canvas<unknown, unknown>[] = [
        t.add
          .s(1, 2)
          .set({ countdown: 10, priority: 3, headers: { a: 'b' } })
          .link(t.mul.s(2))
          .linkError(t.onError.s('x')),
        t.add.si(1, 2),
        chain(t.add.s(1, 2), t.mul.s(3)),
        group(range(3).map((i) => t.add.s(i, i))),
        chord([t.add.s(1, 1), chain(t.add.s(1, 2), t.mul.s(2))], t.xsum.s()),
        chain(group(t.add.s(1, 1)), chord([t.add.s(2, 2)], t.xsum.s()), t.mul.s(2)),
      ];
      for (const c of canvases) {
        const json = JSON.parse(JSON.stringify(c));
        expect(canvasFromJSON(json).toJSON()).toEqual(c.toJSON());
      }
      expect(() => canvasFromJSON({ type: 'nope' })).toThrow(/canvas.type/);
      expect(() =>
        canvasFromJSON({ type: 'chain', steps: [{ type: 'signature', task: 'add', args: [() => 1] }] }),
      ).toThrow(/function/);
    });

    it('a stored signature can be rebuilt, bound and applied', async () => {
      const stored = JSON.stringify(chain(t.add.s(4, 4), t.mul.s(8)));
      const r = await canvasFromJSON(JSON.parse(stored)).bind(client).delay();
      expect(await r.get({ timeout: 5000 })).toBe(64);
    });
  });

  describe('chain', () => {
    it("Celery's example: chain(add.s(4, 4), mul.s(8)) gives 64", async () => {
      const r = await chain(t.add.s(4, 4), t.mul.s(8)).delay();
      expect(await r.get({ timeout: 5000 })).toBe(64);
      const parent = (r as AsyncResult).parent as AsyncResult;
      expect(await parent.get({ timeout: 5000 })).toBe(8);
    });

    it('immutable steps ignore the previous result', async () => {
      const r = await chain(t.add.s(1, 1), t.add.si(10, 10), t.mul.s(2)).delay();
      expect(await r.get({ timeout: 5000 })).toBe(40);
    });

    it("a failure stops the chain and reaches the caller as that task's error", async () => {
      const tag = `chain-fail-${kind}`;
      const r = await chain(t.add.s(1, 1), t.boom.si('step two failed'), t.collect.s(tag)).delay();
      const err = await r.get({ timeout: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TaskError);
      expect(err).toMatchObject({ type: 'RangeError', remoteMessage: 'step two failed' });
      expect(CanvasTasks.bodyRuns.get(tag)).toBeUndefined();
    });

    it('carries parent and root ids, and lists children', async () => {
      const r = (await chain(t.ids.si(), t.ids.s(), t.ids.s()).delay()) as AsyncResult<{
        id: string;
        parentId: string;
        rootId: string;
      }>;
      const third = await r.get({ timeout: 5000 });
      const second = r.parent as AsyncResult<{ id: string; parentId: string; rootId: string }>;
      const first = second.parent as AsyncResult<{ id: string; rootId?: string }>;
      const [s, f] = [await second.get(), await first.get()];
      expect(third.parentId).toBe(s.id);
      expect(s.parentId).toBe(f.id);
      expect(new Set([third.rootId, s.rootId, f.rootId ?? f.id])).toEqual(new Set([f.id]));
      expect((await first.children()).map((c) => c.id)).toEqual([second.id]);
    });

    it('revoking a workflow revokes the tasks not yet started', async () => {
      const tag = `revoked-chain-${kind}`;
      const r = await chain(t.add.s(1, 1).set({ countdown: 300 }), t.collect.s(tag)).delay();
      await r.revoke();
      expect(await r.state()).toBe('REVOKED');
      expect(await (r.parent as AsyncResult).state()).toBe('REVOKED');
      await new Promise((res) => setTimeout(res, 500));
      expect(CanvasTasks.bodyRuns.get(tag)).toBeUndefined();
    });
  });

  describe('group', () => {
    it("Celery's example: group(add.s(i, i) for i in 0..9) gives [0, 2, ..., 18]", async () => {
      const r = (await group(range(10).map((i) => t.add.s(i, i))).delay()) as GroupResult<number[]>;
      expect(r).toBeInstanceOf(GroupResult);
      expect(await r.get({ timeout: 5000 })).toEqual(range(10).map((i) => i * 2));
      expect(await r.completedCount()).toBe(10);
      expect(await r.ready()).toBe(true);
      expect(await r.successful()).toBe(true);
      expect(await r.failed()).toBe(false);
    });

    it('reports a failed member', async () => {
      const r = (await group(t.add.s(1, 1), t.boom.s('member failed')).delay()) as GroupResult;
      await expect(r.get({ timeout: 5000 })).rejects.toMatchObject({ remoteMessage: 'member failed' });
      expect(await r.failed()).toBe(true);
      expect(await r.completedCount()).toBe(1);
    });

    it('revokes its members', async () => {
      const r = (await group(
        t.add.s(1, 1).set({ countdown: 1000 }),
        t.add.s(2, 2).set({ countdown: 1000 }),
      ).delay()) as GroupResult;
      await r.revoke();
      expect(await r.ready()).toBe(true);
      expect(await r.successful()).toBe(false);
    });

    it('a group of chains', async () => {
      const r = await group(chain(t.add.s(1, 1), t.mul.s(10)), chain(t.add.s(2, 2), t.mul.s(10))).delay();
      expect(await r.get({ timeout: 5000 })).toEqual([20, 40]);
    });
  });

  describe('chord', () => {
    it("Celery's example: chord(add.s(i, i) for i in 0..9, xsum.s()) gives 90", async () => {
      const r = await chord(
        range(10).map((i) => t.add.s(i, i)),
        t.xsum.s(),
      ).delay();
      expect(await r.get({ timeout: 5000 })).toBe(90);
      expect(await ((r as AsyncResult).parent as GroupResult).get()).toEqual(range(10).map((i) => i * 2));
    });

    it('runs the callback with [] for an empty header', async () => {
      const r = await chord([], t.xsum.s()).delay();
      expect(await r.get({ timeout: 5000 })).toBe(0);
    });

    it('waits for header tasks that retry before succeeding', async () => {
      const tag = `retry-chord-${kind}`;
      const r = await chord(
        range(4).map((i) => t.flaky.s(i, `${tag}-${i}`, i % 2 === 0 ? 2 : 0)),
        t.collect.s(tag),
      ).delay();
      expect(await r.get({ timeout: 10_000 })).toEqual({ n: 4, results: [0, 1, 2, 3] });
      expect(CanvasTasks.bodyRuns.get(tag)).toBe(1);
    });

    it("fails with a ChordError carrying the header task's error, and the callback does not run", async () => {
      const tag = `failing-chord-${kind}`;
      const r = await chord([t.add.s(1, 1), t.boom.s('header failed'), t.add.s(2, 2)], t.collect.s(tag)).delay();
      await expect(r.get({ timeout: 5000 })).rejects.toMatchObject({
        type: 'ChordError',
        remoteMessage: expect.stringMatching(/^Dependency \S+ raised RangeError: header failed$/),
      });
      await new Promise((res) => setTimeout(res, 200));
      expect(CanvasTasks.bodyRuns.get(tag)).toBeUndefined();
    });

    it('a chord whose header holds chains', async () => {
      const r = await chord(
        [chain(t.add.s(1, 1), t.mul.s(10)), chain(t.add.s(2, 2), t.mul.s(10)), t.add.s(5, 5)],
        t.xsum.s(),
      ).delay();
      expect(await r.get({ timeout: 5000 })).toBe(70);
    });

    it('a chord in a header (nested chords)', async () => {
      const inner = chord([t.add.s(1, 1), t.add.s(2, 2)], t.xsum.s()); // 6
      const r = await chord([inner, t.add.s(10, 10)], t.xsum.s()).delay(); // 26
      expect(await r.get({ timeout: 5000 })).toBe(26);
    });
  });

  describe('composition', () => {
    it('a group followed by a task in a chain upgrades to a chord', async () => {
      const r = await chain(group(range(4).map((i) => t.add.s(i, i))), t.xsum.s()).delay();
      expect(await r.get({ timeout: 5000 })).toBe(12);
    });

    it('a chain containing a group and a chord', async () => {
      // 1+1=2 → group(add.s(1), add.s(2)) gets 2 → [3, 4] → xsum 7 → chord header each gets 7 → [7+1, 7+2] → xsum 17 → mul 2 = 34
      const r = await chain(
        t.add.s(1, 1),
        group(t.add.s(1), t.add.s(2)),
        t.xsum.s(),
        chord([t.add.s(1), t.add.s(2)], t.xsum.s()),
        t.mul.s(2),
      ).delay();
      expect(await r.get({ timeout: 5000 })).toBe(34);
    });

    it('a chain whose last step is a chord', async () => {
      const r = await chain(t.add.s(2, 3), chord([t.mul.s(2), t.mul.s(3)], t.xsum.s())).delay();
      expect(await r.get({ timeout: 5000 })).toBe(25);
    });

    it("a failure inside a chord in a chain fails the chain's result", async () => {
      const r = await chain(t.add.s(1, 1), chord([t.boom.si('deep')], t.xsum.s()), t.mul.s(2)).delay();
      await expect(r.get({ timeout: 5000 })).rejects.toMatchObject({
        type: 'ChordError',
        remoteMessage: expect.stringContaining('raised RangeError: deep'),
      });
    });
  });

  describe('callbacks', () => {
    it('link runs on success with the result', async () => {
      const sig = t.add.s(2, 2).link(t.mul.s(5));
      const r = (await sig.delay()) as AsyncResult<number>;
      expect(await r.get({ timeout: 5000 })).toBe(4);
      await until(async () => (await r.children()).length === 1, 5000, 'the link to be published');
      const [child] = await r.children();
      expect(await child.get({ timeout: 5000 })).toBe(20);
    });

    it('linkError runs on failure with the failed task id and error', async () => {
      const tag = `errback-${kind}`;
      const r = (await t.boom.s('linked failure').linkError(t.onError.s(tag)).delay()) as AsyncResult;
      await expect(r.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskError);
      await until(() => CanvasTasks.errbacks.some((e) => e.tag === tag), 5000, 'the errback');
      const call = CanvasTasks.errbacks.find((e) => e.tag === tag)!;
      expect(call.id).toBe(r.id);
      expect(call.error).toMatchObject({ type: 'RangeError', message: 'linked failure' });
    });
  });
});
