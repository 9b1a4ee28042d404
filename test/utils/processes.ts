import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Compiles the e2e fixtures (and src) with tsc into test/e2e/.build. */
export async function buildE2eFixtures(): Promise<void> {
  await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/e2e/tsconfig.json'], { maxBuffer: 16 * 1024 * 1024 });
}

export interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node script` and resolves once it printed `readyLine`. */
export async function spawnNode(script: string, env: Record<string, string>, readyLine = 'READY', timeoutMs = 30_000): Promise<Child> {
  const proc = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not print ${readyLine} within ${timeoutMs} ms:\n${out}`)), timeoutMs);
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
