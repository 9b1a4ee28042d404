/**
 * The sample app, built with the Nest CLI and driven over real HTTP: the API
 * with its embedded worker on memory://, then the API and a separate worker
 * process on Redis. No mocks; every wait is a poll with a deadline.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { REDIS_URL, cleanupPrefix, testPrefix } from '../utils/redis.js';
import { DATABASE_URL, testTable } from '../utils/postgres.js';
import { ManagedProcess, ROOT, freePort, poll } from '../utils/processes.js';

const BUILD_TIMEOUT_MS = 120_000;
const BOOT_TIMEOUT_MS = 30_000;

interface TaskView {
  id: string;
  task?: string;
  state: string;
  retries?: number;
  result?: any;
  progress?: { done: number; total: number };
  error?: { type: string; message: string };
}

interface Queued {
  taskId: string;
  statusUrl: string;
  waitUrl: string;
}

const children: ManagedProcess[] = [];

function start(label: string, entry: string, env: Record<string, string>): ManagedProcess {
  const p = new ManagedProcess(label, process.execPath, [entry], env);
  children.push(p);
  return p;
}

/** A client of one running API. */
function api(base: string) {
  return {
    async post<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
      const res = await fetch(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    async get<T>(path: string): Promise<{ status: number; body: T }> {
      const res = await fetch(base + path);
      return { status: res.status, body: (await res.json()) as T };
    },
  };
}

/** Starts the API on a free port and waits until it answers HTTP. */
async function startApi(label: string, env: Record<string, string>) {
  const port = await freePort();
  const proc = start(label, 'sample-app/dist/main.js', { ...env, PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  const client = api(base);
  await poll(
    `${label} to answer HTTP`,
    async () => ((await client.get('/users')).status === 200 ? true : undefined),
    [proc],
    BOOT_TIMEOUT_MS,
  );
  return { proc, client, base };
}

/** Environment for the memory:// default: the TASKQUEUE_* settings blanked, so neither the caller's env nor a .env file applies. */
const DEFAULT_ENV = {
  TASKQUEUE_BROKER_URL: '',
  TASKQUEUE_EMBEDDED_WORKER: '',
  TASKQUEUE_PREFIX: '',
  USERS_DATABASE_URL: '',
  SAMPLE_CLEANUP_EVERY: '1s',
};

beforeAll(async () => {
  await promisify(execFile)('npm', ['run', 'build:sample'], {
    cwd: ROOT,
    timeout: BUILD_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: any) => {
    throw new Error(`npm run build:sample failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
}, BUILD_TIMEOUT_MS + 10_000);

afterAll(() => {
  for (const p of children) p.kill();
});

describe('sample app on memory:// with the embedded worker (no setup)', () => {
  let app: Awaited<ReturnType<typeof startApi>>;

  beforeAll(async () => {
    app = await startApi('api (memory)', DEFAULT_ENV);
  }, BOOT_TIMEOUT_MS + 5_000);

  it('registers a user and sends the welcome email through the email queue', async () => {
    const res = await app.client.post<{ user: { id: number; email: string } } & Queued>('/users', {
      email: 'Ada@Example.com',
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ email: 'ada@example.com' });
    expect(res.body.statusUrl).toBe(`/tasks/${res.body.taskId}`);

    const done = await app.client.get<TaskView>(res.body.waitUrl);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      id: res.body.taskId,
      state: 'SUCCESS',
      result: { userId: res.body.user.id, subject: 'Welcome!' },
    });
    expect(done.body.result.body).toContain('/login');

    const outbox = await app.client.get<Array<{ taskId: string }>>('/emails');
    expect(outbox.body.map((e) => e.taskId)).toContain(res.body.taskId);
  });

  it('shows a report in PROGRESS, then its summary', async () => {
    const rows = 200;
    const res = await app.client.post<Queued>('/reports', { rows });
    expect(res.status).toBe(201);

    const progress = await poll(
      'report PROGRESS',
      async () => {
        const v = (await app.client.get<TaskView>(`/tasks/${res.body.taskId}`)).body;
        if (v.state === 'SUCCESS') throw new Error('the report finished before PROGRESS was seen');
        return v.state === 'PROGRESS' ? v : undefined;
      },
      [app.proc],
    );
    expect(progress).toMatchObject({ task: 'reports.build', progress: { total: rows } });
    expect(progress.progress!.done).toBeLessThan(rows);

    const done = await poll(
      'report SUCCESS',
      async () => {
        const v = (await app.client.get<TaskView>(res.body.statusUrl)).body;
        return v.state === 'SUCCESS' ? v : undefined;
      },
      [app.proc],
    );
    expect(done.result).toMatchObject({ rows, steps: rows / 10 });
  });

  it('retries a flaky task on TransientError until it succeeds', async () => {
    const res = await app.client.post<Queued>('/flaky', { failures: 2 });
    expect(res.status).toBe(201);
    const done = await poll(
      'flaky SUCCESS',
      async () => {
        const v = (await app.client.get<TaskView>(res.body.statusUrl)).body;
        if (v.state === 'FAILURE') throw new Error(`flaky task failed: ${JSON.stringify(v)}`);
        return v.state === 'SUCCESS' ? v : undefined;
      },
      [app.proc],
    );
    expect(done).toMatchObject({ state: 'SUCCESS', retries: 2, result: { attempts: 3 } });
  });

  it('runs a fan-out workflow: one task per item, then one aggregate with every result', async () => {
    const items = ['apple', 'banana', 'cherry', 'date'];
    const res = await app.client.post<Queued>('/reports/fanout', { items });
    expect(res.status).toBe(201);
    const done = await app.client.get<TaskView>(res.body.waitUrl);
    expect(done.body).toMatchObject({ state: 'SUCCESS', result: { items: 4 } });
    expect(items).toContain(done.body.result.best);
    expect((await app.client.post('/reports/fanout', { items: 'nope' })).status).toBe(400);
  });

  it('runs the periodic schedules with the embedded beat, and shows their next run', async () => {
    const status = await poll(
      'a cleanup run by the beat',
      async () => {
        const v = (
          await app.client.get<{ schedules: Array<{ name: string; nextRunAt?: number }>; recentRuns: unknown[] }>(
            '/maintenance',
          )
        ).body;
        return v.recentRuns.length > 0 ? v : undefined;
      },
      [app.proc],
    );
    const names = status.schedules.map((x) => x.name).sort();
    expect(names).toEqual(['maintenance.cleanupOutbox', 'maintenance.nightly']);
  });

  it("carries the request's correlation id into the task it queued", async () => {
    const res = await fetch(`${app.base}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-correlation-id': 'e2e-corr-1' },
      body: JSON.stringify({ email: 'corr@example.com' }),
    });
    expect(res.headers.get('x-correlation-id')).toBe('e2e-corr-1');
    const body = (await res.json()) as Queued;
    const done = await app.client.get<TaskView>(body.waitUrl);
    expect(done.body.result).toMatchObject({ correlationId: 'e2e-corr-1' });
  });

  it('answers 400 on a bad task id and PENDING for an unknown one', async () => {
    expect((await app.client.get(`/tasks/${encodeURIComponent('a{b}')}`)).status).toBe(400);
    expect((await app.client.get<TaskView>('/tasks/no-such-task')).body).toEqual({
      id: 'no-such-task',
      state: 'PENDING',
    });
  });

  it('exits 0 on SIGTERM', async () => {
    await expect(app.proc.terminate()).resolves.toEqual({ code: 0, signal: null });
  });
});

describe('sample app on Redis with a separate worker process', () => {
  const prefix = testPrefix('sample-app');
  const env = { TASKQUEUE_BROKER_URL: REDIS_URL, TASKQUEUE_PREFIX: prefix, TASKQUEUE_EMBEDDED_WORKER: 'false' };

  afterAll(async () => {
    for (const p of children) p.kill();
    await cleanupPrefix(prefix);
  });

  it('publishes from the API, runs the welcome email in the worker, and both stop with exit code 0', async () => {
    const app = await startApi('api (redis)', env);

    const res = await app.client.post<{ user: { id: number } } & Queued>('/users', { email: 'grace@example.com' });
    expect(res.status).toBe(201);
    // The API does not consume: with no worker yet, the task waits in Redis.
    expect((await app.client.get<TaskView>(res.body.statusUrl)).body.state).toBe('PENDING');

    const worker = start('worker (redis)', 'sample-app/dist/worker.js', env);
    const done = await poll(
      'welcome email SUCCESS',
      async () => {
        const v = (await app.client.get<TaskView>(res.body.statusUrl)).body;
        return v.state === 'SUCCESS' ? v : undefined;
      },
      [app.proc, worker],
      BOOT_TIMEOUT_MS,
    );
    expect(done.result).toMatchObject({ userId: res.body.user.id, taskId: res.body.taskId });
    // It ran in the worker process: the worker logged the send (TaskLogger's prefix names the task), and the API's own outbox is empty.
    await poll(
      'the worker to log the send',
      async () => (worker.logs().includes(`[email.welcome ${res.body.taskId} cid=`) ? true : undefined),
      [worker],
    );
    expect((await app.client.get<unknown[]>('/emails')).body).toEqual([]);

    const waited = await app.client.get<TaskView>(res.body.waitUrl);
    expect(waited.body).toMatchObject({ state: 'SUCCESS', result: { userId: res.body.user.id } });

    const [apiExit, workerExit] = await Promise.all([app.proc.terminate(), worker.terminate()]);
    expect({ api: apiExit, worker: workerExit }).toEqual({
      api: { code: 0, signal: null },
      worker: { code: 0, signal: null },
    });
  }, 60_000);
});

describe('sample app with USERS_DATABASE_URL: the sign-up in a transaction, the welcome email after commit', () => {
  // A schema of this test's own (the sample's sample_users table goes in it), dropped afterwards.
  const schema = testTable('sample');
  let pool: pg.Pool;
  let app: Awaited<ReturnType<typeof startApi>>;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    app = await startApi('api (memory, PostgreSQL users)', { ...DEFAULT_ENV, USERS_DATABASE_URL: url.toString() });
  }, BOOT_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    await app?.proc.terminate();
    await pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool?.end();
  });

  it('stores the user in PostgreSQL and sends the welcome email; a duplicate is refused (409) and sends nothing', async () => {
    const res = await app.client.post<{ user: { id: number; email: string } } & Queued>('/users', {
      email: 'Grace@Example.com',
    });
    expect(res.status).toBe(201);
    const done = await app.client.get<TaskView>(res.body.waitUrl);
    expect(done.body).toMatchObject({ state: 'SUCCESS', result: { userId: res.body.user.id } });
    const rows = await pool.query(`SELECT id, email FROM ${schema}.sample_users`);
    expect(rows.rows).toEqual([{ id: res.body.user.id, email: 'grace@example.com' }]);

    const dup = await app.client.post<{ statusCode: number }>('/users', { email: 'grace@example.com' });
    expect(dup.status).toBe(409);
    const emails = await app.client.get<Array<{ userId: number }>>('/emails');
    expect(emails.body.map((e) => e.userId)).toEqual([res.body.user.id]);
  });
});
