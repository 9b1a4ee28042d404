// One interface over both libraries, so every benchmark row drives them the
// same way: add one, add many, wait for a result, run a worker.
import 'reflect-metadata';

// The built library: dist/ of this repo (npm run bench builds it); BENCH_DIST points elsewhere (another build, for comparisons).
const DIST = process.env.BENCH_DIST ? new URL(`file://${process.env.BENCH_DIST.replace(/\/$/, '')}/`) : new URL('../../dist/', import.meta.url);
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const url = new URL(REDIS_URL);
export const REDIS_CONN = { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0) };

/** The same no-op task body for both: it only notes the payload's reference time (when it has one). */
export function makeTaskBody(onStart) {
  return onStart ? async (payload) => onStart(payload) : async () => {};
}

/** nestjs-taskqueue: a Nest application context with TaskQueueModule and one @Task provider. */
export async function openOurs({ prefix, queue, onStart, noResult = false, waitResults = false }) {
  const { Module, Injectable } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const lib = await import(new URL('index.js', DIST).href);
  const body = makeTaskBody(onStart);

  // Decorators by hand: this file is plain JavaScript.
  class BenchTasks {
    async noop(payload) {
      return body(payload);
    }
    async noopNoResult(payload) {
      return body(payload);
    }
  }
  Injectable()(BenchTasks);
  const decorate = (method, ...opts) => lib.Task(...opts)(BenchTasks.prototype, method, Object.getOwnPropertyDescriptor(BenchTasks.prototype, method));
  decorate('noop', 'bench.noop');
  // the counterpart of BullMQ's removeOnComplete: no result is kept
  decorate('noopNoResult', 'bench.noop.nr', { ignoreResult: true });
  const task = noResult ? 'bench.noop.nr' : 'bench.noop';
  class BenchModule {}
  Module({
    imports: [lib.TaskQueueModule.forRoot({ brokerUrl: REDIS_URL, prefix, defaultQueue: queue })],
    providers: [BenchTasks],
  })(BenchModule);

  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false, abortOnError: false });
  await app.init();
  const client = app.get(lib.TaskClient);
  const worker = app.get(lib.TaskWorker);
  const { TASK_QUEUE_TRANSPORT } = await import(new URL('task-queue.constants.js', DIST).href);
  const transport = app.get(TASK_QUEUE_TRANSPORT);
  await transport.ping(); // connected before anything is timed
  if (waitResults) {
    // Work around a race in RedisTransport.ensureSubscriber (see RESULTS.md): a
    // SUBSCRIBE written while the new subscriber connection is still in its
    // ioredis handshake fails the ready check, and get() calls then reject or
    // hang. One get() before the timed part lets the connection become ready.
    await client.result('bench-warmup-none').get({ timeout: 100 }).catch(() => undefined);
  }
  return {
    name: 'ours',
    add: (payload, opts) => client.send(task, [payload], opts?.delayMs ? { countdown: opts.delayMs } : undefined),
    addBulk: (payloads) => client.sendMany(payloads.map((p) => ({ name: task, args: [p] }))),
    wait: (handle) => handle.get(),
    prepareWorker: async () => {},
    startWorker: (concurrency) => worker.start({ queues: [queue], concurrency }),
    /** Resolves when n tasks have finished (acked) since the worker started. */
    whenProcessed: (n) =>
      new Promise((resolve) => {
        const t = setInterval(() => {
          const s = worker.stats();
          if (s.succeeded >= n && s.running === 0) {
            clearInterval(t);
            resolve(performance.now());
          }
        }, 1);
      }),
    transport,
    close: () => app.close(),
  };
}

/** BullMQ: Queue (+ QueueEvents when waiting for results) and a Worker. */
export async function openBull({ prefix, queue, onStart, waitResults = false, noResult = false }) {
  const { Queue, Worker, QueueEvents } = await import('bullmq');
  const body = makeTaskBody(onStart);
  const jobOpts = noResult ? { removeOnComplete: true, removeOnFail: true } : {};
  const q = new Queue(queue, { connection: { ...REDIS_CONN }, prefix });
  await q.waitUntilReady();
  let events;
  if (waitResults) {
    events = new QueueEvents(queue, { connection: { ...REDIS_CONN }, prefix });
    await events.waitUntilReady();
  }
  let worker;
  let completed = 0;
  let target = Infinity;
  let onTarget;
  return {
    name: 'bullmq',
    add: (payload, opts) => q.add('noop', payload, opts?.delayMs ? { ...jobOpts, delay: opts.delayMs } : jobOpts),
    addBulk: (payloads) => q.addBulk(payloads.map((data) => ({ name: 'noop', data, opts: jobOpts }))),
    wait: (job) => job.waitUntilFinished(events),
    prepareWorker: async (concurrency) => {
      worker = new Worker(queue, (job) => body(job.data), { connection: { ...REDIS_CONN, maxRetriesPerRequest: null }, prefix, concurrency, autorun: false });
      worker.on('completed', () => {
        if (++completed >= target && onTarget) {
          const f = onTarget;
          onTarget = undefined;
          f(performance.now());
        }
      });
      worker.on('error', (err) => process.stderr.write(`bullmq worker error: ${err}\n`));
      await worker.waitUntilReady();
    },
    startWorker: async () => {
      worker.run().catch((err) => process.stderr.write(`bullmq worker run: ${err}\n`));
    },
    whenProcessed: (n) =>
      new Promise((resolve) => {
        target = n;
        if (completed >= n) resolve(performance.now());
        else onTarget = resolve;
      }),
    close: async () => {
      await worker?.close();
      await events?.close();
      await q.close();
    },
  };
}

export function open(lib, opts) {
  return lib === 'ours' ? openOurs(opts) : openBull(opts);
}
