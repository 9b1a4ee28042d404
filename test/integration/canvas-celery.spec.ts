import type { TestingModule } from '@nestjs/testing';
import fc from 'fast-check';
import {
  AsyncResult,
  GroupResult,
  TaskClient,
  TaskError,
  TaskQueueConfigError,
  TaskWorker,
  canvasFromJSON,
  chain,
  chord,
  group,
  type CanvasJSON,
  type TaskHandles,
} from '../../src/index.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { CanvasTasks, mixValues } from '../fixtures/canvas.service.js';
import { createTaskApp } from '../utils/app.js';
import { evaluate } from '../utils/canvas-reference.js';
import { BROKERS, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

/**
 * Canvas semantics as Celery 5 gives them, worked through the way Celery's own
 * integration suite does (t/integration/test_canvas.py): every expected value
 * below is Celery's answer for the same canvas.
 */

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const TIMEOUT = { timeout: 10_000 };

type Errback = (typeof CanvasTasks.errbacks)[number];
const errbacksOf = (tag: string): Errback[] => CanvasTasks.errbacks.filter((e) => e.tag === tag);
const settle = () => new Promise((r) => setTimeout(r, 300));

describe.each(BROKERS)('canvas, as Celery does it, on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`canvas-celery-${kind}`);
  let app: TestingModule;
  let client: TaskClient;
  let t: TaskHandles<CanvasTasks>;
  const tag = (name: string) => `${name}-${kind}`;

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: brokerUrl(), prefix, resultExpires: '10m', maxMessageBytes: 64 * 1024 }, [
      CanvasTasks,
    ]);
    client = app.get(TaskClient);
    t = client.for(CanvasTasks);
    await app.get(TaskWorker).start({ concurrency: 16, lease: '5s' });
  });

  afterAll(async () => {
    await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  describe('groups at the end of chains inside groups and chord headers', () => {
    it('chain(add, group(add, chain(add, group(add, add))), add) gives 11 and runs each step once', async () => {
      const key = tag('nested-group-chain');
      const r = await chain(
        t.add.si(1, 0),
        group(t.add.si(1, 100), chain(t.count.si(key), group(t.add.si(1, 1000), t.add.si(1, 2000)))),
        t.add.si(1, 10),
      ).delay();
      expect(await r.get(TIMEOUT)).toBe(11);
      await settle();
      expect(CanvasTasks.runs.get(key)).toBe(1);
    });

    it('chord([chain(identity(42), group(identity, identity))], identity) gives [[42, 42]]', async () => {
      const r = await chord([chain(t.identity.s(42), group(t.identity.s(), t.identity.s()))], t.identity.s()).delay();
      expect(await r.get(TIMEOUT)).toEqual([[42, 42]]);
    });

    it('group(chain(identity(42), group(identity, identity))) gives [[42, 42]]: not flattened', async () => {
      const r = await group(chain(t.identity.s(42), group(t.identity.s(), t.identity.s()))).delay();
      expect(await r.get(TIMEOUT)).toEqual([[42, 42]]);
    });

    it('a chain ending in a group, followed by a step, inside a group, at depth 4', async () => {
      // [chain(1 → [2, 3] → 5 → [6, 7] → 13), 100]
      const deep = chain(
        t.identity.s(1),
        group(t.add.s(1), t.add.s(2)),
        t.tsum.s(),
        group(t.add.s(1), chain(t.add.s(2), group(t.identity.s()))),
        t.tsum.s(),
      );
      const r = await group(deep, t.identity.si(100)).delay();
      expect(await r.get(TIMEOUT)).toEqual([13, 100]);
    });
  });

  describe('group unrolling', () => {
    it('group(group(a, b)) is group(a, b)', async () => {
      const r = (await group(group(t.add.si(1, 1), t.add.si(2, 2))).delay()) as GroupResult;
      expect(r.results).toHaveLength(2);
      expect(await r.get(TIMEOUT)).toEqual([2, 4]);
    });

    it('group(x, group(y, group(z, w))) gives [x, y, z, w]', async () => {
      const r = await group(
        t.identity.si('x'),
        group(t.identity.si('y'), group(t.identity.si('z'), t.identity.si('w'))),
      ).delay();
      expect(await r.get(TIMEOUT)).toEqual(['x', 'y', 'z', 'w']);
    });

    it('groups inside a chord header are flattened into it', async () => {
      const r = await chord([group(t.add.si(1, 1), group(t.add.si(2, 2))), t.add.si(3, 3)], t.identity.s()).delay();
      expect(await r.get(TIMEOUT)).toEqual([2, 4, 6]);
    });

    it('a group of one task in a chain is that task', async () => {
      const r = await chain(t.add.si(1, 1), group(t.add.s(10)), t.add.s(100)).delay();
      expect(await r.get(TIMEOUT)).toBe(112);
    });
  });

  describe('groups and chords as chord bodies', () => {
    it('add.si(1, 0) | group(add.s(1), add.s(1)) | group(tsum.s(), tsum.s()) | tsum.s() gives 8', async () => {
      const r = await chain(
        t.add.si(1, 0),
        group(t.add.s(1), t.add.s(1)),
        group(t.tsum.s(), t.tsum.s()),
        t.tsum.s(),
      ).delay();
      expect(await r.get(TIMEOUT)).toBe(8);
    });

    it('a chord whose body is a group gives the list of the members', async () => {
      const r = await chord([t.add.si(1, 1), t.add.si(2, 2)], group(t.tsum.s(), t.identity.s())).delay();
      expect(await r.get(TIMEOUT)).toEqual([6, [2, 4]]);
    });

    it("a chord whose body is a chord hands the header's results to the inner header", async () => {
      const r = await chord([t.add.si(1, 1), t.add.si(2, 2)], chord([t.tsum.s(), t.tsum.s()], t.tsum.s())).delay();
      expect(await r.get(TIMEOUT)).toBe(12);
    });

    it('chords of chains of chords', async () => {
      // inner: chord([1+1, 2+2], tsum) = 6 → +10 = 16; outer: [16, 16 via another path, 3] → tsum 35
      const inner = (n: number) => chain(chord([t.add.si(1, 1), t.add.si(2, 2)], t.tsum.s()), t.add.s(n));
      const r = await chord([inner(10), inner(10), t.identity.si(3)], t.tsum.s()).delay();
      expect(await r.get(TIMEOUT)).toBe(35);
    });

    it('chains of groups and chords at depth 5', async () => {
      // 1 → [2, 3] → chord body group: [tsum 5, tsum 5] → chord([5+1, 5+2] of each…) …
      const c = chain(
        t.identity.si(1),
        group(t.add.s(1), t.add.s(2)), // [2, 3]
        group(t.tsum.s(), chain(t.tsum.s(), t.add.s(1))), // [5, 6]
        chord([t.tsum.s(), chain(t.tsum.s(), group(t.add.s(1), t.add.s(2)), t.tsum.s())], t.tsum.s()), // [11, 25] → 36
        t.add.s(1000),
      );
      expect(await (await c.delay()).get(TIMEOUT)).toBe(1036);
    });
  });

  describe('headers', () => {
    it('an empty header runs the body with []', async () => {
      expect(await (await chord([], t.identity.s()).delay()).get(TIMEOUT)).toEqual([]);
      expect(await (await chord([], group(t.identity.s(), t.tsum.s())).delay()).get(TIMEOUT)).toEqual([[], 0]);
    });

    it('a single-task header gives a list of one', async () => {
      expect(await (await chord([t.add.si(2, 2)], t.identity.s()).delay()).get(TIMEOUT)).toEqual([4]);
    });

    it('a header of 500 tasks keeps its order', async () => {
      const r = await chord(
        range(500).map((i) => t.identity.si(i)),
        t.identity.s(),
      ).delay();
      expect(await r.get({ timeout: 30_000 })).toEqual(range(500));
    });
  });

  describe('parent and root ids', () => {
    it('every task of a nested workflow has the first task as its root, and its predecessor as its parent', async () => {
      const r = (await chain(
        t.ids.si(),
        group(t.ids.s(), chain(t.ids.s(), group(t.ids.s(), t.ids.s()))),
        t.ids.s(),
      ).delay()) as AsyncResult<{ id: string; parentId: string; rootId: string; previous: unknown }>;
      const last = await r.get(TIMEOUT);
      type Ids = { id: string; parentId?: string; rootId?: string; previous?: unknown };
      const header = last.previous as [Ids, [Ids, Ids]];
      const first = header[0].previous as Ids;
      const all = [last, header[0], header[1][0], header[1][1], first];
      expect(new Set(all.map((x) => x.rootId ?? x.id))).toEqual(new Set([first.id]));
      // the header tasks' parent is the first task; the members of the inner group's is the chain's step
      expect(header[0].parentId).toBe(first.id);
      const middle = header[1][0].previous as Ids;
      expect(middle.parentId).toBe(first.id);
      expect(header[1][0].parentId).toBe(middle.id);
      expect(header[1][1].parentId).toBe(middle.id);
    });
  });

  describe('errors and error callbacks', () => {
    it("a header failure fails the chord with a ChordError naming the failed task, and calls the body's errback once", async () => {
      const name = tag('body-errback');
      const failing = t.boom.si('header failed');
      const r = (await chord(
        [t.add.si(1, 1), failing],
        t.identity.s().linkError(t.onError.s(name)),
      ).delay()) as AsyncResult;
      const err = (await r.get(TIMEOUT).catch((e: unknown) => e)) as TaskError;
      expect(err).toBeInstanceOf(TaskError);
      expect(err.type).toBe('ChordError');
      expect(err.remoteMessage).toMatch(/^Dependency \S+ raised RangeError: header failed$/);
      await until(() => errbacksOf(name).length > 0, 5000, 'the errback');
      await settle();
      const calls = errbacksOf(name);
      expect(calls).toHaveLength(1);
      expect(calls[0].id).toBe(r.id);
      expect(calls[0].error.type).toBe('ChordError');
      const failedId = /^Dependency (\S+) raised/.exec(err.remoteMessage)![1];
      expect(await client.result(failedId).state()).toBe('FAILURE');
    });

    it('chord.linkError runs when a header task fails and when the body fails', async () => {
      const header = tag('chord-errback-header');
      const r1 = await chord([t.boom.si('h')], t.identity.s())
        .linkError(t.onError.s(header))
        .delay();
      await expect(r1.get(TIMEOUT)).rejects.toMatchObject({ type: 'ChordError' });
      await until(() => errbacksOf(header).length === 1, 5000, 'the errback on header failure');

      const body = tag('chord-errback-body');
      const r2 = await chord([t.add.si(1, 1)], t.boom.s())
        .linkError(t.onError.s(body))
        .delay();
      await expect(r2.get(TIMEOUT)).rejects.toMatchObject({ type: 'RangeError' });
      await until(() => errbacksOf(body).length === 1, 5000, 'the errback on body failure');
      expect(errbacksOf(body)[0].id).toBe(r2.id);
    });

    it('chain.linkError runs once, for the step that failed', async () => {
      const name = tag('chain-errback');
      const r = await chain(t.add.si(1, 1), t.boom.si('second'), t.add.s(1)).linkError(t.onError.s(name)).delay();
      await expect(r.get(TIMEOUT)).rejects.toMatchObject({ type: 'RangeError', remoteMessage: 'second' });
      await until(() => errbacksOf(name).length === 1, 5000, 'the errback');
      await settle();
      expect(errbacksOf(name)).toHaveLength(1);
      expect(errbacksOf(name)[0].error.message).toBe('second');
      expect(errbacksOf(name)[0].id).toBe(((r as AsyncResult).parent as AsyncResult).id);
    });

    it('group.linkError runs for each member that fails', async () => {
      const name = tag('group-errback');
      const r = await group(t.boom.si('a'), t.add.si(1, 1), t.boom.si('b')).onError(t.onError.s(name)).delay();
      await expect(r.get(TIMEOUT)).rejects.toBeInstanceOf(TaskError);
      await until(() => errbacksOf(name).length === 2, 5000, 'both errbacks');
      expect(
        errbacksOf(name)
          .map((e) => e.error.message)
          .sort(),
      ).toEqual(['a', 'b']);
    });

    it('link on a chain, a group and a chord runs once with its result', async () => {
      const c = (await chain(t.add.si(1, 1), t.add.s(1)).link(t.add.s(100)).delay()) as AsyncResult<number>;
      expect(await c.get(TIMEOUT)).toBe(3);
      await until(async () => (await c.children()).length === 1, 5000, 'the chain link');
      expect(await (await c.children())[0].get(TIMEOUT)).toBe(103);

      const key = tag('group-link');
      const g = await group(t.add.si(1, 1), t.add.si(2, 2))
        .link(chain(t.tsum.s(), t.count.si(key)))
        .delay();
      expect(await g.get(TIMEOUT)).toEqual([2, 4]);
      await until(() => CanvasTasks.runs.get(key) === 1, 5000, 'the group link');
      expect(await client.result(g.id).get(TIMEOUT)).toEqual([2, 4]);

      const h = (await chord([t.add.si(1, 1)], t.tsum.s())
        .link(t.add.s(5))
        .delay()) as AsyncResult<number>;
      expect(await h.get(TIMEOUT)).toBe(2);
      await until(async () => (await h.children()).length === 1, 5000, 'the chord link');
      expect(await (await h.children())[0].get(TIMEOUT)).toBe(7);
    });

    it('a failure deep in a nested chord header fails every enclosing chord and calls their errbacks', async () => {
      const inner = tag('inner-errback');
      const outer = tag('outer-errback');
      const r = await chord(
        [chord([t.boom.si('deep'), t.add.si(1, 1)], t.tsum.s().linkError(t.onError.s(inner))), t.add.si(2, 2)],
        t.tsum.s().linkError(t.onError.s(outer)),
      ).delay();
      await expect(r.get(TIMEOUT)).rejects.toMatchObject({
        type: 'ChordError',
        remoteMessage: expect.stringContaining('ChordError: Dependency'),
      });
      await until(() => errbacksOf(inner).length === 1 && errbacksOf(outer).length === 1, 5000, 'both errbacks');
    });

    it('a failure inside a group at the end of a chain in a chord header fails the chord', async () => {
      const name = tag('join-errback');
      const r = await chord(
        [chain(t.identity.s(1), group(t.identity.s(), t.boom.s())), t.add.si(1, 1)],
        t.identity.s().linkError(t.onError.s(name)),
      ).delay();
      await expect(r.get(TIMEOUT)).rejects.toMatchObject({ type: 'ChordError' });
      await until(() => errbacksOf(name).length === 1, 5000, 'the errback');
    });

    it("a chord whose body is a group calls the body members' errbacks on a header failure", async () => {
      const name = tag('group-body-errback');
      const r = await chord([t.boom.si('x')], group(t.identity.s(), t.tsum.s()))
        .linkError(t.onError.s(name))
        .delay();
      await expect(r.get(TIMEOUT)).rejects.toMatchObject({ type: 'ChordError' });
      await until(() => errbacksOf(name).length > 0, 5000, 'the errback');
      await settle();
      expect(errbacksOf(name)).toHaveLength(1);
    });
  });

  describe('what cannot be continued', () => {
    it('delay() refuses a workflow with a step that could never be published, and publishes nothing', async () => {
      const key = tag('refused');
      const bad = chain(
        t.count.si(key),
        group(t.add.s(1), chain(t.add.s(2), chord([t.add.s(3).set({ priority: 42 })], t.tsum.s()))),
      );
      await expect(bad.delay()).rejects.toThrow(TaskQueueConfigError);
      await expect(bad.delay()).rejects.toThrow(/priority/);
      await settle();
      expect(CanvasTasks.runs.get(key)).toBeUndefined();
    });

    it('a continuation too big to publish fails the workflow at once, and the task that succeeded runs once', async () => {
      const key = tag('too-big');
      const name = tag('too-big-errback');
      const r = await chain(
        t.big.si(key, 100 * 1024),
        t.identity.s().linkError(t.onError.s(name)),
        t.add.si(1, 1),
      ).delay();
      const err = (await r.get(TIMEOUT).catch((e: unknown) => e)) as TaskError;
      expect(err).toBeInstanceOf(TaskError);
      expect(err.type).toBe('InvalidMessageError');
      const first = (r as AsyncResult).parent!.parent as AsyncResult<string>;
      expect(await first.get(TIMEOUT)).toHaveLength(100 * 1024);
      await until(() => errbacksOf(name).length === 1, 5000, 'the errback of the step that could not be published');
      await new Promise((res) => setTimeout(res, 1000));
      expect(CanvasTasks.runs.get(key)).toBe(1);
    });
  });

  describe('property: every canvas delay() accepts completes with the reference value', () => {
    const reference = {
      mix: (...args: unknown[]) => mixValues(args),
      boom: () => {
        throw new RangeError('boom');
      },
    };
    // canvases are generated as JSON (readable counterexamples), then bound to the client
    const leaf = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean()) },
      { weight: 1, arbitrary: fc.constant('boom' as const) },
    );
    const { node } = fc.letrec<{ node: CanvasJSON }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', maxDepth: 4, withCrossShrink: true },
        leaf.map((s): CanvasJSON =>
          s === 'boom'
            ? { type: 'signature', task: 'boom', args: ['boom'], immutable: true }
            : { type: 'signature', task: 'mix', args: [s[0]], ...(s[1] ? { immutable: true } : {}) },
        ),
        fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((steps): CanvasJSON => ({ type: 'chain', steps })),
        // an empty group's result is [] whatever came before it, so it is left to the example tests
        fc
          .array(tie('node'), { minLength: 1, maxLength: 3 })
          .map((members): CanvasJSON => ({ type: 'group', members })),
        fc
          .tuple(fc.array(tie('node'), { minLength: 0, maxLength: 3 }), tie('node'))
          .map(([header, body]): CanvasJSON => ({ type: 'chord', header, body })),
      ),
    }));
    const depth = (j: CanvasJSON): number => {
      const kids =
        j.type === 'chain' ? j.steps : j.type === 'group' ? j.members : j.type === 'chord' ? [...j.header, j.body] : [];
      return 1 + Math.max(0, ...kids.map(depth));
    };

    it('random chains, groups and chords up to depth 5', async () => {
      const seen = { values: 0, failures: 0, refused: 0, deepest: 0 };
      await fc.assert(
        fc.asyncProperty(node, async (json) => {
          seen.deepest = Math.max(seen.deepest, depth(json));
          const canvas = canvasFromJSON(json).bind(client);
          let expected: { value: unknown } | { error: true };
          try {
            expected = { value: evaluate(json, reference, [7]) };
          } catch {
            expected = { error: true };
          }
          let handle: { get(o: object): Promise<unknown> };
          try {
            handle = (await canvas.applyAsync([7])) as typeof handle;
          } catch (err) {
            expect(err).toBeInstanceOf(TaskQueueConfigError);
            seen.refused++;
            return;
          }
          const outcome = await handle.get({ timeout: 15_000 }).then(
            (value) => ({ value }),
            (err: unknown) => {
              if (!(err instanceof TaskError)) throw err; // a timeout is a hang: fail the property
              return { error: true as const };
            },
          );
          expect(outcome).toEqual(expected);
          if ('value' in outcome) seen.values++;
          else seen.failures++;
        }),
        { numRuns: kind === 'memory' ? 300 : 150 },
      );
      // the runs covered what they should: values and failures, deep canvases; nothing is refused now
      expect(seen).toMatchObject({ refused: 0, deepest: 5 });
      expect(seen.values).toBeGreaterThan(10);
      expect(seen.failures).toBeGreaterThan(10);
    }, 90_000);
  });
});
