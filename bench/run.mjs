// npm run bench — nestjs-taskqueue vs BullMQ on the same Redis, in one run.
// Every timed part runs in a child process of its own (child.mjs), one library
// at a time, against an empty key prefix that is deleted afterwards. Progress
// goes to stderr; the report (markdown) to stdout, and with --out FILE to a file.
import { fork, execSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { REDIS_URL } from './lib/adapters.mjs';
import { backgroundRate, delta, deletePrefix, prefixMemory, snapshot } from './lib/redis-stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outFile = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : undefined; // e.g. --only 1,3

const S = quick ? 0.1 : 1;
const CFG = {
  enqueueN: Math.round(20_000 * S),
  inflight: 100,
  drainN: Math.round(50_000 * S),
  drainC1N: Math.round(Number(process.env.BENCH_C1_N ?? 50_000) * S),
  batch: 1000,
  repeat: Number(process.env.BENCH_REPEAT ?? 2), // drains at c=10 and c=100: best of this many, alternating libraries
  latencyRate: 200,
  latencyMs: quick ? 4000 : 10_000,
  latencyBlocks: 2,
  workerConcurrency: 10,
  delayedN: 500,
  delayedRate: 500,
  delayMs: 2000,
  memN: Math.round(10_000 * S),
  chordSizes: [Math.round(10_000 * S), Math.round(1_000 * S)],
  chordConcurrency: 100,
  signalVariants: (process.env.BENCH_SIGNAL_VARIANTS ?? 'none,eem,eem-listener,decorator,events,metrics,tracing').split(
    ',',
  ),
  signalRepeat: Number(process.env.BENCH_SIGNAL_REPEAT ?? 2),
};

const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PREFIX = { ours: `tqbench-${RUN}`, bullmq: `bqbench-${RUN}` };
const LIBS = process.env.BENCH_LIBS ? process.env.BENCH_LIBS.split(',') : ['ours', 'bullmq']; // a subset, for experiments
const LABEL = { ours: 'nestjs-taskqueue', bullmq: 'BullMQ' };

const log = (...a) =>
  process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] ${a.join(' ')}\n`);
const T0 = performance.now();
const redis = new Redis(REDIS_URL, { connectionName: 'bench:admin' });
const children = new Set();
let queueSeq = 0;
const newQueue = (tag) => `b${++queueSeq}-${tag}`;

// ---------------------------------------------------------------- children

class Child {
  constructor(spec) {
    this.spec = spec;
    this.inbox = [];
    this.waiters = [];
    this.proc = fork(join(here, 'child.mjs'), [JSON.stringify(spec)], {
      execArgv: ['--no-warnings', ...(process.env.BENCH_CHILD_ARGS ? process.env.BENCH_CHILD_ARGS.split(' ') : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(this.proc);
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code) => {
        children.delete(this.proc);
        const err = new Error(`child ${spec.lib} ${spec.role} exited with ${code}`);
        for (const w of this.waiters.splice(0)) w.reject(err);
        resolve(code);
      }),
    );
    this.proc.on('message', (m) => {
      const i = this.waiters.findIndex((w) => w.type === m.type || m.type === 'error');
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        if (m.type === 'error') w.reject(new Error(m.message));
        else w.resolve(m);
      } else this.inbox.push(m);
    });
  }
  next(type, timeoutMs = 300_000) {
    const i = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
    if (i >= 0) {
      const [m] = this.inbox.splice(i, 1);
      return m.type === 'error' ? Promise.reject(new Error(m.message)) : Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timeout waiting for ${type} from ${this.spec.lib} ${this.spec.role}`)),
        timeoutMs,
      );
      this.waiters.push({
        type,
        resolve: (m) => (clearTimeout(t), resolve(m)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
    });
  }
  send(m) {
    this.proc.send(m);
  }
  async exit() {
    this.send({ type: 'exit' });
    const code = await this.exited;
    if (code !== 0) throw new Error(`child ${this.spec.lib} ${this.spec.role} exited with ${code}`);
  }
}

/** Boots a child, snapshots Redis, runs the timed part, snapshots again. */
async function phase(spec) {
  const child = new Child(spec);
  await child.next('ready');
  const a = await snapshot(redis);
  child.send({ type: 'go' });
  const result = await child.next('result');
  const b = await snapshot(redis);
  await child.exit();
  return { ...result, server: delta(a, b) };
}

// ---------------------------------------------------------------- rows

