/**
 * GET /health of the sample app over real HTTP: the API and a separate worker
 * process on Redis. 200 while the worker heartbeats; 503 with the reason once
 * it is gone past TASKQUEUE_HEALTH_WORKER_MAX_AGE; 503 when Redis itself goes
 * away (a redis-server of this test's own, never the shared one). Every wait
 * is a poll with a deadline.
 *
 * The sample is compiled with the library sources into a directory of this
 * file's own (test/e2e/.build/health-app), not with `nest build` into
 * sample-app/dist: sample-app.e2e-spec.ts empties that directory when it
 * builds, and jest may run both files at once.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REDIS_URL, cleanupPrefix, testPrefix } from '../utils/redis.js';
import { ManagedProcess, ROOT, freePort, poll } from '../utils/processes.js';

/** The package's entry points ('' for the root, '/health', ...), from its own exports map. */
const SUBPATHS = Object.keys(
  (JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { exports: Record<string, unknown> })
    .exports,
)
  .filter((k) => k !== './package.json')
  .map((k) => k.slice(1));

const BUILD = join(ROOT, 'test/e2e/.build/health-app');
const OUT = join(BUILD, 'out');
const API = join(OUT, 'sample-app/src/main.js');
const WORKER = join(OUT, 'sample-app/src/worker.js');
const BUILD_TIMEOUT_MS = 180_000;
const BOOT_TIMEOUT_MS = 30_000;
/** Workers heartbeat every 5 s (a third of the default 15 s lease): the threshold must be above that. */
const WORKER_MAX_AGE_MS = 8000;

interface HealthBody {
  status: 'ok' | 'error';
  info?: Record<string, { status: string; [k: string]: unknown }>;
  error?: Record<string, { status: string; message?: string; [k: string]: unknown }>;
}

const procs: ManagedProcess[] = [];

function start(label: string, command: string, args: string[], env?: Record<string, string>): ManagedProcess {
  const p = new ManagedProcess(label, command, args, env);
  procs.push(p);
  return p;
}

async function health(base: string): Promise<{ status: number; body: HealthBody }> {
  const res = await fetch(`${base}/health`);
  return { status: res.status, body: (await res.json()) as HealthBody };
}

/** Starts the API on a free port; resolves once it answers HTTP. */
async function startApi(env: Record<string, string>): Promise<{ proc: ManagedProcess; base: string }> {
  const port = await freePort();
  const proc = start('api', process.execPath, [API], { ...env, PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  await poll(
    'the API to answer HTTP',
    async () => ((await fetch(`${base}/users`)).ok ? true : undefined),
    [proc],
    BOOT_TIMEOUT_MS,
  );
  return { proc, base };
}

/** A redis-server of this test's own, on a free port, without persistence. */
async function startRedis(): Promise<{ proc: ManagedProcess; url: string }> {
  const port = await freePort();
  const proc = start('redis-server', 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
  ]);
  const url = `redis://127.0.0.1:${port}`;
  await poll(
    'redis-server to answer PING',
    () =>
      new Promise<true | undefined>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port });
        const done = (ok: true | undefined) => {
          socket.destroy();
          resolve(ok);
        };
        socket.once('error', () => done(undefined));
        socket.once('connect', () => socket.write('PING\r\n'));
        socket.once('data', (d) => done(String(d).startsWith('+PONG') ? true : undefined));
      }),
    [proc],
    BOOT_TIMEOUT_MS,
  );
  return { proc, url };
}

