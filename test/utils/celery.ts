import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { ManagedProcess, ROOT, poll } from './processes.js';
import { REDIS_URL } from './redis.js';

/** Debian's Python with Celery 5 (not a pyenv one on PATH). */
export const PYTHON = process.env.CELERY_PYTHON ?? '/usr/bin/python3';

/** REDIS_URL on another database: Python Celery has no key prefix, so its tests keep to a DB of their own. */
export function celeryRedisUrl(db: number): string {
  const url = new URL(REDIS_URL);
  url.pathname = `/${db}`;
  return url.toString();
}

const pythonEnv = (url: string) => ({ CELERY_URL: url, PYTHONPATH: 'test/celery', PYTHONUNBUFFERED: '1' });

/** Starts a stock `celery worker` on `queues` and resolves once it is ready. */
export async function startCeleryWorker(
  url: string,
  queues: string[],
  label = 'celery worker',
): Promise<ManagedProcess> {
  const worker = new ManagedProcess(
    label,
    PYTHON,
    [
      '-m',
      'celery',
      '-A',
      'interop_app',
      'worker',
      '-Q',
      queues.join(','),
      '--pool=threads',
      '--concurrency=4',
      '--without-mingle',
      '--without-gossip',
      '--without-heartbeat',
      '--loglevel=INFO',
      '-n',
      `interop-${randomUUID().slice(0, 8)}@%h`,
    ],
    pythonEnv(url),
  );
  await poll('the celery worker to be ready', async () => (worker.logs().includes(' ready.') ? true : undefined), [
    worker,
  ]);
  return worker;
}

export interface PythonAnswer {
  ok: boolean;
  value?: unknown;
  type?: string;
  module?: string;
  message?: string;
}

/** A long-lived Python Celery client (test/celery/interop_client.py), one JSON command per line. */
export class PythonCeleryClient {
  private readonly proc: ChildProcess;
  private output = '';
  private next = 0;
  private readonly pending = new Map<number, { sent: (id: string) => void; done: (a: PythonAnswer) => void }>();
  readonly ids: string[] = [];

  private constructor(url: string) {
    this.proc = spawn(PYTHON, ['test/celery/interop_client.py'], {
      cwd: ROOT,
      env: { ...process.env, ...pythonEnv(url) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stderr!.on('data', (d) => (this.output = (this.output + d).slice(-10_000)));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      this.output = (this.output + line + '\n').slice(-10_000);
      if (!line.startsWith('{')) return;
      const msg = JSON.parse(line) as PythonAnswer & { req: number; event: string; id?: string; ids?: string[] };
      const p = this.pending.get(msg.req);
      if (!p) return;
      if (msg.event === 'sent') {
        this.ids.push(...(msg.ids ?? [msg.id!]));
        p.sent(msg.id!);
      } else {
        this.pending.delete(msg.req);
        p.done(msg);
      }
    });
  }

  static async start(url: string): Promise<PythonCeleryClient> {
    const client = new PythonCeleryClient(url);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`python client did not start:\n${client.output}`)), 20_000);
      const check = () => {
        if (client.output.includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      };
      client.proc.stdout!.on('data', check);
      client.proc.once('exit', (code) => reject(new Error(`python client exited (${code}):\n${client.output}`)));
    });
    return client;
  }

  /** Sends a command; `sent` resolves with the task id once published, `done` with what `get()` gave. */
  call(cmd: Record<string, unknown>): { sent: Promise<string>; done: Promise<PythonAnswer> } {
    const req = this.next++;
    let sent!: (id: string) => void;
    let done!: (a: PythonAnswer) => void;
    const s = new Promise<string>((r) => (sent = r));
    const d = new Promise<PythonAnswer>((r) => (done = r));
    this.pending.set(req, { sent, done });
    this.proc.stdin!.write(JSON.stringify({ ...cmd, req }) + '\n');
    return { sent: s, done: d };
  }

  logs(): string {
    return `--- python client output ---\n${this.output}`;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
}

/** Deletes what a test left in its Celery DB: the queues' lists and bindings, and the results of `ids`. */
export async function cleanupCelery(url: string, queues: string[], ids: string[]): Promise<void> {
  const redis = new Redis(url);
  try {
    const keys = [
      ...queues.flatMap((q) => [q, `${q}\x06\x163`, `${q}\x06\x166`, `${q}\x06\x169`, `_kombu.binding.${q}`]),
      ...ids.map((id) => `celery-task-meta-${id}`),
    ];
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  } finally {
    await redis.quit();
  }
}
