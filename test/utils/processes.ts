import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const BUILD = 'test/e2e/.build';
const LOCK = 'test/e2e/.build.lock';

/**
 * Compiles the e2e fixtures (and src) with tsc into test/e2e/.build, once per
 * jest run: test files running in parallel take turns (a lock directory), and
 * those after the first find the run's marker and skip, so no file is rewritten
 * while another test spawns it.
 */
export async function buildE2eFixtures(): Promise<void> {
  const runId = process.env.TQ_TEST_RUN;
  const marker = `${BUILD}/.built-for-run`;
  const built = () => runId !== undefined && existsSync(marker) && readFileSync(marker, 'utf8') === runId;
  if (built()) return;
  for (const deadline = Date.now() + 300_000; ;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (Date.now() > deadline) rmSync(LOCK, { recursive: true, force: true }); // a lock left by a killed run
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (built()) return;
    await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/e2e/tsconfig.json'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    if (runId !== undefined) writeFileSync(marker, runId);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node script` and resolves once it printed `readyLine`. */
export async function spawnNode(
  script: string,
  env: Record<string, string>,
  readyLine = 'READY',
  timeoutMs = 30_000,
): Promise<Child> {
  const proc = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} did not print ${readyLine} within ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    const check = () => {
      if (out.includes(readyLine)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before ${readyLine}:\n${out}`));
    });
  });
  return { proc, output: () => out, exited };
}

export function killAll(children: Child[]): void {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
}

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A spawned process (run from the repository root), its output kept for failure messages. */
export class ManagedProcess {
  readonly child: ChildProcess;
  private output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
  ) {
    this.child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  logs(): string {
    return `--- ${this.label} output ---\n${this.output}`;
  }

  /** Sends SIGTERM and waits for the exit. */
  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** SIGKILL, then waits for the exit. */
  async kill(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls `probe` until it returns a value other than undefined; fails past the
 * deadline, if one of `alive` dies, or if `probe` throws anything but a
 * connection failure (fetch's TypeError while a server boots).
 */
export async function poll<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  alive: ManagedProcess[],
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const p of alive) if (!p.running) throw new Error(`${p.label} exited while waiting for ${what}\n${p.logs()}`);
    const value = await probe().catch((err: unknown) => {
      // Not `instanceof`: under jest, fetch's errors come from another realm.
      if ((err as Error)?.name === 'TypeError' && (err as Error).message === 'fetch failed') return undefined;
      throw err;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}\n${alive.map((p) => p.logs()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
