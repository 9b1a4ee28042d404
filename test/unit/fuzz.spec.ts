import fc from 'fast-check';
import { parseRateLimit } from '../../src/discovery/task-queue.explorer.js';
import { InvalidMessageError, TaskQueueConfigError, TaskQueueError, canvasFromJSON } from '../../src/index.js';
import { encodeMessage, PROTOCOL_VERSION, toMs } from '../../src/protocol/index.js';
import { decodeMessage } from '../../src/protocol/validate.js';
import { resolveModuleOptions, resolveWorkerOptions } from '../../src/task-queue.options.js';
import { parseBrokerUrl } from '../../src/transport/redis/connection.js';

/**
 * Property-based fuzzing of what reads untrusted or user input: the message
 * decoder and every option parser. Each either accepts its input or throws the
 * library's own error naming what was wrong; nothing else escapes (no
 * TypeError, no RangeError, no prototype pollution). 100,000 cases each by
 * default (FUZZ_RUNS to change it).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);

/** Runs `fn`; passes when it returns or throws an instance of `allowed`. */
function onlyThrows(allowed: new (...a: never[]) => Error, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof allowed)) throw new Error(`threw ${String(err)} (${(err as Error)?.constructor?.name})`);
  }
}

const json = fc.jsonValue({ maxDepth: 4 });
/** A message-like object: the real fields, each sometimes of a wrong type, plus odd extra keys. */
const messageLike = fc.record(
  {
    id: fc.oneof(fc.uuid(), fc.string(), json),
    priority: fc.oneof(fc.integer({ min: -2, max: 12 }), json),
    queue: fc.oneof(fc.constant('default'), fc.string(), json),
    task: fc.oneof(fc.constant('t.x'), fc.string(), json),
    retries: fc.oneof(fc.nat(5), json),
    created: fc.oneof(fc.nat(), json),
    eta: fc.oneof(fc.nat(), json),
    expires: fc.oneof(fc.nat(), json),
    args: fc.oneof(fc.array(json, { maxLength: 4 }), json),
    headers: json,
    chain: json,
    chord: json,
    link: json,
    v: fc.oneof(fc.constant(PROTOCOL_VERSION), json),
    __proto__: json,
    constructor: json,
  },
  { requiredKeys: [] },
);

describe('fuzzing what reads untrusted input', () => {
  afterEach(() => {
    // nothing reached Object.prototype
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodeMessage: random text, random JSON, message-like objects and prototype keys', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          json.map((v) => JSON.stringify(v)),
          messageLike.map((m) => JSON.stringify(m)),
          messageLike.map((m) => JSON.stringify(m).replace('{', '{"__proto__":{"polluted":1},')),
        ),
        (raw) => onlyThrows(InvalidMessageError, () => decodeMessage(raw, 64 * 1024)),
      ),
      { numRuns: RUNS },
    );
  });

  it('decodeMessage: deeply nested and oversized messages are refused, not crashed on', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const msg = (args: string) =>
      encodeMessage({ id: 'x', priority: 5, queue: 'q', task: 't', retries: 0, created: 1, args: [], v: 1 }).replace(
        '"args":[]',
        `"args":${args}`,
      );
    onlyThrows(InvalidMessageError, () => decodeMessage(msg(deep), 10_000_000));
    expect(() => decodeMessage(msg(JSON.stringify('x'.repeat(2_000_000))), 1_000_000)).toThrow(/over the limit/);
  });

  it('module and worker options: only TaskQueueConfigError, naming the option', () => {
    const options = fc.record(
      {
        brokerUrl: fc.oneof(fc.constant('memory://fuzz'), fc.webUrl(), fc.string(), json),
        prefix: fc.oneof(fc.string(), json),
        defaultQueue: fc.oneof(fc.string(), json),
        resultExpires: fc.oneof(fc.string(), fc.integer(), json),
        maxMessageBytes: fc.oneof(fc.integer(), json),
        events: fc.oneof(fc.boolean(), json),
        worker: fc.oneof(
          fc.record(
            {
              queues: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), json),
              concurrency: fc.oneof(fc.integer(), json),
              prefetch: fc.oneof(fc.integer(), json),
              lease: fc.oneof(fc.string(), fc.integer(), json),
            },
            { requiredKeys: [] },
          ),
          json,
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(options, (o) =>
        onlyThrows(TaskQueueConfigError, () => {
          const resolved = resolveModuleOptions(o as never, {});
          resolveWorkerOptions((o.worker ?? {}) as never, resolved.defaultQueue);
        }),
      ),
      { numRuns: Math.min(RUNS, 20_000) },
    );
  });

  it('durations, rate limits, broker URLs and canvases: only the library’s errors', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.double(), json), (v) =>
        onlyThrows(TaskQueueConfigError, () => toMs(v as never, 'fuzz')),
      ),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.double()), (v) =>
        onlyThrows(TaskQueueConfigError, () => parseRateLimit(v, 'fuzz')),
      ),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.webUrl()), (v) =>
        onlyThrows(TaskQueueConfigError, () => parseBrokerUrl(v)),
      ),
      { numRuns: Math.min(RUNS, 20_000) },
    );
    const canvasish = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { maxDepth: 4 },
        json,
        fc.record(
          { type: fc.constant('signature'), task: fc.oneof(fc.string(), json), args: json },
          { requiredKeys: [] },
        ),
        fc.record({ type: fc.constant('chain'), steps: fc.oneof(fc.array(tie('node'), { maxLength: 3 }), json) }),
        fc.record({ type: fc.constant('group'), members: fc.oneof(fc.array(tie('node'), { maxLength: 3 }), json) }),
        fc.record({
          type: fc.constant('chord'),
          header: fc.oneof(fc.array(tie('node'), { maxLength: 3 }), json),
          body: tie('node'),
        }),
      ),
    }));
    fc.assert(
      fc.property(canvasish.node, (v) => onlyThrows(TaskQueueError, () => canvasFromJSON(v))),
      { numRuns: Math.min(RUNS, 20_000) },
    );
  });
});
