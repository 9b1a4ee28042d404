import { readFileSync } from 'node:fs';
import { InvalidMessageError, TaskState, type TaskMessage } from '../../src/index.js';
import {
  CELERY_IGNORE_RESULT_HEADER,
  CELERY_KWARGS_HEADER,
  decodeCeleryMessage,
  encodeCeleryMessage,
  fromCeleryPriority,
  fromCeleryResult,
  fromCeleryTime,
  kombuListKey,
  kombuQueueKeys,
  queueOfKombuKey,
  toCeleryPriority,
  toCeleryResult,
  toCeleryTime,
} from '../../src/protocol/celery/index.js';

/** The list entry a Celery 5.2.6 client LPUSHed for add.delay(2, 3), byte for byte. */
const CAPTURED = readFileSync(new URL('../fixtures/celery/list-entry.json', import.meta.url), 'utf8').trim();

const base64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

/** A captured envelope with its headers and body replaced. */
function envelope(headers: Record<string, unknown>, body: unknown, props: Record<string, unknown> = {}): string {
  const env = JSON.parse(CAPTURED);
  return JSON.stringify({
    ...env,
    headers: { ...env.headers, ...headers },
    body: base64(body),
    properties: { ...env.properties, ...props },
  });
}

const EMPTY_EMBED = { callbacks: null, errbacks: null, chain: null, chord: null };

