import { InvalidMessageError, NonSerializableArgumentError, TaskQueueConfigError } from '../../src/errors/index.js';
import {
  PROTOCOL_VERSION,
  assertJsonSafe,
  decodeMessage,
  encodeMessage,
  sniffId,
  toMs,
  trimTrailingUndefined,
  type TaskMessage,
} from '../../src/protocol/index.js';
import { RedisKeys } from '../../src/transport/redis/keys.js';
import { backoffDelay } from '../../src/worker/backoff.js';

const message = (over: Partial<TaskMessage> = {}): TaskMessage => ({
  id: 'a1',
  priority: 5,
  queue: 'q',
  task: 't',
  retries: 0,
  created: 1,
  args: [1],
  v: PROTOCOL_VERSION,
  ...over,
});

describe('durations', () => {
  it.each([
    [250, 250],
    ['250', 250],
    ['250ms', 250],
    ['15s', 15_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
  ])('%j is %d ms', (input, ms) => expect(toMs(input, 'x')).toBe(ms));

  it.each([-1, NaN, Infinity, '5 weeks', '', 'ms', '-5s'])('%j is refused, naming the option', (input) => {
    expect(() => toMs(input as never, 'countdown')).toThrow(TaskQueueConfigError);
    expect(() => toMs(input as never, 'countdown')).toThrow(/"countdown"/);
  });
});

describe('backoff', () => {
  const policy = { max: 5, backoff: 'exponential' as const, delayMs: 100, maxDelayMs: 1000, jitter: false };
  it('doubles from the first delay up to maxDelay', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it('is constant when fixed', () => {
    expect([0, 3].map((n) => backoffDelay({ ...policy, backoff: 'fixed' }, n))).toEqual([100, 100]);
  });
  it('draws full jitter between 0 and the computed delay', () => {
    expect(backoffDelay({ ...policy, jitter: true }, 2, () => 0.5)).toBe(200);
    expect(backoffDelay({ ...policy, jitter: true }, 2, () => 0)).toBe(0);
  });
  it('does not overflow for large retry counts', () => {
    expect(backoffDelay(policy, 10_000)).toBe(1000);
  });
});

describe('messages', () => {
  it('encodes id first, priority second, and args after every scalar field', () => {
    const raw = encodeMessage(message({ expires: 99, headers: { a: 1 }, parentId: 'p' }));
    expect(raw.startsWith('{"id":"a1","priority":5,')).toBe(true);
    expect(raw.indexOf('"expires"')).toBeLessThan(raw.indexOf(',"args":'));
    expect(raw.indexOf('"headers"')).toBeGreaterThan(raw.indexOf(',"args":'));
    expect(decodeMessage(raw)).toEqual(message({ expires: 99, headers: { a: 1 }, parentId: 'p' }));
  });

  it.each([
    ['{', /not valid JSON/],
    ['[]', /not a JSON object/],
    [JSON.stringify({ ...message(), id: 5 }), /"id"/],
    [JSON.stringify({ ...message(), task: '' }), /"task"/],
    [JSON.stringify({ ...message(), args: {} }), /"args"/],
    [JSON.stringify({ ...message(), priority: 10 }), /"priority"/],
    [JSON.stringify({ ...message(), retries: -1 }), /"retries"/],
    [JSON.stringify({ ...message(), v: 2 }), /protocol version 2/],
    [JSON.stringify({ ...message(), eta: 'soon' }), /"eta"/],
    [JSON.stringify({ ...message(), headers: [] }), /"headers"/],
  ])('rejects %s with the reason', (raw, reason) => {
    expect(() => decodeMessage(raw)).toThrow(InvalidMessageError);
    expect(() => decodeMessage(raw)).toThrow(reason);
  });

  it('rejects a message over the size limit', () => {
    expect(() => decodeMessage(encodeMessage(message({ args: ['x'.repeat(100)] })), 50)).toThrow(
      /over the limit of 50 bytes/,
    );
  });

  it('sniffs the id of a broken message when it can', () => {
    expect(sniffId('{"id":"abc","priority":x')).toBe('abc');
    expect(sniffId('garbage')).toBeUndefined();
  });

  it('accepts plain JSON data and drops trailing undefined arguments', () => {
    expect(() =>
      assertJsonSafe('t', [
        1,
        'a',
        true,
        null,
        [1, [2]],
        { a: { b: [null] }, skipped: undefined },
        Object.create(null),
      ]),
    ).not.toThrow();
    expect(trimTrailingUndefined([1, undefined, 2, undefined, undefined])).toEqual([1, undefined, 2]);
  });

  it.each([
    [[new Map()], /args\[0\].*Map/],
    [[{ a: [1, { b: new Set() }] }], /args\[0\]\.a\[1\]\.b.*Set/],
    [[Symbol('s')], /Symbol/],
    [[Infinity], /finite/],
    [[Buffer.from('x')], /Buffer/],
  ])('refuses %p naming the path', (args, reason) => {
    expect(() => assertJsonSafe('t', args)).toThrow(NonSerializableArgumentError);
    expect(() => assertJsonSafe('t', args)).toThrow(reason);
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(() => assertJsonSafe('t', [shared, { again: shared }])).not.toThrow();
  });
});

describe('Redis keys', () => {
  it('puts every key of a queue in one hash slot, with the prefix outside the tag', () => {
    const keys = new RedisKeys('app');
    const queueKeys = [
      keys.base('email'),
      ...Array.from({ length: 10 }, (_, p) => keys.ready('email', p)),
      keys.delayed('email'),
      keys.delayedMessages('email'),
      keys.active('email'),
      keys.leases('email'),
      keys.wake('email'),
      keys.revoked('email'),
      keys.dead('email'),
      keys.rejected('email'),
      keys.redeliveries('email'),
      keys.result('email', 'id1'),
      keys.chord('email', 'c1'),
    ];
    for (const k of queueKeys) expect(k.startsWith('app:{email}:')).toBe(true);
  });
});
