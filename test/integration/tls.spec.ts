/**
 * rediss:// for real: a redis-server with only a TLS port, its certificate made
 * in this file's setup by a throwaway CA; the CA reaches ioredis through the
 * `redis` option, which every connection of the module (commands, the worker's
 * blocking wait, the subscriber) must use.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Task, TaskClient, TaskWorker } from '../../src/index.js';
import { createTaskApp } from '../utils/app.js';
import { freePort } from '../utils/processes.js';
import { testPrefix } from '../utils/redis.js';
import { TestRedisServer } from '../utils/redis-servers.js';

const run = promisify(execFile);

@Injectable()
class TlsTasks {
  @Task('tls.add')
  add(x: number, y: number): number {
    return x + y;
  }
}

/** A CA and a certificate for 127.0.0.1 signed by it, in `dir`. */
async function makeCertificates(dir: string): Promise<void> {
  const f = (name: string) => join(dir, name);
  await run(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=tq-test-ca'].concat([
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
    ]),
  );
  await run(
    'openssl',
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key')].concat([
      '-out',
      f('server.csr'),
    ]),
  );
  await run('sh', [
    '-c',
    `printf 'subjectAltName=IP:127.0.0.1' > ${f('ext.cnf')} && openssl x509 -req -in ${f('server.csr')} -CA ${f('ca.crt')} -CAkey ${f('ca.key')} -CAcreateserial -days 1 -extfile ${f('ext.cnf')} -out ${f('server.crt')}`,
  ]);
}

describe('TLS (rediss://)', () => {
  const prefix = testPrefix('tls');
  const dir = mkdtempSync(join(tmpdir(), 'tq-tls-'));
  let server: TestRedisServer;
  let app: TestingModule | undefined;
  let ca: Buffer;
  let tlsPort: number;

  beforeAll(async () => {
    await makeCertificates(dir);
    ca = readFileSync(join(dir, 'ca.crt'));
    tlsPort = await freePort();
    server = await TestRedisServer.start([
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      join(dir, 'server.crt'),
      '--tls-key-file',
      join(dir, 'server.key'),
      '--tls-ca-cert-file',
      join(dir, 'ca.crt'),
      '--tls-auth-clients',
      'no',
    ]);
    const probe = new Redis({ host: '127.0.0.1', port: tlsPort, tls: { ca }, maxRetriesPerRequest: 1 });
    try {
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes, works and waits for results on the TLS port', async () => {
    const port = tlsPort;
    app = await createTaskApp({ brokerUrl: `rediss://127.0.0.1:${port}`, prefix, redis: { tls: { ca } } }, [TlsTasks]);
    await app.get(TaskWorker).start({ concurrency: 2 });
    const r = await app.get(TaskClient).send<number>('tls.add', [20, 22]);
    expect(await r.get({ timeout: 5000 })).toBe(42);
  });

  it('refuses a server whose certificate it cannot verify', async () => {
    const port = tlsPort;
    const other = await createTaskApp(
      {
        brokerUrl: `rediss://127.0.0.1:${port}`,
        prefix,
        redis: { maxRetriesPerRequest: 0, retryStrategy: () => null },
      },
      [TlsTasks],
    );
    try {
      await expect(other.get(TaskClient).send('tls.add', [1, 1])).rejects.toThrow();
    } finally {
      await other.close();
    }
  });
});
