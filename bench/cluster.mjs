// npm run bench:cluster — the cluster rows: drain at concurrency 100 on a local
// Redis Cluster (3 masters, 3 replicas, started here on free ports) and on the
// single Redis of the main bench, ours beside BullMQ (with the hash-tagged
// prefix a Cluster requires of it); and the cost of durability: { replicas: 1 }
// on enqueue. Simpler than run.mjs: one process, one library at a time, best of
// BENCH_REPEAT runs. The report (markdown) goes to stdout.
import { execFile, execSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { REDIS_URL, openBull, openOurs } from './lib/adapters.mjs';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const N = quick ? 5_000 : 50_000;
const ENQ_N = quick ? 2_000 : 20_000;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 2);
const C = 100;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const T0 = performance.now();
const log = (...a) =>
  process.stderr.write(`[bench:cluster ${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] ${a.join(' ')}\n`);

// ---------------------------------------------------------------- a local cluster

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

async function startCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'tq-bench-cluster-'));
  const nodes = [];
  for (let i = 0; i < 6; i++) {
    const port = await freePort();
    const bus = await freePort();
    const proc = spawn(
      'redis-server',
      ['--port', `${port}`, '--cluster-enabled', 'yes', '--cluster-port', `${bus}`, '--cluster-config-file']
        .concat([join(dir, `nodes-${port}.conf`), '--dir', dir, '--bind', '127.0.0.1', '--save', '', '--appendonly'])
        .concat(['no']),
      { stdio: 'ignore' },
    );
    nodes.push({ port, proc });
  }
  const stop = () => {
    for (const n of nodes) n.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of nodes) {
      for (let i = 0; ; i++) {
        const r = new Redis({ port: n.port, lazyConnect: true, retryStrategy: () => null });
        r.on('error', () => undefined);
        const ok = await r
          .connect()
          .then(() => r.ping())
          .then(
            () => true,
            () => false,
          );
        r.disconnect();
        if (ok) break;
        if (i > 200) throw new Error(`redis-server on ${n.port} does not answer`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    await promisify(execFile)('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    for (let i = 0; ; i++) {
      const infos = await Promise.all(
        nodes.map(async (n) => {
          const r = new Redis({ port: n.port });
          try {
            const info = String(await r.call('CLUSTER', 'INFO'));
            const repl = String(await r.info('replication'));
            // a master counts once its replica is in sync (the first sync waits repl-diskless-sync-delay)
            return repl.includes('role:master') && !/slave0:.*state=online/.test(repl) ? 'syncing' : info;
          } finally {
            r.disconnect();
          }
        }),
      );
      if (infos.every((t) => t.includes('cluster_state:ok'))) break;
      if (i > 600) throw new Error('the cluster did not become healthy');
      await new Promise((res) => setTimeout(res, 100));
    }
    return { url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, nodes, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

// ---------------------------------------------------------------- rows

const opened = [];
function clusterConnector(nodes) {
  return (blocking) => {
    const c = new Cluster(
      nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: blocking ? { maxRetriesPerRequest: null } : {} },
    );
    opened.push(c);
    return c;
  };
}

async function deletePrefix(url, prefix) {
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Bulk-fills n tasks (untimed), then times a worker at concurrency C draining them. Tasks/s. */
async function drain(lib, target, rep) {
  const queue = `drain-${rep}`;
  const prefix = lib === 'ours' ? `tqbench-${RUN}-${rep}` : `{bqbench-${RUN}-${rep}}`;
  const a =
    lib === 'ours'
      ? await openOurs({ prefix, queue, brokerUrl: target.url })
      : await openBull({ prefix, queue, connect: target.nodes ? clusterConnector(target.nodes) : undefined });
  try {
    for (let i = 0; i < N; i += 1000)
      await a.addBulk(Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({ n: i + j })));
    await a.prepareWorker(C);
    const t0 = performance.now();
    const done = a.whenProcessed(N);
    await a.startWorker(C);
    const t1 = await done;
    return (N * 1000) / (t1 - t0);
  } finally {
    await a.close();
    if (!target.nodes) await deletePrefix(REDIS_URL, prefix);
  }
}

/** Enqueues ENQ_N one at a time with 100 in flight. Tasks/s. */
async function enqueue(target, durability, rep) {
  const prefix = `tqbench-${RUN}-enq-${rep}-${durability ? 'd' : 'n'}`;
  const a = await openOurs({ prefix, queue: 'enq', brokerUrl: target.url, durability });
  try {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (next < ENQ_N) {
          next++;
          await a.add({ n: next });
        }
      }),
    );
    return (ENQ_N * 1000) / (performance.now() - t0);
  } finally {
    await a.close();
  }
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');

log(`starting a 6-node cluster`);
const cluster = await startCluster();
const single = { url: REDIS_URL };
const clusterTarget = { url: cluster.url, nodes: cluster.nodes };
const best = {};
try {
  for (let rep = 0; rep < REPEAT; rep++) {
    for (const [where, target] of [
      ['cluster', clusterTarget],
      ['single', single],
    ]) {
      for (const lib of ['ours', 'bullmq']) {
        log(`drain ${N} at c=${C}: ${lib} on ${where} (run ${rep + 1})`);
        const rate = await drain(lib, target, `${where}-${rep}`);
        log(`   ${fmt(rate)} tasks/s`);
        const key = `${where}:${lib}`;
        best[key] = Math.max(best[key] ?? 0, rate);
      }
    }
    for (const durability of [undefined, { replicas: 1, timeout: '1s' }]) {
      log(`enqueue ${ENQ_N} one at a time on the cluster, durability ${durability ? 'replicas 1' : 'off'}`);
      const rate = await enqueue(clusterTarget, durability, rep);
      log(`   ${fmt(rate)} tasks/s`);
      const key = `enq:${durability ? 'durable' : 'plain'}`;
      best[key] = Math.max(best[key] ?? 0, rate);
    }
  }
} finally {
  for (const c of opened) c.disconnect();
  cluster.stop();
}

const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const out = [
  `# Cluster rows — npm run bench:cluster${quick ? ' (quick)' : ''}`,
  '',
  `- date: ${new Date().toISOString()}; best of ${REPEAT} runs per cell; one process (producer, then worker), one library at a time`,
  `- cluster: 3 masters + 3 replicas on this machine (${execSync('redis-server --version').toString().trim()}); single: ${REDIS_URL}`,
  '- BullMQ on the cluster uses the hash-tagged prefix `{bqbench-…}` it requires there (so all its queues share one slot).',
  '',
  '| measure | nestjs-taskqueue | BullMQ | ours / BullMQ |',
  '| --- | ---: | ---: | ---: |',
  `| drain ${fmt(N)} at concurrency ${C}, cluster, tasks/s | ${fmt(best['cluster:ours'])} | ${fmt(best['cluster:bullmq'])} | ${ratio(best['cluster:ours'], best['cluster:bullmq'])} |`,
  `| drain ${fmt(N)} at concurrency ${C}, single node, tasks/s | ${fmt(best['single:ours'])} | ${fmt(best['single:bullmq'])} | ${ratio(best['single:ours'], best['single:bullmq'])} |`,
  '',
  '| measure (nestjs-taskqueue, cluster) | tasks/s |',
  '| --- | ---: |',
  `| enqueue ${fmt(ENQ_N)} one at a time, 100 in flight | ${fmt(best['enq:plain'])} |`,
  `| the same with durability: { replicas: 1 } (WAIT after each publish) | ${fmt(best['enq:durable'])} (${ratio(best['enq:durable'], best['enq:plain'])}) |`,
  '',
];
process.stdout.write(out.join('\n'));
process.exit(0);
