// Scrape cost of TaskQueueMetricsModule with many waiting tasks: the gauges are
// read from the broker at scrape time (list lengths and set sizes per queue,
// the workers' heartbeats), so the cost should not grow with the number of
// tasks. Publishes N tasks (1,000,000 by default) to one queue in batches,
// times scrapes before and after, and deletes its keys.
//   npm run build && node --no-warnings bench/metrics-scrape.mjs [N]
import 'reflect-metadata';
import { Redis } from 'ioredis';

const DIST = new URL('../dist/', import.meta.url);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const N = Number(process.argv[2] ?? 1_000_000);
const prefix = `tqscrape-${Date.now().toString(36)}`;

const { Module } = await import('@nestjs/common');
const { NestFactory } = await import('@nestjs/core');
const { Registry } = await import('prom-client');
const lib = await import(new URL('index.js', DIST).href);
const { TaskQueueMetricsModule } = await import(new URL('metrics/index.js', DIST).href);

const registry = new Registry();
class ScrapeModule {}
Module({
  imports: [
    lib.TaskQueueModule.forRoot({ brokerUrl: REDIS_URL, prefix }),
    TaskQueueMetricsModule.forRoot({ registry, queues: ['default'] }),
  ],
})(ScrapeModule);
const app = await NestFactory.createApplicationContext(ScrapeModule, { logger: false });
await app.init();
const client = app.get(lib.TaskClient);
const redis = new Redis(REDIS_URL);

async function scrapeMs(times = 20) {
  const ms = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await registry.metrics();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(times / 2)], max: ms[times - 1] };
}
const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))[1]);

try {
  const empty = await scrapeMs();
  const t0 = performance.now();
  for (let i = 0; i < N; i += 10_000)
    await client.sendMany(
      Array.from({ length: Math.min(10_000, N - i) }, (_, k) => ({ name: 'x.noop', args: [i + k] })),
    );
  const fillS = (performance.now() - t0) / 1000;
  const c0 = await commands();
  const full = await scrapeMs();
  const perScrape = ((await commands()) - c0) / 20;
  const depth = /taskqueue_queue_depth\{queue="default",state="ready"\} (\d+)/.exec(await registry.metrics())?.[1];
  console.log(
    [
      `scrape with an empty queue: p50 ${empty.p50.toFixed(2)} ms, max ${empty.max.toFixed(2)} ms`,
      `published ${N.toLocaleString('en-US')} waiting tasks in ${fillS.toFixed(1)} s; the gauge reads ${depth}`,
      `scrape with them waiting:   p50 ${full.p50.toFixed(2)} ms, max ${full.max.toFixed(2)} ms, ${perScrape.toFixed(1)} Redis commands per scrape`,
    ].join('\n'),
  );
} finally {
  await app.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
