// npm run bench:celery — protocol 'celery' beside Python Celery on the same Redis:
// N no-op tasks end to end (first send → last run), for Celery talking to
// itself, Nest → a Python worker, a Python client → our worker, and Nest →
// Nest in Celery mode. Each task counts its run with one INCR on both sides.
// Needs Debian's python3-celery (run with /usr/bin/python3) and a built dist/.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Redis } from 'ioredis';

const PYTHON = process.env.CELERY_PYTHON ?? '/usr/bin/python3';
const N = Number(process.env.BENCH_CELERY_N ?? 10_000);
const CONCURRENCY = 10;
const INFLIGHT = 100;
const base = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
base.pathname = `/${process.env.BENCH_CELERY_DB ?? 14}`;
const URL_ = base.toString();
const RUN = randomUUID().slice(0, 8);
const redis = new Redis(URL_);
const env = { ...process.env, CELERY_URL: URL_, PYTHONPATH: 'bench/celery', PYTHONUNBUFFERED: '1' };
const log = (...a) => process.stderr.write(`[bench:celery] ${a.join(' ')}\n`);

function proc(args) {
  const p = spawn(PYTHON, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => p.once('exit', r));
  const waitFor = async (re, ms = 60_000) => {
    const end = Date.now() + ms;
    while (!re.test(out)) {
      if (p.exitCode !== null) throw new Error(`python exited:\n${out}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return re.exec(out);
  };
  return { p, exited, waitFor, output: () => out };
}

async function pythonWorker(queue) {
  const w = proc([
    '-m',
    'celery',
    '-A',
    'bench_app',
    'worker',
    '-Q',
    queue,
    '--pool=threads',
    `--concurrency=${CONCURRENCY}`,
    '--without-mingle',
    '--without-gossip',
    '--without-heartbeat',
    '--loglevel=WARNING',
    '-n',
    `bench-${RUN}@%h`,
  ]);
  // ready once a probe task has run through it (see probe())
  return w;
}

async function nestApp(dist) {
  const { Module, Injectable } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const lib = await import(new URL('index.js', dist).href);
  const counterRedis = new Redis(URL_);
  class BenchTasks {
    async noop(counter, payload) {
      await counterRedis.incr(counter);
      return payload;
    }
  }
  Injectable()(BenchTasks);
  lib.Task('bench.noop')(BenchTasks.prototype, 'noop', Object.getOwnPropertyDescriptor(BenchTasks.prototype, 'noop'));
  class BenchModule {}
  Module({
    imports: [lib.TaskQueueModule.forRoot({ brokerUrl: URL_, prefix: `tqbench-celery-${RUN}`, protocol: 'celery' })],
    providers: [BenchTasks],
  })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  await app.init();
  return { app, lib, client: app.get(lib.TaskClient), worker: app.get(lib.TaskWorker), counterRedis };
}

async function waitCount(counter, n) {
  for (;;) {
    const v = Number(await redis.get(counter));
    if (v >= n) return Date.now();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends N from Nest, INFLIGHT at a time; returns [start, sent] epoch ms. */
async function nestSend(client, queue, counter) {
  const start = Date.now();
  let i = 0;
  const lane = async () => {
    while (i < N) {
      const n = i++;
      await client.send('bench.noop', [counter, { n }], { queue });
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, lane));
  return [start, Date.now()];
}

async function pythonSend(queue, counter) {
  const prod = proc(['bench/celery/producer.py', queue, String(N), counter]);
  const start = Number((await prod.waitFor(/START (\d+)/))[1]);
  const sent = Number((await prod.waitFor(/SENT (\d+)/, 600_000))[1]);
  await prod.exited;
  return [start, sent];
}

async function probe(send, queue) {
  // one task through, so the consumer is connected and warm before timing
  const counter = `bench-probe-${RUN}-${queue}`;
  await send(queue, counter, 1);
  await waitCount(counter, 1);
  await redis.del(counter);
}

const rows = [];
async function row(label, queue, sendFn) {
  const counter = `bench-count-${RUN}-${queue}`;
  const [start, sent] = await sendFn(queue, counter);
  const done = await waitCount(counter, N);
  const r = {
    label,
    enqueue: Math.round((N * 1000) / Math.max(1, sent - start)),
    e2e: Math.round((N * 1000) / Math.max(1, done - start)),
  };
  rows.push(r);
  log(`${label}: enqueue ${r.enqueue}/s, end to end ${r.e2e}/s`);
  await redis.del(counter);
}

const dist = new URL(process.env.BENCH_DIST ?? '../dist/', import.meta.url);
const nest = await nestApp(dist);
const pyQueue = `bench-py-${RUN}`;
const tsQueue = `bench-ts-${RUN}`;
const worker = await pythonWorker(pyQueue);
await nest.worker.start({ queues: [tsQueue], concurrency: CONCURRENCY });
const pyOne = async (queue, counter) => nest.client.send('bench.noop', [counter, { n: 0 }], { queue });
await probe(pyOne, pyQueue);
await probe(pyOne, tsQueue);
const load0 = loadavg();
try {
  await row('Python client → Python worker (Celery with itself)', pyQueue, pythonSend);
  await row('Nest client → Python worker', pyQueue, (q, c) => nestSend(nest.client, q, c));
  await row('Python client → Nest worker', tsQueue, pythonSend);
  await row('Nest client → Nest worker (protocol celery)', tsQueue, (q, c) => nestSend(nest.client, q, c));
} finally {
  worker.p.kill('SIGTERM');
  await worker.exited;
  await nest.worker.stop();
  await nest.app.close();
  await nest.counterRedis.quit();
  // results of this run, and the queues' lists
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'celery-task-meta-*', 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  for (const pattern of [`*${RUN}*`]) {
    let c = '0';
    do {
      const [next, keys] = await redis.scan(c, 'MATCH', pattern, 'COUNT', 1000);
      c = next;
      if (keys.length) await redis.del(...keys);
    } while (c !== '0');
  }
  await redis.quit();
}

const load1 = loadavg();
const out = [
  `- date: ${new Date().toISOString()}; ${cpus().length} CPUs (${cpus()[0].model}); Node ${process.version}`,
  `- ${N} no-op tasks per row (each INCRs a counter), results kept; Redis DB ${base.pathname.slice(1)} of its own`,
  `- workers at concurrency ${CONCURRENCY} (Python: celery worker --pool=threads); Nest sends ${INFLIGHT} in flight, Python's producer one at a time (send_task)`,
  `- load average ${load0.map((l) => l.toFixed(2)).join(' / ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' / ')} at the end (shared machine)`,
  '',
  '| direction | enqueue, tasks/s | first send → last run, tasks/s |',
  '| --- | ---: | ---: |',
  ...rows.map((r) => `| ${r.label} | ${r.enqueue.toLocaleString('en')} | ${r.e2e.toLocaleString('en')} |`),
];
process.stdout.write(out.join('\n') + '\n');
