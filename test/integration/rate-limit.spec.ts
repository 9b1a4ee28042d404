import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Task, TaskClient, TaskContext, TaskQueueConfigError, TaskWorker } from '../../src/index.js';
import { parseRateLimit } from '../../src/discovery/task-queue.explorer.js';
import { MemoryTransport } from '../../src/transport/memory/memory.transport.js';
import { createTaskApp } from '../utils/app.js';
import { BROKERS, cleanupPrefix, testPrefix } from '../utils/redis.js';

@Injectable()
class Limited {
  static readonly starts: number[] = [];
  constructor(private readonly ctx: TaskContext) {}

  @Task({ name: 'limited.stamp', rateLimit: '4/s' })
  stamp(): { retries: number; headers: Record<string, unknown> } {
    Limited.starts.push(Date.now());
    return { retries: this.ctx.retries, headers: { ...this.ctx.headers } };
  }
}

describe('rate limits', () => {
  it.each([
    ['10/s', { limit: 10, intervalMs: 1000 }],
    ['100/m', { limit: 100, intervalMs: 60_000 }],
    ['1000 / h', { limit: 1000, intervalMs: 3_600_000 }],
    [3, { limit: 3, intervalMs: 1000 }],
  ])('parses %j', (value, parsed) => expect(parseRateLimit(value, 'x')).toEqual(parsed));

  it.each(['fast', '0/s', '-1/m', '10/d'])('refuses %j, naming the option', (value) => {
    expect(() => parseRateLimit(value, '@Task(rateLimit) on A#b')).toThrow(TaskQueueConfigError);
    expect(() => parseRateLimit(value, '@Task(rateLimit) on A#b')).toThrow(/@Task\(rateLimit\) on A#b/);
  });
});

describe.each(BROKERS)('rate limits on %s', (kind, brokerUrl) => {
  const prefix = testPrefix(`rate-${kind}`);
  const url = brokerUrl();
  const apps: TestingModule[] = [];

  afterAll(async () => {
    for (const app of apps) await app.close();
    if (kind === 'redis') await cleanupPrefix(prefix);
    MemoryTransport.resetShared();
  });

  it('spaces the starts interval / limit apart across two workers, and runs every one', async () => {
    for (let i = 0; i < 2; i++) {
      const app = await createTaskApp({ brokerUrl: url, prefix }, [Limited]);
      await app.get(TaskWorker).start({ concurrency: 10 });
      apps.push(app);
    }
    Limited.starts.length = 0;
    const client = apps[0].get(TaskClient);
    const publishedAt = Date.now();
    const results = await Promise.all(Array.from({ length: 12 }, () => client.for(Limited).stamp.delay()));
    const outcomes = await Promise.all(results.map((r) => r.get({ timeout: 20_000 })));
    expect(Limited.starts).toHaveLength(12);
    // Slots are 250 ms apart from the first reservation (made after publishedAt),
    // and no task starts before its slot: the k-th start is at least k × 250 ms in.
    const sorted = [...Limited.starts].sort((a, b) => a - b);
    sorted.forEach((start, k) => expect(start).toBeGreaterThanOrEqual(publishedAt + k * 250 - 5));
    // waiting for a slot is not a retry, and the slot header is not shown to the task
    for (const o of outcomes) {
      expect(o.retries).toBe(0);
      expect(Object.keys(o.headers)).not.toContain('taskqueue-rate-slot');
    }
  }, 30_000);
});
