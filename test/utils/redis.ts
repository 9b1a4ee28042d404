import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the tests use: REDIS_URL, or the local default. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of this test file's own, so files run in parallel and twice in a row. */
export function testPrefix(label = 'test'): string {
  return `tq-test-${label}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `prefix`. */
export async function cleanupPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: false });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** Resolves when `predicate` holds, checking on each tick of `intervalMs`; rejects after `timeoutMs`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The two brokers every behaviour must hold on: `describe.each(BROKERS)` runs a
 * suite once on Redis and once on a fresh in-process memory:// broker.
 */
export const BROKERS = [
  ['redis', () => REDIS_URL],
  ['memory', () => `memory://test-${randomUUID().slice(0, 8)}`],
] as const;