const results = {}; // key -> { ours, bullmq }
const costs = {}; // row key -> lib -> { n, client counts, server delta }
const notes = [];
const LOAD = {};
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
const put = (key, lib, value) => ((results[key] ??= {})[lib] = value);
const cost = (key, lib, n, clientCounts, server, nodeCpuUsec) =>
  ((costs[key] ??= {})[lib] = { n, client: clientCounts, server, nodeCpuUsec });

function pct(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function clean(lib) {
  const n = await deletePrefix(redis, PREFIX[lib]);
  return n;
}

async function rowMemory() {
  for (const lib of LIBS) {
    const queue = newQueue('mem');
    await clean(lib);
    const before = (await snapshot(redis)).usedMemory;
    log(`6. bytes per waiting task: ${LABEL[lib]} enqueues ${CFG.memN} (bulk, no worker)`);
    const r = await phase({ role: 'enqueue-bulk', lib, prefix: PREFIX[lib], queue, n: CFG.memN, batch: CFG.batch });
    const after = (await snapshot(redis)).usedMemory;
    const mem = await prefixMemory(redis, PREFIX[lib]);
    put('mem', lib, mem.bytes / CFG.memN);
    put('memUsed', lib, (after - before) / CFG.memN);
    put('memKeys', lib, { keys: mem.keys, byKind: mem.byKind });
    cost('bulk-mem', lib, CFG.memN, r.counts, r.server, r.cpuUsec);
    await clean(lib);
  }
}

async function rowEnqueueSingle() {
  for (const lib of LIBS) {
    const queue = newQueue('enq');
    await clean(lib);
    log(`1. enqueue one at a time: ${LABEL[lib]} ${CFG.enqueueN} tasks, ${CFG.inflight} in flight`);
    const r = await phase({
      role: 'enqueue-single',
      lib,
      prefix: PREFIX[lib],
      queue,
      n: CFG.enqueueN,
      inflight: CFG.inflight,
    });
    put('enqSingle', lib, (CFG.enqueueN * 1000) / r.ms);
    cost('enqSingle', lib, CFG.enqueueN, r.counts, r.server, r.cpuUsec);
    log(`   ${((CFG.enqueueN * 1000) / r.ms).toFixed(0)} tasks/s`);
    await clean(lib);
  }
}

/**
 * Bulk-enqueue n (a row-2 sample), then drain them with a fresh worker process
 * at concurrency c; `repeat` times, alternating the libraries; the best run counts.
 */
async function fillAndDrain(c, n, { noResult = false, key, repeat = 1 } = {}) {
  for (let rep = 0; rep < repeat; rep++) {
    for (const lib of LIBS) {
      const queue = newQueue(`c${c}`);
      await clean(lib);
      log(`2. bulk enqueue: ${LABEL[lib]} ${n} tasks in batches of ${CFG.batch}${noResult ? ' (no result kept)' : ''}`);
      const f = await phase({ role: 'enqueue-bulk', lib, prefix: PREFIX[lib], queue, n, batch: CFG.batch, noResult });
      if (!noResult) {
        ((results.enqBulkSamples ??= {})[lib] ??= []).push((n * 1000) / f.ms);
        if (!costs.enqBulk?.[lib]) cost('enqBulk', lib, n, f.counts, f.server, f.cpuUsec);
      }
      log(`   ${((n * 1000) / f.ms).toFixed(0)} tasks/s`);
      log(
        `3. drain: ${LABEL[lib]} ${n} tasks at concurrency ${c}${noResult ? ' (no result kept)' : ''}${repeat > 1 ? ` (run ${rep + 1}/${repeat})` : ''}`,
      );
      const d = await phase({ role: 'drain', lib, prefix: PREFIX[lib], queue, n, concurrency: c, noResult });
      const rate = (n * 1000) / d.ms;
      ((results[`${key}Samples`] ??= {})[lib] ??= []).push(rate);
      if (!(results[key]?.[lib] >= rate)) {
        put(key, lib, rate);
        cost(key, lib, n, d.counts, d.server, d.cpuUsec);
      }
      log(`   ${rate.toFixed(0)} tasks/s`);
      await clean(lib);
    }
  }
}

async function rowLatencyAndDelayed() {
  // Both workers run at once (the idle one only sits in a blocking pop); the
  // latency window alternates between the libraries in blocks, so that noise
  // from other users of this shared machine falls on both alike.
  const workers = {};
  const queues = {};
  for (const lib of LIBS) {
    queues[lib] = newQueue('lat');
    await clean(lib);
    const w = new Child({
      lib,
      prefix: PREFIX[lib],
      queue: queues[lib],
      role: 'worker',
      concurrency: CFG.workerConcurrency,
    });
    await w.next('ready');
    w.send({ type: 'go' });
    await w.next('started');
    w.send({ type: 'collect' });
    await w.next('samples'); // resets the worker's counters
    workers[lib] = w;
  }
  await new Promise((r) => setTimeout(r, 200));
  const acc = {};
  for (let block = 0; block < CFG.latencyBlocks; block++) {
    for (const lib of LIBS) {
      const base = { lib, prefix: PREFIX[lib], queue: queues[lib] };
      const ms = CFG.latencyMs / CFG.latencyBlocks;
      log(
        `4. latency: ${LABEL[lib]} ${CFG.latencyRate} tasks/s for ${ms / 1000} s (block ${block + 1}/${CFG.latencyBlocks}), worker concurrency ${CFG.workerConcurrency}`,
      );
      const producer = new Child({ ...base, role: 'latency', rate: CFG.latencyRate, durationMs: ms });
      await producer.next('ready');
      const a = await snapshot(redis);
      producer.send({ type: 'go' });
      const lat = await producer.next('result', 120_000);
      workers[lib].send({ type: 'collect' });
      const ws = await workers[lib].next('samples');
      const b = await snapshot(redis);
      await producer.exit();
      const x = (acc[lib] ??= { start: [], result: [], rates: [], counts: undefined, server: undefined, cpu: 0 });
      x.start.push(...ws.lat);
      x.result.push(...lat.samples);
      x.rates.push(lat.achievedRate);
      x.counts = mergeCounts(x.counts, mergeCounts(lat.counts, ws.counts));
      x.server = addDelta(x.server, delta(a, b));
      x.cpu += lat.cpuUsec + ws.cpuUsec;
      log(
        `   enqueue→start p99 ${pct(ws.lat, 99).toFixed(2)} ms, enqueue→result p99 ${pct(lat.samples, 99).toFixed(2)} ms (achieved ${lat.achievedRate.toFixed(1)}/s)`,
      );
    }
  }
  for (const lib of LIBS) {
    const x = acc[lib];
    put('latStart', lib, { p50: pct(x.start, 50), p95: pct(x.start, 95), p99: pct(x.start, 99), n: x.start.length });
    put('latResult', lib, {
      p50: pct(x.result, 50),
      p95: pct(x.result, 95),
      p99: pct(x.result, 99),
      n: x.result.length,
      rate: x.rates.reduce((p, q) => p + q, 0) / x.rates.length,
    });
    cost('latency', lib, x.result.length, x.counts, x.server, x.cpu);
  }

  for (const lib of LIBS) {
    const base = { lib, prefix: PREFIX[lib], queue: queues[lib] };
    const worker = workers[lib];
    log(`5. delayed: ${LABEL[lib]} ${CFG.delayedN} tasks due in ${CFG.delayMs} ms, enqueued at ${CFG.delayedRate}/s`);
    const c0 = await snapshot(redis);
    const dp = await phase({ ...base, role: 'delayed', n: CFG.delayedN, delayMs: CFG.delayMs, rate: CFG.delayedRate });
    const late = [];
    let wcounts;
    let wcpu = 0;
    const deadline = performance.now() + CFG.delayMs + 15_000;
    while (late.length < CFG.delayedN && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      worker.send({ type: 'collect' });
      const s = await worker.next('samples');
      late.push(...s.late);
      wcounts = mergeCounts(wcounts, s.counts);
      wcpu += s.cpuUsec;
    }
    const c1 = await snapshot(redis);
    if (late.length < CFG.delayedN)
      notes.push(
        `${LABEL[lib]}: only ${late.length}/${CFG.delayedN} delayed tasks started within ${CFG.delayMs + 15_000} ms.`,
      );
    put('late', lib, {
      p50: pct(late, 50),
      p95: pct(late, 95),
      p99: pct(late, 99),
      max: Math.max(...late),
      n: late.length,
      enqueueMs: dp.enqueueMs,
    });
    cost('delayed', lib, CFG.delayedN, mergeCounts(dp.counts, wcounts), delta(c0, c1), dp.cpuUsec + wcpu);
    log(
      `   lateness p50 ${pct(late, 50).toFixed(2)} ms, p99 ${pct(late, 99).toFixed(2)} ms (${late.length} started; enqueue took ${dp.enqueueMs.toFixed(0)} ms)`,
    );
  }
  for (const lib of LIBS) {
    await workers[lib].exit();
    await clean(lib);
  }
}

/**
 * Row 7: one chord (ours) / flow (BullMQ) of n no-op header tasks and a body
 * that receives their results; a worker child at concurrency 100 is started
 * (idle) first, then a producer child publishes and waits for the body's result.
 */
async function rowChord() {
  for (const n of CFG.chordSizes) {
    for (const lib of LIBS) {
      const queue = newQueue(`chord${n}`);
      await clean(lib);
      const worker = new Child({ lib, prefix: PREFIX[lib], queue, role: 'worker', concurrency: CFG.chordConcurrency });
      await worker.next('ready');
      worker.send({ type: 'go' });
      await worker.next('started');
      worker.send({ type: 'collect' });
      await worker.next('samples'); // resets the worker's counters
      log(`7. chord: ${LABEL[lib]} ${n} header tasks + body, worker concurrency ${CFG.chordConcurrency}`);
      const r = await phase({ role: 'chord', lib, prefix: PREFIX[lib], queue, n });
      worker.send({ type: 'collect' });
      const ws = await worker.next('samples');
      await worker.exit();
      put(`chord${n}`, lib, {
        ms: r.ms,
        publishMs: r.publishMs,
        commandsPerTask: r.server.totalCommands / n,
        rate: (n * 1000) / r.ms,
      });
      cost(`chord${n}`, lib, n, mergeCounts(r.counts, ws.counts), r.server, r.cpuUsec + ws.cpuUsec);
      log(
        `   ${r.ms.toFixed(0)} ms publish→body result (publish ${r.publishMs.toFixed(0)} ms), ${(r.server.totalCommands / n).toFixed(2)} Redis commands per header task`,
      );
      await clean(lib);
    }
  }
}

/** Row 8 (ours only): drain at concurrency 100 with and without signal listeners; alternating variants, repeated. */
async function rowSignals() {
  if (!LIBS.includes('ours')) return;
  const n = CFG.drainN;
  for (let rep = 0; rep < CFG.signalRepeat; rep++) {
    for (const signals of CFG.signalVariants) {
      const queue = newQueue(`sig-${signals}`);
      await clean('ours');
      await phase({ role: 'enqueue-bulk', lib: 'ours', prefix: PREFIX.ours, queue, n, batch: CFG.batch });
      log(`8. signals '${signals}': drain ${n} at concurrency 100 (run ${rep + 1}/${CFG.signalRepeat})`);
      const d = await phase({ role: 'drain', lib: 'ours', prefix: PREFIX.ours, queue, n, concurrency: 100, signals });
      const x = ((results.signals ??= {})[signals] ??= { rates: [], workerCpu: [], redisCpu: [], heard: [] });
      x.rates.push((n * 1000) / d.ms);
      x.workerCpu.push(d.cpuUsec / n);
      x.redisCpu.push(d.server.cpuUsec / n);
      x.heard.push(d.heard ?? 0);
      log(
        `   ${((n * 1000) / d.ms).toFixed(0)} tasks/s, worker CPU ${(d.cpuUsec / n).toFixed(1)} µs/task${d.heard !== undefined ? `, listener heard ${d.heard}` : ''}`,
      );
      await clean('ours');
    }
  }
}

function addDelta(a, b) {
  if (!a) return b;
  const commands = { ...a.commands };
  for (const [k, v] of Object.entries(b.commands)) {
    const p = commands[k] ?? { calls: 0, usec: 0 };
    commands[k] = { calls: p.calls + v.calls, usec: p.usec + v.usec };
  }
  return {
    ms: a.ms + b.ms,
    commands,
    cpuUsec: a.cpuUsec + b.cpuUsec,
    totalCommands: a.totalCommands + b.totalCommands,
    netIn: a.netIn + b.netIn,
    netOut: a.netOut + b.netOut,
  };
}

function mergeCounts(a, b) {
  if (!a) return b;
  if (!b) return a;
  const commands = { ...a.commands };
  for (const [k, v] of Object.entries(b.commands)) commands[k] = (commands[k] ?? 0) + v;
  return { roundTrips: a.roundTrips + b.roundTrips, commands };
}

// ---------------------------------------------------------------- report

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x) => (Number.isFinite(x) ? (x >= 0.1 ? x.toFixed(2) : x.toFixed(3)) : 'n/a');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');