describe('Celery protocol v2 codec', () => {
  it('decodes the captured add.delay(2, 3) message', () => {
    const { message, extras } = decodeCeleryMessage(CAPTURED, 'celery', 1 << 20, 1000);
    expect(message).toEqual({
      id: '7b4fe3ad-a82c-4b68-9faf-2449e4ff1117',
      task: 'app.add',
      queue: 'celery',
      args: [2, 3],
      retries: 0,
      priority: 9,
      rootId: '7b4fe3ad-a82c-4b68-9faf-2449e4ff1117',
      created: 1000,
      v: 1,
    });
    expect(extras).toEqual({ deliveryTag: 'a64fc572-418d-4302-bc66-29d41365389d', ignoreResult: false });
  });

  it('encodes the same shape a Celery client writes (same keys, body and routing)', () => {
    const captured = JSON.parse(CAPTURED);
    const msg: TaskMessage = {
      id: '7b4fe3ad-a82c-4b68-9faf-2449e4ff1117',
      task: 'app.add',
      queue: 'celery',
      args: [2, 3],
      retries: 0,
      priority: 9,
      created: 0,
      v: 1,
    };
    const env = encodeCeleryMessage(msg, { origin: 'node-1@host', deliveryTag: 'tag-1' });
    expect(Object.keys(env).sort()).toEqual(Object.keys(captured).sort());
    expect(Object.keys(env.headers).sort()).toEqual(Object.keys(captured.headers).sort());
    expect(Object.keys(env.properties).sort()).toEqual(Object.keys(captured.properties).sort());
    expect(JSON.parse(Buffer.from(env.body, 'base64').toString())).toEqual(
      JSON.parse(Buffer.from(captured.body, 'base64').toString()),
    );
    expect(env.headers).toMatchObject({ task: 'app.add', id: msg.id, root_id: msg.id, parent_id: null, eta: null });
    expect(env.properties).toMatchObject({
      delivery_info: { exchange: '', routing_key: 'celery' },
      body_encoding: 'base64',
      delivery_tag: 'tag-1',
      priority: 0,
    });
    // and it reads back as the same message
    const back = decodeCeleryMessage(JSON.stringify(env), 'celery', 1 << 20, 0).message;
    expect(back).toEqual({ ...msg, rootId: msg.id });
  });

  it('converts durations at the edge: eta/expires as ISO times, time limits in seconds', () => {
    const eta = Date.UTC(2026, 10, 22, 1, 17, 17, 860);
    const env = encodeCeleryMessage(
      {
        id: 'a',
        task: 't',
        queue: 'q',
        args: [],
        retries: 2,
        priority: 5,
        created: 0,
        eta,
        expires: eta + 120_000,
        timeLimit: 10_000,
        softTimeLimit: 5_000,
        parentId: 'p',
        rootId: 'r',
        headers: { tenant: 7 },
        v: 1,
      },
      { origin: 'o', deliveryTag: 'd' },
    );
    expect(env.headers).toMatchObject({
      eta: '2026-11-22T01:17:17.860000+00:00',
      expires: '2026-11-22T01:19:17.860000+00:00',
      timelimit: [10, 5],
      retries: 2,
      parent_id: 'p',
      root_id: 'r',
      tenant: 7,
    });
    expect(env.properties.priority).toBe(4);
    const back = decodeCeleryMessage(JSON.stringify(env), 'q', 1 << 20, 0).message;
    expect(back).toMatchObject({ eta, expires: eta + 120_000, timeLimit: 10_000, softTimeLimit: 5_000 });
  });

  it('parses the time forms Celery writes: +00:00 with microseconds, Z, naive (UTC), other offsets', () => {
    const t = Date.UTC(2026, 10, 22, 1, 17, 17, 860);
    expect(fromCeleryTime('2026-11-22T01:17:17.860180+00:00')).toBe(t);
    expect(fromCeleryTime('2026-11-22T01:17:17.860Z')).toBe(t);
    expect(fromCeleryTime('2026-11-22T01:17:17.860180')).toBe(t);
    expect(fromCeleryTime('2026-11-22T03:17:17.860+02:00')).toBe(t);
    expect(fromCeleryTime('tomorrow')).toBeUndefined();
    expect(toCeleryTime(t)).toBe('2026-11-22T01:17:17.860000+00:00');
  });

  it("maps priorities onto kombu's bands, most urgent first", () => {
    expect([9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map(toCeleryPriority)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(fromCeleryPriority(0)).toBe(9);
    expect(fromCeleryPriority(undefined)).toBe(9);
    expect(kombuListKey('celery', 1)).toBe('celery');
    expect(kombuListKey('celery', 4)).toBe('celery\x06\x163');
    expect(kombuListKey('other', 5)).toBe('other\x06\x163');
    expect(kombuListKey('celery', 9)).toBe('celery\x06\x169');
    expect(kombuQueueKeys('q')).toEqual(['q', 'q\x06\x163', 'q\x06\x166', 'q\x06\x169']);
    expect(queueOfKombuKey('q\x06\x166')).toBe('q');
    expect(queueOfKombuKey('q')).toBe('q');
  });

  it('reads a Celery chain (reversed in embed.chain) and writes it back reversed', () => {
    const chain = [
      { task: 'app.add', args: [1], kwargs: {}, options: { task_id: 'c3' }, subtask_type: null, immutable: false },
      { task: 'app.mul', args: [10], kwargs: {}, options: { task_id: 'c2' }, subtask_type: null, immutable: false },
    ];
    const raw = envelope({ task: 'app.add', id: 'c1' }, [[2, 3], {}, { ...EMPTY_EMBED, chain }]);
    const { message } = decodeCeleryMessage(raw, 'celery', 1 << 20);
    expect(message.chain).toEqual([
      { type: 'signature', task: 'app.mul', args: [10], options: { taskId: 'c2' } },
      { type: 'signature', task: 'app.add', args: [1], options: { taskId: 'c3' } },
    ]);
    const env = encodeCeleryMessage(message, { origin: 'o', deliveryTag: 'd' });
    const embed = JSON.parse(Buffer.from(env.body, 'base64').toString())[2];
    expect(embed.chain).toEqual(chain);
  });

  it('reads and writes links and error links (embed.callbacks / embed.errbacks)', () => {
    const cb = {
      task: 'app.mul',
      args: [10],
      kwargs: {},
      options: { task_id: 'l1' },
      subtask_type: null,
      immutable: false,
    };
    const eb = {
      task: 'app.on_err',
      args: [],
      kwargs: {},
      options: { task_id: 'e1' },
      subtask_type: null,
      immutable: true,
    };
    const raw = envelope({ task: 'app.add', id: 'p1' }, [
      [2, 3],
      {},
      { ...EMPTY_EMBED, callbacks: [cb], errbacks: [eb] },
    ]);
    const { message } = decodeCeleryMessage(raw, 'celery', 1 << 20);
    expect(message.link).toEqual([{ type: 'signature', task: 'app.mul', args: [10], options: { taskId: 'l1' } }]);
    expect(message.linkError).toEqual([
      { type: 'signature', task: 'app.on_err', args: [], options: { taskId: 'e1' }, immutable: true },
    ]);
    const embed = JSON.parse(
      Buffer.from(encodeCeleryMessage(message, { origin: 'o', deliveryTag: 'd' }).body, 'base64').toString(),
    )[2];
    expect(embed).toEqual({ callbacks: [cb], errbacks: [eb], chain: null, chord: null });
  });

  it('carries kwargs as a trailing object named in a header, and gives them back to Celery', () => {
    const raw = envelope({ task: 'acc.mul', id: 'k1' }, [[4], { y: 5, z: 1 }, EMPTY_EMBED]);
    const { message } = decodeCeleryMessage(raw, 'ts', 1 << 20);
    expect(message.args).toEqual([4, { y: 5, z: 1 }]);
    expect(message.headers).toEqual({ [CELERY_KWARGS_HEADER]: 'y,z' });
    const env = encodeCeleryMessage(message, { origin: 'o', deliveryTag: 'd' });
    expect(JSON.parse(Buffer.from(env.body, 'base64').toString()).slice(0, 2)).toEqual([[4], { y: 5, z: 1 }]);
    expect(env.headers[CELERY_KWARGS_HEADER]).toBeUndefined();
  });

  it("carries Celery's ignore_result both ways", () => {
    const raw = envelope({ task: 'acc.mul', id: 'i1', ignore_result: true }, [[4, 5], {}, EMPTY_EMBED]);
    const { message } = decodeCeleryMessage(raw, 'ts', 1 << 20);
    expect(message.headers).toEqual({ [CELERY_IGNORE_RESULT_HEADER]: true });
    const env = encodeCeleryMessage(message, { origin: 'o', deliveryTag: 'd' });
    expect(env.headers.ignore_result).toBe(true);
    expect(env.headers[CELERY_IGNORE_RESULT_HEADER]).toBeUndefined();
  });

  it('accepts what a Celery 5.2.6 worker accepts: no body_encoding, 2-element body, custom headers', () => {
    const env = JSON.parse(CAPTURED);
    delete env.properties.body_encoding;
    env.body = JSON.stringify([[1], {}]);
    env.headers['x-custom'] = 'hello';
    env.headers.stamps = {};
    const { message } = decodeCeleryMessage(JSON.stringify(env), 'celery', 1 << 20);
    expect(message.args).toEqual([1]);
    expect(message.headers).toEqual({ 'x-custom': 'hello' });
  });

  it.each([
    ['no task header', (e: any) => delete e.headers.task, /header "task"/],
    ['no id header', (e: any) => delete e.headers.id, /header "id"/],
    ['pickle', (e: any) => (e['content-type'] = 'application/x-python-serialize'), /content-type/],
    ['compressed', (e: any) => (e.headers.compression = 'application/x-gzip'), /compressed/],
    ['body not a list', (e: any) => (e.body = base64({ a: 1 })), /\[args, kwargs, embed\]/],
    ['bad eta', (e: any) => (e.headers.eta = 'soon'), /header "eta"/],
    [
      'nested group in a chain',
      (e: any) => (e.body = base64([[], {}, { chain: [{ task: 'g', subtask_type: 'group' }] }])),
      /Celery group/,
    ],
  ])('rejects %s with a reason', (_label, mutate, reason) => {
    const env = JSON.parse(CAPTURED);
    mutate(env);
    expect(() => decodeCeleryMessage(JSON.stringify(env), 'celery', 1 << 20)).toThrow(InvalidMessageError);
    expect(() => decodeCeleryMessage(JSON.stringify(env), 'celery', 1 << 20)).toThrow(reason);
  });

  it('rejects a message over the size limit', () => {
    expect(() => decodeCeleryMessage(CAPTURED, 'celery', 100)).toThrow(/over the limit/);
  });
});

describe("Celery's Redis result format", () => {
  it('reads the results a Celery 5.2.6 worker stored', () => {
    const ok =
      '{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "2026-11-22T01:16:59.858150", "task_id": "1f78be1f-923a-4b04-b85b-3c0b25f50674"}';
    expect(fromCeleryResult('x', ok)).toEqual({
      id: '1f78be1f-923a-4b04-b85b-3c0b25f50674',
      state: 'SUCCESS',
      result: 5,
      at: Date.UTC(2026, 10, 22, 1, 16, 59, 858),
    });
    const failed =
      '{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["boom", 42], "exc_module": "builtins"}, "traceback": "Traceback (most recent call last):\\nValueError: (\'boom\', 42)\\n", "children": [], "date_done": "2026-11-22T01:17:33.410639", "task_id": "3603e2af"}';
    expect(fromCeleryResult('3603e2af', failed)?.error).toEqual({
      type: 'ValueError',
      message: '["boom",42]',
      stack: "Traceback (most recent call last):\nValueError: ('boom', 42)\n",
    });
    const custom =
      '{"status": "FAILURE", "result": {"exc_type": "MyError", "exc_message": ["custom failure"], "exc_module": "app"}, "traceback": null, "children": [], "date_done": null, "task_id": "m"}';
    expect(fromCeleryResult('m', custom)?.error).toEqual({ type: 'MyError', message: 'custom failure' });
    const progress =
      '{"status": "PROGRESS", "result": {"done": 1, "total": 2}, "traceback": null, "children": [], "date_done": null, "task_id": "p"}';
    expect(fromCeleryResult('p', progress)).toMatchObject({ state: 'PROGRESS', meta: { done: 1, total: 2 } });
    expect(fromCeleryResult('z', 'not json')).toBeNull();
  });

  it('writes results Celery reads: builtin error types stay builtin, ours get a module Python cannot import', () => {
    const at = Date.UTC(2026, 0, 1);
    expect(toCeleryResult({ id: 'a', state: TaskState.SUCCESS, result: 20, at, task: 'acc.mul' })).toEqual({
      status: 'SUCCESS',
      result: 20,
      traceback: null,
      children: [],
      date_done: '2026-01-01T00:00:00.000000+00:00',
      task_id: 'a',
      name: 'acc.mul',
    });
    const typeError = toCeleryResult({
      id: 'b',
      state: TaskState.FAILURE,
      at,
      error: { type: 'TypeError', message: 'bad', stack: 'TypeError: bad\n    at x' },
    });
    expect(typeError.result).toEqual({ exc_type: 'TypeError', exc_message: ['bad'], exc_module: 'builtins' });
    expect(typeError.traceback).toBe('TypeError: bad\n    at x');
    expect(
      toCeleryResult({ id: 'c', state: TaskState.FAILURE, at, error: { type: 'PaymentDeclined', message: 'no' } })
        .result,
    ).toEqual({ exc_type: 'PaymentDeclined', exc_message: ['no'], exc_module: 'nestjs_taskqueue' });
    expect(
      toCeleryResult({
        id: 'd',
        task: 'app.nope',
        state: TaskState.FAILURE,
        at,
        error: { type: 'UnknownTaskError', message: 'No @Task() of this name' },
      }).result,
    ).toEqual({ exc_type: 'NotRegistered', exc_message: ['app.nope'], exc_module: 'celery.exceptions' });
    expect(
      toCeleryResult({
        id: 'e',
        state: TaskState.REVOKED,
        at,
        error: { type: 'TaskRevokedError', message: 'expired' },
      }),
    ).toMatchObject({
      status: 'REVOKED',
      result: { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' },
    });
    expect(toCeleryResult({ id: 'g', state: TaskState.PROGRESS, at, meta: { done: 1 } })).toMatchObject({
      status: 'PROGRESS',
      result: { done: 1 },
      date_done: null,
    });
    expect(
      toCeleryResult({ id: 'f', state: TaskState.RETRY, at, error: { type: 'Error', message: 'x' } }).date_done,
    ).toBeNull();
  });
});