beforeAll(async () => {
  rmSync(BUILD, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const up = '../../../..';
  writeFileSync(
    join(BUILD, 'tsconfig.json'),
    JSON.stringify({
      extends: `${up}/tsconfig.json`,
      compilerOptions: {
        rootDir: up,
        outDir: './out',
        types: ['node'],
        declaration: false,
        sourceMap: false,
        paths: Object.fromEntries(SUBPATHS.map((sub) => [`nestjs-taskqueue${sub}`, [`${up}/src${sub}/index.ts`]])),
      },
      include: [`${up}/src/**/*.ts`, `${up}/sample-app/src/**/*.ts`],
    }),
  );
  // The compiled sample imports the package by name; this package.json makes
  // that name resolve to the compiled sources next to it (a self-reference).
  writeFileSync(
    join(OUT, 'package.json'),
    JSON.stringify({
      name: 'nestjs-taskqueue',
      private: true,
      type: 'module',
      exports: Object.fromEntries(SUBPATHS.map((sub) => [`.${sub}`, `./src${sub}/index.js`])),
    }),
  );
  await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-p', join(BUILD, 'tsconfig.json')], {
    cwd: ROOT,
    timeout: BUILD_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: any) => {
    throw new Error(`Compiling the sample app failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
}, BUILD_TIMEOUT_MS + 10_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
});

describe('GET /health on Redis with a separate worker', () => {
  const prefix = testPrefix('health-e2e');
  const env = {
    TASKQUEUE_BROKER_URL: REDIS_URL,
    TASKQUEUE_PREFIX: prefix,
    TASKQUEUE_EMBEDDED_WORKER: 'false',
    TASKQUEUE_HEALTH_WORKER_MAX_AGE: String(WORKER_MAX_AGE_MS),
  };

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await cleanupPrefix(prefix);
  });

  it('is 503 without a worker, 200 while the worker runs, and 503 with the reason once the worker is gone past the threshold', async () => {
    const api = await startApi(env);

    const before = await health(api.base);
    expect(before.status).toBe(503);
    expect(before.body).toMatchObject({
      status: 'error',
      info: { broker: { status: 'up' } },
      error: {
        workers: {
          status: 'down',
          message: `no worker has sent a heartbeat in the last ${WORKER_MAX_AGE_MS} ms (0 of 1 required)`,
        },
      },
    });

    const worker = start('worker', process.execPath, [WORKER], env);
    const up = await poll(
      'GET /health 200',
      async () => {
        const res = await health(api.base);
        return res.status === 200 ? res : undefined;
      },
      [api.proc, worker],
      BOOT_TIMEOUT_MS,
    );
    expect(up.body).toMatchObject({
      status: 'ok',
      info: {
        broker: { status: 'up', latencyMs: expect.any(Number) },
        workers: { status: 'up', workers: 1, required: 1, maxHeartbeatAgeMs: WORKER_MAX_AGE_MS },
      },
    });

    // SIGKILL: no clean stop, so its last heartbeat stays in Redis and ages past the threshold.
    await worker.kill();
    const down = await poll(
      'GET /health 503 after the worker died',
      async () => {
        const res = await health(api.base);
        return res.status === 503 ? res : undefined;
      },
      [api.proc],
      WORKER_MAX_AGE_MS + 20_000,
    );
    expect(down.body).toMatchObject({
      status: 'error',
      info: { broker: { status: 'up' } },
      error: {
        workers: {
          status: 'down',
          workers: 0,
          message: `no worker has sent a heartbeat in the last ${WORKER_MAX_AGE_MS} ms (0 of 1 required)`,
        },
      },
    });
  }, 90_000);
});

describe('GET /health when Redis goes away', () => {
  it('is 200, then 503 saying the broker is unreachable once redis-server is killed', async () => {
    const redis = await startRedis();
    const env = {
      TASKQUEUE_BROKER_URL: redis.url,
      TASKQUEUE_PREFIX: testPrefix('health-e2e-down'),
      TASKQUEUE_EMBEDDED_WORKER: 'false',
      TASKQUEUE_HEALTH_WORKER_MAX_AGE: String(WORKER_MAX_AGE_MS),
    };
    const api = await startApi(env);
    const worker = start('worker (own redis)', process.execPath, [WORKER], env);
    await poll(
      'GET /health 200',
      async () => ((await health(api.base)).status === 200 ? true : undefined),
      [api.proc, worker, redis.proc],
      BOOT_TIMEOUT_MS,
    );

    await redis.proc.kill();
    const down = await poll(
      'GET /health 503 after Redis died',
      async () => {
        const res = await health(api.base);
        return res.status === 503 ? res : undefined;
      },
      [api.proc],
      30_000,
    );
    expect(down.body.status).toBe('error');
    expect(down.body.error?.broker).toMatchObject({
      status: 'down',
      message: expect.stringMatching(/^broker unreachable: /),
    });
    expect(down.body.error?.workers).toMatchObject({
      status: 'down',
      message: expect.stringMatching(/^broker unreachable: /),
    });
    // The API stays up and keeps answering.
    expect(api.proc.running).toBe(true);
    expect((await health(api.base)).status).toBe(503);
  }, 90_000);
});
