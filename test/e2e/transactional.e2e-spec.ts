import { randomUUID } from 'node:crypto';
import { buildE2eFixtures, spawnNode } from '../utils/processes.js';
import { DATABASE_URL } from '../utils/postgres.js';
import { REDIS_URL, cleanupPrefix, testPrefix } from '../utils/redis.js';

const MAIN = 'test/e2e/.build/test/e2e/fixtures/transactional-main.js';

/** Runs the scenarios of transactional-main.ts in a process and returns what it observed. */
async function observe(mode: string, brokerUrl: string, prefix: string): Promise<Record<string, unknown>> {
  const child = await spawnNode(
    MAIN,
    { TQ_MODE: mode, TQ_BROKER_URL: brokerUrl, TQ_PREFIX: prefix, DATABASE_URL },
    'RESULT',
    60_000,
  );
  await child.exited;
  const line = child
    .output()
    .split('\n')
    .find((l) => l.startsWith('RESULT '));
  return JSON.parse(line!.slice('RESULT '.length));
}

const CASES: Array<[string, string, () => string]> = [
  ['after-commit', 'redis', () => REDIS_URL],
  ['after-commit', 'memory', () => `memory://tx-${randomUUID().slice(0, 8)}`],
  ['outbox', 'redis', () => REDIS_URL],
];

describe('@nestjs-cls/transactional (TypeORM adapter) with publishAfterCommit()', () => {
  beforeAll(async () => {
    await buildE2eFixtures();
  }, 180_000);

  it.each(CASES)(
    '%s on %s: held until commit, dropped on rollback',
    async (mode, broker, url) => {
      const prefix = testPrefix(`tx-${mode}-${broker}`);
      try {
        const out = await observe(mode, url(), prefix);
        expect(out.error).toBeUndefined();
        expect(out).toMatchObject({
          idAtOnce: true,
          queuedInside: 0,
          outboxRowsInside: 0,
          commitSeen: true,
          rollback: 'rolled back',
          rollbackDecorated: 'rolled back',
          rollbackState: 'PENDING',
          rollbackQueued: 0,
          rollbackOutboxRows: 0,
          immediateSeen: false,
          without: 5,
          nested: 'rolled back',
          nestedKeptSeen: true,
          nestedDroppedState: 'PENDING',
          canvasQueuedInside: 0,
          chain: 2,
          chainParentSeen: true,
          chord: 6,
          chainRolledBackState: 'PENDING',
          followUp: 42,
          delayed: 2,
        });
        expect(out.raceSeen).toEqual(Array.from({ length: 40 }, () => true));
        if (mode === 'outbox') expect(out.lag).toEqual({ lagMs: null, pending: 0 });
      } finally {
        await cleanupPrefix(prefix);
      }
    },
    90_000,
  );
});
