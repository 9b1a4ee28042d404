import type { AsyncResult } from '../../src/index.js';

export interface FailoverOutcome {
  /** Sends that resolved, before, during and after the failover. */
  resolved: AsyncResult<number>[];
  /** What the sends that failed rejected with. */
  rejected: unknown[];
  /** The values of get() calls that were waiting when the master was killed. */
  waited: unknown[];
  /** The value of a task sent once the promotion was seen. */
  afterPromotion: unknown;
  promotedAfterMs: number;
  afterPromotionMs: number;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Drives a failover under load: a producer sends short tasks one after another;
 * a few long tasks are sent and waited for; then `kill` takes the master down;
 * the producer goes on until `promoted` holds and a while after; then one more
 * task is sent and waited for, and every resolved send is waited for too.
 * Nothing here asserts: the caller checks the outcome against what ran.
 */
export async function sendThroughFailover(o: {
  send: (ms: number) => Promise<AsyncResult<number>>;
  kill: () => Promise<void>;
  promoted: () => Promise<boolean>;
  alive: () => boolean;
}): Promise<FailoverOutcome> {
  const resolved: AsyncResult<number>[] = [];
  const rejected: unknown[] = [];
  let stop = false;
  const producer = (async () => {
    while (!stop) {
      await o.send(20).then(
        (r) => resolved.push(r),
        (err: unknown) => rejected.push(err),
      );
      await pause(10);
    }
  })();
  const deadline = (ms: number, what: string) => {
    const end = Date.now() + ms;
    return () => {
      if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
      if (!o.alive()) throw new Error(`a worker exited while waiting for ${what}`);
    };
  };
  try {
    const warm = deadline(20_000, '30 sends before the kill');
    while (resolved.length < 30) {
      warm();
      await pause(20);
    }
    // Tasks that are running (or waiting) when the master dies, with get() waiting on them.
    const long = await Promise.all(Array.from({ length: 5 }, () => o.send(1500)));
    const waiting = long.map((r) => r.get({ timeout: 60_000 }).catch((err: unknown) => err));
    const killedAt = Date.now();
    await o.kill();
    const promotion = deadline(30_000, 'the promotion of a replica');
    for (;;) {
      promotion();
      if (await o.promoted().catch(() => false)) break;
      await pause(100);
    }
    const promotedAfterMs = Date.now() - killedAt;
    const before = resolved.length;
    const after = deadline(30_000, '20 sends after the promotion');
    while (resolved.length < before + 20) {
      after();
      await pause(20);
    }
    stop = true;
    await producer;
    const t0 = Date.now();
    const afterPromotion = await (await o.send(1)).get({ timeout: 30_000 });
    const afterPromotionMs = Date.now() - t0;
    const waited = await Promise.all(waiting);
    await Promise.all(resolved.map((r) => r.get({ timeout: 60_000 }).catch(() => undefined)));
    return { resolved: [...resolved, ...long], rejected, waited, afterPromotion, promotedAfterMs, afterPromotionMs };
  } finally {
    stop = true;
    await producer;
  }
}
