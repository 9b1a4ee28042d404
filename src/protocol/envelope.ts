/**
 * The one message format. Serialized as JSON with a fixed key order: `id` first,
 * `priority` second, every scalar field before `args`, and the free-form
 * `args`, `headers` and workflow fields last. The Redis scripts rely on it: they read id,
 * priority and expires from the part before the first structural `,"args":`
 * (which no JSON string value can contain, since its quotes are escaped)
 * without decoding the whole message.
 */
import type { CanvasJSON, ChordMembership } from './canvas-json.js';

export const PROTOCOL_VERSION = 1;

export type HeaderValue = string | number | boolean | null;
export type TaskHeaders = Record<string, HeaderValue>;

export interface TaskMessage {
  id: string;
  /** 0 (lowest) to 9 (highest). */
  priority: number;
  queue: string;
  task: string;
  /** How many times this task has been retried before this delivery. */
  retries: number;
  /** Epoch ms when the message was first published. */
  created: number;
  /** Epoch ms before which the task must not start. */
  eta?: number;
  /** Epoch ms after which the task must not start (it is revoked instead). */
  expires?: number;
  timeLimit?: number;
  softTimeLimit?: number;
  /** Unique tasks: the key, while when it holds ('queued', 'running', 'ttl'), its time to live (ms). */
  uniqueKey?: string;
  uniqueWhile?: 'queued' | 'running' | 'ttl';
  uniqueTtl?: number;
  parentId?: string;
  rootId?: string;
  headers?: TaskHeaders;
  args: unknown[];
  /** Workflow: the steps after this task (ids assigned), each receiving the previous result. */
  chain?: CanvasJSON[];
  /** Workflow: this task is a chord header task. */
  chord?: ChordMembership;
  /** Workflow: applied with the result on success. */
  link?: CanvasJSON[];
  /** Workflow: applied with (id, error) on final failure. */
  linkError?: CanvasJSON[];
  v: number;
}

export const MIN_PRIORITY = 0;
export const MAX_PRIORITY = 9;
export const DEFAULT_PRIORITY = 5;

/** Serializes with the fixed key order the scripts rely on. */
export function encodeMessage(m: TaskMessage): string {
  const ordered: Record<string, unknown> = {
    id: m.id,
    priority: m.priority,
    queue: m.queue,
    task: m.task,
    retries: m.retries,
    created: m.created,
  };
  if (m.eta !== undefined) ordered.eta = m.eta;
  if (m.expires !== undefined) ordered.expires = m.expires;
  if (m.timeLimit !== undefined) ordered.timeLimit = m.timeLimit;
  if (m.softTimeLimit !== undefined) ordered.softTimeLimit = m.softTimeLimit;
  if (m.uniqueKey !== undefined) {
    ordered.uniqueKey = m.uniqueKey;
    ordered.uniqueWhile = m.uniqueWhile;
    ordered.uniqueTtl = m.uniqueTtl;
  }
  if (m.parentId !== undefined) ordered.parentId = m.parentId;
  if (m.rootId !== undefined) ordered.rootId = m.rootId;
  ordered.args = m.args;
  if (m.headers !== undefined && Object.keys(m.headers).length > 0) ordered.headers = m.headers;
  if (m.chain !== undefined && m.chain.length > 0) ordered.chain = m.chain;
  if (m.chord !== undefined) ordered.chord = m.chord;
  if (m.link !== undefined && m.link.length > 0) ordered.link = m.link;
  if (m.linkError !== undefined && m.linkError.length > 0) ordered.linkError = m.linkError;
  ordered.v = m.v;
  return JSON.stringify(ordered);
}

/**
 * A unique task's key, while it holds and ttl (ms), read from an encoded
 * message's head (before the first structural `,"args":`) the way the Redis
 * scripts read it, without decoding the message. Undefined when it has none.
 */
export function uniqueOfRaw(raw: string): { key: string; while: string; ttl: number } | undefined {
  const at = raw.indexOf(',"args":');
  const h = at >= 0 ? raw.slice(0, at) : raw;
  if (!h.includes('"uniqueKey":"')) return undefined;
  const key = /"uniqueKey":"([^"\\]+)"/.exec(h)?.[1];
  const ttl = Number(/"uniqueTtl":(\d+)/.exec(h)?.[1] ?? 0);
  if (!key || !(ttl > 0)) return undefined;
  return { key, while: /"uniqueWhile":"([a-z]+)"/.exec(h)?.[1] ?? 'running', ttl };
}
