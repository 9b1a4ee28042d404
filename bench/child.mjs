// One side of one benchmark row, in its own process (see run.mjs). Protocol over
// IPC: the child boots and sends {type:'ready'}; the parent snapshots Redis
// stats and sends {type:'go'}; the child runs the timed part and sends
// {type:'result'}; the parent snapshots again and sends {type:'exit'}.
// The 'worker' role instead answers {type:'collect'} until {type:'exit'}.
import { resetCounts, snapshotCounts } from './lib/instrument.mjs';
import { open } from './lib/adapters.mjs';

const spec = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now(); // wall clock, sub-ms, comparable across processes
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const inbox = [];
let waiter;
process.on('message', (m) => {
  if (waiter) {
    const w = waiter;
    waiter = undefined;
    w(m);
  } else inbox.push(m);
});
const next = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => (waiter = r)));
const send = (m) => new Promise((r) => process.send(m, r));

/** Runs `total` calls of fn(i), `inflight` at a time. */
async function lanes(total, inflight, fn) {
  let i = 0;
  const lane = async () => {
    while (i < total) await fn(i++);
  };
  await Promise.all(Array.from({ length: Math.min(inflight, total) }, lane));
}

// Samples taken inside the task body: 'lat' = enqueue→start, 'late' = start−due.
const startSamples = { lat: [], late: [] };
const onStart = (p) => {
  if (p && p.k) startSamples[p.k].push(now() - p.ref);
};

async function main() {
  const { lib, prefix, queue } = spec;
  const role = spec.role;
  const adapter = await open(lib, {
    prefix,
    queue,
    onStart: role === 'worker' ? onStart : undefined,
    waitResults: role === 'latency' || role === 'chord',
    noResult: spec.noResult,
    signals: spec.signals,
  });
  if (role === 'drain' || role === 'worker') await adapter.prepareWorker(spec.concurrency);
  await send({ type: 'ready' });
  const go = await next();
  if (go.type !== 'go') throw new Error(`expected go, got ${go.type}`);
  resetCounts();
  const cpu0 = process.cpuUsage();
  let result;

  if (role === 'enqueue-single') {
    const t0 = performance.now();
    await lanes(spec.n, spec.inflight, (i) => adapter.add({ n: i }));
    result = { ms: performance.now() - t0 };
  } else if (role === 'enqueue-bulk') {
    const t0 = performance.now();
    for (let i = 0; i < spec.n; i += spec.batch) {
      const payloads = [];
      for (let j = i; j < Math.min(spec.n, i + spec.batch); j++) payloads.push({ n: j });
      await adapter.addBulk(payloads);
    }
    result = { ms: performance.now() - t0 };
  } else if (role === 'drain') {
    const done = adapter.whenProcessed(spec.n);
    const t0 = performance.now();
    await adapter.startWorker(spec.concurrency);
    const t1 = await done;
    result = { ms: t1 - t0 };
    if (spec.signals && spec.signals !== 'none') result.heard = adapter.heard();
  } else if (role === 'chord') {
    // Publish one chord of n header tasks, wait for its body's result (the worker runs elsewhere).
    const t0 = performance.now();
    const handle = await adapter.chord(spec.n);
    const published = performance.now();
    const value = await adapter.waitLong(handle);
    const t1 = performance.now();
    if (value !== spec.n) throw new Error(`chord body returned ${JSON.stringify(value)}, expected ${spec.n}`);
    result = { ms: t1 - t0, publishMs: published - t0 };
  } else if (role === 'worker') {
    let mark = process.cpuUsage();
    var cpuSince = () => {
      const d = process.cpuUsage(mark);
      mark = process.cpuUsage();
      return d.user + d.system;
    };
    await adapter.startWorker(spec.concurrency);
    await send({ type: 'started' });
    for (;;) {
      const m = await next();
      if (m.type === 'collect') {
        const out = {
          lat: startSamples.lat.splice(0),
          late: startSamples.late.splice(0),
          counts: snapshotCounts(),
          cpuUsec: cpuSince(),
        };
        resetCounts();
        await send({ type: 'samples', ...out });
      } else if (m.type === 'exit') break;
    }
    await adapter.close();
    process.exit(0);
  } else if (role === 'latency') {
    // A steady rate: call i is made at start + i/rate, whether or not earlier ones have finished.
    const total = Math.round((spec.rate * spec.durationMs) / 1000);
    const interval = 1000 / spec.rate;
    const samples = [];
    const pending = [];
    const start = performance.now() + 20;
    for (let i = 0; i < total; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0.5) await sleep(wait);
      const ref = now();
      pending.push(
        adapter
          .add({ n: i, k: 'lat', ref })
          .then((h) => adapter.wait(h))
          .then(() => samples.push(now() - ref)),
      );
    }
    await Promise.all(pending);
    result = { samples, achievedRate: total / ((performance.now() - start) / 1000) };
  } else if (role === 'delayed') {
    // Paced like row 4 (call i at start + i/rate), so lateness measures when a
    // due task starts, not how fast a burst of due tasks is worked off.
    const interval = 1000 / spec.rate;
    const pending = [];
    const start = performance.now() + 20;
    for (let i = 0; i < spec.n; i++) {
      const wait = start + i * interval - performance.now();
      if (wait > 0.5) await sleep(wait);
      const ref = now() + spec.delayMs;
      pending.push(adapter.add({ n: i, k: 'late', ref }, { delayMs: spec.delayMs }));
    }
    await Promise.all(pending);
    result = { enqueueMs: performance.now() - start };
  } else throw new Error(`unknown role ${role}`);

  result.counts = snapshotCounts();
  const cpu = process.cpuUsage(cpu0);
  result.cpuUsec = cpu.user + cpu.system;
  await send({ type: 'result', ...result });
  const bye = await next();
  if (bye.type !== 'exit') throw new Error(`expected exit, got ${bye.type}`);
  await adapter.close();
  process.exit(0);
}

main().catch(async (err) => {
  process.stderr.write(`[child ${spec.lib} ${spec.role}] ${err?.stack ?? err}\n`);
  try {
    await send({ type: 'error', message: String(err?.stack ?? err) });
  } catch {}
  process.exit(1);
});
