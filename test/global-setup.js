// Makes `npm test` work on a machine where Redis is installed but not running:
// when nothing answers at REDIS_URL (default redis://127.0.0.1:6379), start a
// throwaway redis-server there (no persistence) and stop it after the run.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

function answers(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(String(d).startsWith('+PONG') || String(d).startsWith('-NOAUTH')));
  });
}

export default async function globalSetup() {
  // one id per jest run: the e2e fixtures are compiled once per run (test/utils/processes.ts)
  process.env.TQ_TEST_RUN ??= `${Date.now()}-${process.pid}`;
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await answers(host, port)) return;
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new Error(`No Redis answers at ${url.href}; the tests need one (set REDIS_URL).`);
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(
      `No Redis answers at ${url.href} and redis-server is not installed. Install it (apt-get install redis-server) or set REDIS_URL.`,
    );
  }
  const child = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    detached: true,
  });
  for (let i = 0; i < 100 && !(await answers(host, port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await answers(host, port))) throw new Error(`Started redis-server on ${host}:${port}, but it does not answer.`);
  globalThis.__TQ_REDIS__ = child;
}
