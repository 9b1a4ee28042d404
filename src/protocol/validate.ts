import { InvalidMessageError, NonSerializableArgumentError, TaskQueueConfigError } from '../errors/index.js';
import { MAX_PRIORITY, MIN_PRIORITY, PROTOCOL_VERSION, TaskMessage } from './envelope.js';

/** Default size limit of one encoded message. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * Checks that `args` survive JSON unchanged: no functions, symbols, BigInt,
 * undefined inside arrays, non-finite numbers, cycles, or class instances
 * (Date, Map, Set, Buffer, user classes) that would arrive as something else.
 * Throws NonSerializableArgumentError naming the path of the first offender.
 */
export function assertJsonSafe(taskName: string, args: readonly unknown[]): void {
  const seen = new Set<object>();
  const visit = (value: unknown, path: string): void => {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(value))
          throw new NonSerializableArgumentError(taskName, path, `${value} is not a finite number`);
        return;
      case 'bigint':
        throw new NonSerializableArgumentError(taskName, path, 'BigInt has no JSON form (send it as a string)');
      case 'function':
        throw new NonSerializableArgumentError(taskName, path, 'a function cannot be sent to another process');
      case 'symbol':
        throw new NonSerializableArgumentError(taskName, path, 'a Symbol has no JSON form');
      case 'undefined':
        throw new NonSerializableArgumentError(
          taskName,
          path,
          'undefined becomes null in JSON (pass null, or leave the argument out)',
        );
    }
    if (value === null) return;
    const obj = value as object;
    if (seen.has(obj)) throw new NonSerializableArgumentError(taskName, path, 'it contains a reference cycle');
    seen.add(obj);
    if (Array.isArray(obj)) {
      obj.forEach((item, i) => visit(item, `${path}[${i}]`));
    } else {
      const proto = Object.getPrototypeOf(obj);
      if (proto !== Object.prototype && proto !== null) {
        const kind = (proto?.constructor?.name as string | undefined) ?? 'object';
        const hint = kind === 'Date' ? ' (send date.toISOString() or a timestamp)' : '';
        throw new NonSerializableArgumentError(
          taskName,
          path,
          `a ${kind} instance would arrive as a plain object or string${hint}`,
        );
      }
      for (const [key, item] of Object.entries(obj)) {
        if (item === undefined) continue; // dropped by JSON, like an absent property
        visit(item, `${path}.${key}`);
      }
    }
    seen.delete(obj);
  };
  args.forEach((arg, i) => visit(arg, `args[${i}]`));
}

/** Drops trailing `undefined` arguments (optional parameters left out). */
export function trimTrailingUndefined(args: readonly unknown[]): unknown[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  return args.slice(0, end);
}

const isOptionalNumber = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v));
const isOptionalString = (v: unknown) => v === undefined || typeof v === 'string';

/**
 * Parses and validates a message read from the broker (untrusted input).
 * Throws InvalidMessageError with the reason; never returns a half-valid message.
 */
export function decodeMessage(raw: string, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): TaskMessage {
  const size = Buffer.byteLength(raw, 'utf8');
  if (size > maxBytes) throw new InvalidMessageError(`message is ${size} bytes, over the limit of ${maxBytes} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new InvalidMessageError(`not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidMessageError('not a JSON object');
  const m = parsed as Record<string, unknown>;
  if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 200)
    throw new InvalidMessageError('field "id" must be a non-empty string of at most 200 characters');
  if (typeof m.task !== 'string' || m.task.length === 0)
    throw new InvalidMessageError('field "task" must be a non-empty string');
  if (typeof m.queue !== 'string' || m.queue.length === 0)
    throw new InvalidMessageError('field "queue" must be a non-empty string');
  if (!Array.isArray(m.args)) throw new InvalidMessageError('field "args" must be an array');
  if (!Number.isInteger(m.priority) || (m.priority as number) < MIN_PRIORITY || (m.priority as number) > MAX_PRIORITY)
    throw new InvalidMessageError(`field "priority" must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`);
  if (!Number.isInteger(m.retries) || (m.retries as number) < 0)
    throw new InvalidMessageError('field "retries" must be an integer >= 0');
  if (m.v !== PROTOCOL_VERSION)
    throw new InvalidMessageError(
      `unsupported protocol version ${JSON.stringify(m.v)} (this worker speaks ${PROTOCOL_VERSION})`,
    );
  for (const f of ['created', 'eta', 'expires', 'timeLimit', 'softTimeLimit', 'uniqueTtl'] as const) {
    if (!isOptionalNumber(m[f])) throw new InvalidMessageError(`field "${f}" must be a number`);
  }
  for (const f of ['parentId', 'rootId', 'uniqueKey', 'uniqueWhile'] as const) {
    if (!isOptionalString(m[f])) throw new InvalidMessageError(`field "${f}" must be a string`);
  }
  if (m.headers !== undefined && (typeof m.headers !== 'object' || m.headers === null || Array.isArray(m.headers)))
    throw new InvalidMessageError('field "headers" must be an object');
  for (const f of ['chain', 'link', 'linkError'] as const) {
    if (m[f] !== undefined && !Array.isArray(m[f])) throw new InvalidMessageError(`field "${f}" must be an array`);
  }
  if (m.chord !== undefined) {
    const c = m.chord as Record<string, unknown> | null;
    if (
      typeof c !== 'object' ||
      c === null ||
      typeof c.id !== 'string' ||
      typeof c.queue !== 'string' ||
      !Number.isInteger(c.index) ||
      (c.index as number) < 0
    ) {
      throw new InvalidMessageError('field "chord" must be { id, index, queue }');
    }
  }
  return m as unknown as TaskMessage;
}

/** Best-effort id of a raw message that failed validation, for parking it. */
export function sniffId(raw: string): string | undefined {
  const m = /^\{"id":"([^"\\]{1,200})"/.exec(raw);
  return m?.[1];
}

/** Names safe inside Redis keys, Lua string literals and log lines: task names, queues, ids. */
export const NAME_PATTERN = /^[A-Za-z0-9._:\-]{1,200}$/;

/** Returns `value` when it is a valid name, else throws TaskQueueConfigError naming `option`. */
export function assertName(option: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new TaskQueueConfigError(option, value, 'use 1 to 200 characters from A-Z a-z 0-9 . _ : -');
  }
  return value;
}