function environment() {
  const sh = (c) => {
    try {
      return execSync(c, { encoding: 'utf8' }).trim();
    } catch {
      return 'n/a';
    }
  };
  const cpuModel = (/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8')) ?? [])[1] ?? cpus()[0]?.model;
  const ours = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).version;
  const bull = JSON.parse(readFileSync(join(here, '..', 'node_modules', 'bullmq', 'package.json'), 'utf8')).version;
  const ioredis = JSON.parse(readFileSync(join(here, '..', 'node_modules', 'ioredis', 'package.json'), 'utf8')).version;
  return {
    date: new Date().toISOString(),
    nproc: sh('nproc'),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    cpu: cpuModel,
    node: process.version,
    redis: sh('redis-server --version'),
    ours,
    bull,
    ioredis,
  };
}

function report(env, bg) {
  const L = [];
  const o = (k) => results[k]?.ours;
  const b = (k) => results[k]?.bullmq;
  L.push(`# nestjs-taskqueue vs BullMQ — npm run bench`, '');
  L.push(`- date: ${env.date}`);
  L.push(`- machine: ${env.nproc} CPUs (${env.cpu}), ${env.memory} RAM`);
  L.push(`- Node ${env.node}; ${env.redis}; ioredis ${env.ioredis}`);
  L.push(`- nestjs-taskqueue ${env.ours} (dist/ built by this run); bullmq ${env.bull}`);
  L.push(
    `- Redis and the machine are shared with other users: background Redis load while idle was ${f0(bg)} commands/s at the start of the run; load average ${LOAD.start} at the start, ${LOAD.end} at the end.`,
  );
  L.push(
    `- One library at a time; every timed part in a fresh child process; each row starts from an empty key prefix (deleted afterwards).`,
  );
  L.push(
    `- Same no-op task body on both sides, payload \`{ n: i }\` (\`args: [{ n: i }]\` for ours, job data for BullMQ).`,
  );
  L.push(
    `- Kept data: BullMQ default job options (completed jobs are kept) against ours keeping a result per task for \`resultExpires\` (1 day). Row 3d runs both without kept results (ours \`@Task({ ignoreResult: true })\`, BullMQ \`removeOnComplete/removeOnFail: true\`).`,
  );
  L.push('');
  L.push('| # | measure | nestjs-taskqueue | BullMQ | ours / BullMQ | better is | target | holds |');
  L.push('|---|---|---:|---:|---:|---|---|---|');
  const row = (id, name, ov, bv, higherBetter, target, fmt = f0) => {
    const ratio = ov / bv;
    let holds = '';
    if (target !== undefined) holds = (higherBetter ? ratio >= target : ratio <= target) ? 'yes' : '**no**';
    const tgt = target === undefined ? '' : higherBetter ? `≥ ${target}x` : `≤ ${target}x`;
    L.push(
      `| ${id} | ${name} | ${fmt(ov)} | ${fmt(bv)} | ${f2(ratio)}x | ${higherBetter ? 'higher' : 'lower'} | ${tgt} | ${holds} |`,
    );
  };
  const med = (a) => pct(a ?? [], 50);
  if (results.enqSingle)
    row(
      '1',
      `enqueue one at a time, ${CFG.inflight} in flight (${CFG.enqueueN.toLocaleString('en-US')} tasks), tasks/s`,
      o('enqSingle'),
      b('enqSingle'),
      true,
      1,
    );
  if (results.enqBulkSamples) {
    const n = results.enqBulkSamples.ours.length;
    row(
      '2',
      `enqueue in bulk, batches of ${CFG.batch} (median of ${n} fills of up to ${CFG.drainN.toLocaleString('en-US')}), tasks/s`,
      med(results.enqBulkSamples.ours),
      med(results.enqBulkSamples.bullmq),
      true,
      1,
    );
  }
  if (results.drain1)
    row(
      '3a',
      `drain ${CFG.drainC1N.toLocaleString('en-US')} at concurrency 1, tasks/s`,
      o('drain1'),
      b('drain1'),
      true,
    );
  if (results.drain10)
    row(
      '3b',
      `drain ${CFG.drainN.toLocaleString('en-US')} at concurrency 10, tasks/s`,
      o('drain10'),
      b('drain10'),
      true,
    );
  if (results.drain100)
    row(
      '3c',
      `drain ${CFG.drainN.toLocaleString('en-US')} at concurrency 100, tasks/s`,
      o('drain100'),
      b('drain100'),
      true,
      1.5,
    );
  if (results.drain100nr)
    row(
      '3d',
      `drain ${CFG.drainN.toLocaleString('en-US')} at concurrency 100, no result kept, tasks/s`,
      o('drain100nr'),
      b('drain100nr'),
      true,
    );
  if (results.latStart) {
    for (const p of ['p50', 'p95', 'p99'])
      row(
        '4',
        `enqueue→start ${p}, ms (${CFG.latencyRate}/s, c=${CFG.workerConcurrency})`,
        o('latStart')[p],
        b('latStart')[p],
        false,
        p === 'p99' ? 1 : undefined,
        f2,
      );
    for (const p of ['p50', 'p95', 'p99'])
      row('4', `enqueue→result ${p}, ms`, o('latResult')[p], b('latResult')[p], false, p === 'p99' ? 1 : undefined, f2);
  }
  if (results.late)
    for (const p of ['p50', 'p99'])
      row(
        '5',
        `lateness (start − due) of ${CFG.delayedN} tasks delayed ${CFG.delayMs} ms, ${p}, ms`,
        o('late')[p],
        b('late')[p],
        false,
        p === 'p99' ? 1 : undefined,
        f2,
      );
  for (const n of CFG.chordSizes) {
    if (!results[`chord${n}`]) continue;
    row(
      '7',
      `chord of ${n.toLocaleString('en-US')} no-op header tasks: publish → body result, ms (BullMQ: FlowProducer, ${n.toLocaleString('en-US')} children → parent completed)`,
      o(`chord${n}`).ms,
      b(`chord${n}`).ms,
      false,
      undefined,
      f0,
    );
    row(
      '7',
      `chord of ${n.toLocaleString('en-US')}: Redis commands per header task (server side, all processes)`,
      o(`chord${n}`).commandsPerTask,
      b(`chord${n}`).commandsPerTask,
      false,
      undefined,
      f2,
    );
  }
  if (results.mem) {
    row(
      '6',
      `Redis bytes per waiting task (MEMORY USAGE of all keys, ${CFG.memN.toLocaleString('en-US')} tasks)`,
      o('mem'),
      b('mem'),
      false,
      1,
    );
    row(
      '6',
      `Redis bytes per waiting task (INFO used_memory delta; noisy on a shared Redis)`,
      o('memUsed'),
      b('memUsed'),
      false,
    );
  }
  L.push('');
  const samples = (k) =>
    LIBS.map((lib) => `${LABEL[lib]} ${(results[`${k}Samples`]?.[lib] ?? []).map(f0).join(' / ')}`).join('; ');
  if (results.drain100)
    L.push(
      `Rows 3b and 3c are the best of ${CFG.repeat} runs per library, alternating (this machine is shared, and noise only ever slows a run down). All runs, tasks/s: c=10: ${samples('drain10')}; c=100: ${samples('drain100')}. Rows 3a and 3d: one run each. Row 2 is the median of every bulk fill that preceded a drain with results kept: ${LIBS.map((lib) => `${LABEL[lib]} ${(results.enqBulkSamples?.[lib] ?? []).map(f0).join(' / ')}`).join('; ')}.`,
      '',
    );
  if (results.drain1 && CFG.drainC1N !== CFG.drainN)
    L.push(`Row 3a drains ${CFG.drainC1N} tasks (not ${CFG.drainN}) to keep the run short.`, '');
  if (results.latResult)
    L.push(
      `Row 4: both workers run throughout; the ${CFG.latencyMs / 1000} s per library are taken in ${CFG.latencyBlocks} alternating blocks (ours, BullMQ, ours, ...), one producer process per block. Achieved rates: ours ${f1(o('latResult').rate)}/s, BullMQ ${f1(b('latResult').rate)}/s; samples: ours ${o('latResult').n}, BullMQ ${b('latResult').n}.`,
      '',
    );
  if (results.late)
    L.push(
      `Row 5: the ${CFG.delayedN} delayed tasks are enqueued one by one at a steady ${CFG.delayedRate}/s (so their due times are spread the same way for both), to the row-4 worker (concurrency ${CFG.workerConcurrency}); enqueue took: ours ${f0(o('late').enqueueMs)} ms, BullMQ ${f0(b('late').enqueueMs)} ms; max lateness ours ${f2(o('late').max)} ms, BullMQ ${f2(b('late').max)} ms.`,
      '',
    );
  if (results.memKeys) {
    for (const lib of LIBS) {
      const k = results.memKeys[lib];
      const kinds = Object.entries(k.byKind)
        .sort((x, y) => y[1] - x[1])
        .map(([kind, bytes]) => `\`${kind}\` ${f0(bytes / CFG.memN)}`)
        .join(', ');
      L.push(`Row 6 ${LABEL[lib]}: ${k.keys} keys; bytes per task by key: ${kinds}.`);
    }
    L.push('');
  }
  if (CFG.chordSizes.some((n) => results[`chord${n}`])) {
    const sizes = CFG.chordSizes.filter((n) => results[`chord${n}`]);
    L.push(
      `Row 7: a worker child (concurrency ${CFG.chordConcurrency}) is started and idle first; a producer child then publishes the whole workflow and waits for the body's result: ours \`client.applyCanvas(chord(group(n × signature('bench.noop', [])), signature('bench.collect', [])))\` and \`get()\`, whose body gets the n results as its first argument; BullMQ \`FlowProducer.add({ name: 'collect', children: n × noop })\` and \`waitUntilFinished\`, whose parent calls \`job.getChildrenValues()\`. Publish alone took: ${sizes.map((n) => `n=${n}: ours ${f0(o(`chord${n}`).publishMs)} ms, BullMQ ${f0(b(`chord${n}`).publishMs)} ms`).join('; ')}. Header tasks per second: ${sizes.map((n) => `n=${n}: ours ${f0(o(`chord${n}`).rate)}, BullMQ ${f0(b(`chord${n}`).rate)}`).join('; ')}.`,
      '',
    );
  }
  if (results.signals) {
    const sg = results.signals;
    const best = (k) => Math.max(...sg[k].rates);
    const med = (a) => pct(a, 50);
    const DESC = {
      none: 'no listener (no EventEmitterModule)',
      eem: 'EventEmitterModule.forRoot() imported, no listener',
      'eem-listener': 'EventEmitterModule + one @OnEvent(TaskSignal.Success) listener',
      decorator: 'one @OnTaskSignal(TaskSignal.Success) method, no EventEmitterModule',
      events: 'events: true (every task and worker event written to the stream)',
      metrics: 'TaskQueueMetricsModule (counters and histograms per task)',
      tracing: 'OpenTelemetry: a NodeTracerProvider with a batch processor (spans dropped by the exporter)',
    };
    L.push(`## Signal, events, metrics and tracing overhead (row 8, nestjs-taskqueue only)`, '');
    L.push(
      `Drain ${CFG.drainN.toLocaleString('en-US')} at concurrency 100 (results kept), ${CFG.signalRepeat} runs per variant, variants alternating. Throughput is the best run; worker CPU per task (the worker child's user+sys over the drain) is the median, and is the steadier number on this shared machine.`,
      '',
    );
    L.push(
      '| variant | tasks/s (best) | / no listener | all runs, tasks/s | worker CPU µs/task (median) | / no listener | Redis CPU µs/task (median) | listener calls per run |',
    );
    L.push('|---|---:|---:|---|---:|---:|---:|---:|');
    for (const k of CFG.signalVariants) {
      if (!sg[k]) continue;
      L.push(
        `| ${DESC[k]} | ${f0(best(k))} | ${f2(best(k) / best('none'))}x | ${sg[k].rates.map(f0).join(' / ')} | ${f1(med(sg[k].workerCpu))} | ${f2(med(sg[k].workerCpu) / med(sg.none.workerCpu))}x | ${f1(med(sg[k].redisCpu))} | ${sg[k].heard.map(f0).join(' / ')} |`,
      );
    }
    L.push('');
  }
  for (const n of notes) L.push(`Note: ${n}`);
  if (notes.length) L.push('');

  // cost per task
  L.push('## Cost per task', '');
  L.push(
    'Client side: what the library process(es) sent (ioredis instrumented; a pipeline or MULTI is one round trip). Server side: `INFO commandstats` / `INFO cpu` / `INFO stats` deltas over the timed part (commands run inside Lua scripts count as commands; "script µs" is EVALSHA time, which includes them; Redis CPU is user+sys of the server process; library process CPU is user+sys of the child process(es) running the library: the producer, the worker, or both). Server numbers include other users of this Redis (see background load above).',
    '',
  );
  L.push(
    '| row | library | round trips/task | commands sent/task | server commands/task | script µs/task | Redis CPU µs/task | library process CPU µs/task | net bytes in+out/task |',
  );
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  const ROWNAME = {
    enqSingle: '1 enqueue single',
    enqBulk: '2 enqueue bulk',
    'bulk-mem': '6 bulk fill (10k)',
    drain1: '3a drain c=1',
    drain10: '3b drain c=10',
    drain100: '3c drain c=100',
    drain100nr: '3d drain c=100 no result',
    latency: '4 latency (producer+worker)',
    delayed: '5 delayed (producer+worker)',
    ...Object.fromEntries(CFG.chordSizes.map((n) => [`chord${n}`, `7 chord ${n} (producer+worker)`])),
  };
  for (const key of Object.keys(ROWNAME)) {
    if (!costs[key]) continue;
    for (const lib of LIBS) {
      const c = costs[key][lib];
      if (!c) continue;
      const sent = Object.values(c.client.commands).reduce((x, y) => x + y, 0);
      const script = Object.entries(c.server.commands)
        .filter(([k]) => /^eval/.test(k))
        .reduce((x, [, v]) => x + v.usec, 0);
      L.push(
        `| ${ROWNAME[key]} | ${LABEL[lib]} | ${f3(c.client.roundTrips / c.n)} | ${f3(sent / c.n)} | ${f2(c.server.totalCommands / c.n)} | ${f1(script / c.n)} | ${f1(c.server.cpuUsec / c.n)} | ${f1(c.nodeCpuUsec / c.n)} | ${f0((c.server.netIn + c.server.netOut) / c.n)} |`,
      );
    }
  }
  L.push('');
  L.push('### Commands per task, by name', '');
  L.push(
    'Client side (scripts by name) and server side (`calls/task (usec/task)`, top 12). Rows: 1, 3c, 4, 7 (largest chord).',
    '',
  );
  for (const key of ['enqSingle', 'drain100', 'latency', `chord${CFG.chordSizes[0]}`]) {
    if (!costs[key]) continue;
    for (const lib of LIBS) {
      const c = costs[key][lib];
      if (!c) continue;
      const cl = Object.entries(c.client.commands)
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => `${k} ${f2(v / c.n)}`)
        .join(', ');
      const sv = Object.entries(c.server.commands)
        .sort((x, y) => y[1].calls - x[1].calls)
        .slice(0, 12)
        .map(([k, v]) => `${k} ${f2(v.calls / c.n)} (${f2(v.usec / c.n)})`)
        .join(', ');
      L.push(`- **${ROWNAME[key]}, ${LABEL[lib]}** — sent: ${cl}`);
      L.push(`  — server: ${sv}`);
    }
  }
  L.push('');
  return L.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  mkdirSync(join(here, '.build'), { recursive: true });
  const env = environment();
  log(`run ${RUN}: prefixes ${PREFIX.ours} and ${PREFIX.bullmq} on ${REDIS_URL}${quick ? ' (quick mode)' : ''}`);
  LOAD.start = load();
  const bg = await backgroundRate(redis);
  log(`background load on this Redis: ${bg.toFixed(0)} commands/s`);
  const want = (id) => !only || only.includes(id);
  if (want('6')) await rowMemory();
  if (want('1')) await rowEnqueueSingle();
  if (want('3') || want('2')) {
    const drains = (process.env.BENCH_DRAINS ?? '100,10,1,100nr').split(','); // a subset, for experiments
    if (drains.includes('100')) await fillAndDrain(100, CFG.drainN, { key: 'drain100', repeat: CFG.repeat });
    if (drains.includes('10')) await fillAndDrain(10, CFG.drainN, { key: 'drain10', repeat: CFG.repeat });
    if (drains.includes('1')) await fillAndDrain(1, CFG.drainC1N, { key: 'drain1' });
    if (drains.includes('100nr')) await fillAndDrain(100, CFG.drainN, { key: 'drain100nr', noResult: true });
  }
  if (want('4') || want('5')) await rowLatencyAndDelayed();
  if (want('7')) await rowChord();
  if (want('8')) await rowSignals();
  LOAD.end = load();
  const md = report(env, bg);
  writeFileSync(
    join(here, '.build', 'last-run.json'),
    JSON.stringify({ env, cfg: CFG, results, costs, notes }, null, 2),
  );
  writeFileSync(join(here, '.build', 'last-run.md'), md);
  if (outFile) writeFileSync(outFile, md);
  process.stdout.write(md + '\n');
  log(`done in ${((performance.now() - T0) / 1000).toFixed(0)} s`);
}

async function cleanupAll() {
  for (const p of children) p.kill('SIGKILL');
  for (const lib of LIBS) {
    try {
      const n = await deletePrefix(redis, PREFIX[lib]);
      if (n) log(`deleted ${n} leftover keys of ${PREFIX[lib]}`);
    } catch (err) {
      log(`cleanup of ${PREFIX[lib]} failed: ${err}`);
    }
  }
}

process.on('SIGINT', async () => {
  log('interrupted; cleaning up');
  await cleanupAll();
  process.exit(130);
});

try {
  await main();
} catch (err) {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
  redis.disconnect();
}
