// One interface over both libraries, so every benchmark row drives them the
// same way: add one, add many, wait for a result, run a worker.
import 'reflect-metadata';

// The built library: dist/ of this repo (npm run bench builds it); BENCH_DIST points elsewhere (another build, for comparisons).
const DIST = process.env.BENCH_DIST
  ? new URL(`file://${process.env.BENCH_DIST.replace(/\/$/, '')}/`)
  : new URL('../../dist/', import.meta.url);
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const url = new URL(REDIS_URL);
export const REDIS_CONN = {
  host: url.hostname,
  port: Number(url.port || 6379),
  db: Number(url.pathname.slice(1) || 0),
};

/** The same no-op task body for both: it only notes the payload's reference time (when it has one). */
export function makeTaskBody(onStart) {
  return onStart ? async (payload) => onStart(payload) : async () => {};
}

/** nestjs-taskqueue: a Nest application context with TaskQueueModule and one @Task provider. */
export async function openOurs({
  prefix,
  queue,
  onStart,
  noResult = false,
  waitResults = false,
  signals = 'none',
  brokerUrl = REDIS_URL,
  durability,
}) {
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
    /** A chord's body: gets the header results (in header order). */
    async collect(results) {
      return Array.isArray(results) ? results.length : -1;
    }
  }
  Injectable()(BenchTasks);
  const decorate = (method, ...opts) =>
    lib.Task(...opts)(BenchTasks.prototype, method, Object.getOwnPropertyDescriptor(BenchTasks.prototype, method));
  decorate('noop', 'bench.noop');
  // the counterpart of BullMQ's removeOnComplete: no result is kept
  decorate('noopNoResult', 'bench.noop.nr', { ignoreResult: true });
  decorate('collect', 'bench.collect');
  const task = noResult ? 'bench.noop.nr' : 'bench.noop';

  // Signal listeners (row 7): 'none'; 'eem' = EventEmitterModule imported, no
  // listener; 'eem-listener' = plus one @OnEvent(task success) listener;
  // 'decorator' = one @OnTaskSignal(task success) method, no EventEmitterModule.
  // 'events' = events: true; 'metrics' = TaskQueueMetricsModule; 'tracing' = an OpenTelemetry
  // provider with a batch processor whose exporter drops the spans.
  const imports = [
    lib.TaskQueueModule.forRoot({ brokerUrl, prefix, defaultQueue: queue, durability, events: signals === 'events' }),
  ];
  const providers = [BenchTasks];
  let heard = 0;
  if (signals === 'eem' || signals === 'eem-listener') {
    const { EventEmitterModule, OnEvent } = await import('@nestjs/event-emitter');
    imports.push(EventEmitterModule.forRoot());
    if (signals === 'eem-listener') {
      class BenchListener {
        onSuccess() {
          heard++;
        }
      }
      Injectable()(BenchListener);
      OnEvent(lib.TaskSignal.Success)(
        BenchListener.prototype,
        'onSuccess',
        Object.getOwnPropertyDescriptor(BenchListener.prototype, 'onSuccess'),
      );
      providers.push(BenchListener);
    }
  } else if (signals === 'decorator') {
    class BenchListener {
      onSuccess() {
        heard++;
      }
    }
    Injectable()(BenchListener);
    lib.OnTaskSignal(lib.TaskSignal.Success)(
      BenchListener.prototype,
      'onSuccess',
      Object.getOwnPropertyDescriptor(BenchListener.prototype, 'onSuccess'),
    );
    providers.push(BenchListener);
  } else if (signals === 'metrics') {
    const { TaskQueueMetricsModule } = await import(new URL('metrics/index.js', DIST).href);
    const { Registry } = await import('prom-client');
    imports.push(TaskQueueMetricsModule.forRoot({ registry: new Registry() }));
  } else if (signals === 'tracing') {
    const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
    const drop = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };
    new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(drop)] }).register();
  } else if (!['none', 'events'].includes(signals)) throw new Error(`unknown signals option ${signals}`);
  class BenchModule {}
  Module({ imports, providers })(BenchModule);

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
    await client
      .result('bench-warmup-none')
      .get({ timeout: 100 })
      .catch(() => undefined);
  }
  return {
    name: 'ours',
    add: (payload, opts) => client.send(task, [payload], opts?.delayMs ? { countdown: opts.delayMs } : undefined),
    addBulk: (payloads) => client.sendMany(payloads.map((p) => ({ name: task, args: [p] }))),
    wait: (handle) => handle.get(),
    /** A chord of n no-op header tasks and a body that gets their results; returns the body's handle. */
    chord: (n) =>
      client.applyCanvas(
        lib.chord(
          lib.group(Array.from({ length: n }, () => client.signature('bench.noop', []))),
          client.signature('bench.collect', []),
        ),
      ),
    waitLong: (handle) => handle.get({ timeout: 600_000 }),
    /** How many signals the listener heard (row 7). */
    heard: () => heard,
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
export async function openBull({ prefix, queue, onStart, waitResults = false, noResult = false, connect }) {
  const { Queue, Worker, QueueEvents, FlowProducer } = await import('bullmq');
  const body = makeTaskBody(onStart);
  const jobOpts = noResult ? { removeOnComplete: true, removeOnFail: true } : {};
  // `connect(blocking)` gives a connection of the caller's (a Cluster); else the bench's Redis.
  const connection = (blocking = false) =>
    connect ? connect(blocking) : { ...REDIS_CONN, ...(blocking && { maxRetriesPerRequest: null }) };
  const q = new Queue(queue, { connection: connection(), prefix });
  await q.waitUntilReady();
  let events;
  if (waitResults) {
    events = new QueueEvents(queue, { connection: connection(true), prefix });
    await events.waitUntilReady();
  }
  let worker;
  let flow;
  let completed = 0;
  let target = Infinity;
  let onTarget;
  return {
    name: 'bullmq',
    add: (payload, opts) => q.add('noop', payload, opts?.delayMs ? { ...jobOpts, delay: opts.delayMs } : jobOpts),
    addBulk: (payloads) => q.addBulk(payloads.map((data) => ({ name: 'noop', data, opts: jobOpts }))),
    wait: (job) => job.waitUntilFinished(events),
    /** A flow of n no-op children and a parent that reads their values (BullMQ's chord); returns the parent job. */
    chord: async (n) => {
      flow ??= new FlowProducer({ connection: connection(), prefix });
      const tree = await flow.add({
        name: 'collect',
        queueName: queue,
        data: {},
        children: Array.from({ length: n }, (_, i) => ({ name: 'noop', queueName: queue, data: { n: i } })),
      });
      return tree.job;
    },
    waitLong: (job) => job.waitUntilFinished(events, 600_000),
    prepareWorker: async (concurrency) => {
      const processor = (job) =>
        job.name === 'collect' ? job.getChildrenValues().then((v) => Object.keys(v).length) : body(job.data);
      worker = new Worker(queue, processor, {
        connection: connection(true),
        prefix,
        concurrency,
        autorun: false,
      });
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
      await flow?.close();
      await q.close();
    },
  };
}

export function open(lib, opts) {
  return lib === 'ours' ? openOurs(opts) : openBull(opts);
}
