import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, ManagedProcess } from './processes.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';

/** Settings of every throwaway server: nothing on disk, local only. */
const EPHEMERAL = ['--bind', HOST, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];

async function pingable(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const conn = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    conn.on('error', () => undefined);
    try {
      await conn.connect();
      await conn.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} does not answer: ${String(err)}`);
    } finally {
      conn.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until `probe` holds; fails past the deadline with `what` and the last value seen. */
async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs one command on the server at `port` over a connection of its own. */
async function call(port: number, command: string[]): Promise<string> {
  const conn = new Redis({ host: HOST, port, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    return String(await conn.call(command[0], ...command.slice(1)));
  } finally {
    conn.disconnect();
  }
}

/** One throwaway redis-server on a free port, with extra arguments (users, TLS). */
export class TestRedisServer {
  private constructor(
    readonly port: number,
    public process: ManagedProcess,
    private readonly dir: string,
    private readonly args: string[],
  ) {}

  private static spawn(port: number, dir: string, args: string[]): ManagedProcess {
    return new ManagedProcess(`redis-server ${port}`, 'redis-server', [
      '--port',
      String(port),
      '--dir',
      dir,
      ...EPHEMERAL,
      ...args,
    ]);
  }

  /** `ready` says when it answers (default: a plain PING on the port). */
  static async start(args: string[] = [], ready?: (port: number) => Promise<void>): Promise<TestRedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'tq-redis-'));
    const port = await freePort();
    const proc = TestRedisServer.spawn(port, dir, args);
    const server = new TestRedisServer(port, proc, dir, args);
    try {
      await (ready ? ready(port) : pingable(port));
    } catch (err) {
      await server.stop();
      throw new Error(`${String(err)}\n${proc.logs()}`);
    }
    return server;
  }

  /**
   * Stops the server (SHUTDOWN: it saves and exits; SIGKILL: at once) and starts
   * it again on the same port and directory (with AOF on, it reloads its data).
   */
  async restart(how: 'SHUTDOWN' | 'SIGKILL'): Promise<void> {
    if (how === 'SIGKILL') await this.process.kill();
    else {
      const conn = new Redis(this.port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
      await conn.call('SHUTDOWN').catch(() => undefined); // the connection closes as it exits
      conn.disconnect();
      await this.process.exited;
    }
    this.process = TestRedisServer.spawn(this.port, this.dir, this.args);
    await pingable(this.port);
  }

  async stop(): Promise<void> {
    await this.process.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ClusterNodeProcess {
  port: number;
  process: ManagedProcess;
}

/**
 * A Redis Cluster of throwaway redis-servers on free ports (3 masters and a
 * replica each by default), for one test file: start it in beforeAll, stop it in
 * afterAll. A short node timeout makes failovers take about a second.
 */
export class TestRedisCluster {
  private constructor(
    readonly nodes: ClusterNodeProcess[],
    private readonly dir: string,
  ) {}

  static async start(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<TestRedisCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicasPerMaster ?? 1;
    const dir = mkdtempSync(join(tmpdir(), 'tq-cluster-'));
    const nodes: ClusterNodeProcess[] = [];
    const cluster = new TestRedisCluster(nodes, dir);
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        const port = await freePort();
        const busPort = await freePort();
        const process = new ManagedProcess(`redis-server cluster node ${port}`, 'redis-server', [
          '--port',
          String(port),
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '1000',
          '--dir',
          dir,
          ...EPHEMERAL,
        ]);
        nodes.push({ port, process });
      }
      await Promise.all(nodes.map((n) => pingable(n.port)));
      await run('redis-cli', [
        '--cluster',
        'create',
        ...nodes.map((n) => `${HOST}:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ]);
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** The broker URL (every node as a seed). */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `${HOST}:${n.port}`).join(',')}`;
  }

  /** Resolves when every live node sees all slots served and every master has a replica in sync. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'the cluster to be healthy',
      async () => {
        for (const n of this.nodes) {
          if (!n.process.running) continue;
          const text = await call(n.port, ['CLUSTER', 'INFO']);
          if (!text.includes('cluster_state:ok') || !text.includes('cluster_slots_ok:16384')) return false;
        }
        const masters = await this.masters();
        for (const m of masters) {
          const repl = await call(m.port, ['INFO', 'replication']);
          if (!/slave\d+:.*state=online/.test(repl)) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** The live masters, as their nodes say. */
  async masters(): Promise<ClusterNodeProcess[]> {
    const out: ClusterNodeProcess[] = [];
    for (const n of this.nodes) {
      if (!n.process.running) continue;
      const role = await call(n.port, ['ROLE']);
      if (role.startsWith('master')) out.push(n);
    }
    return out;
  }

  /** The node that serves `key` now. */
  async masterOf(key: string): Promise<ClusterNodeProcess> {
    const live = this.nodes.find((n) => n.process.running)!;
    const slot = Number(await call(live.port, ['CLUSTER', 'KEYSLOT', key]));
    for (const m of await this.masters()) {
      const conn = new Redis({ host: HOST, port: m.port, lazyConnect: true, retryStrategy: () => null });
      conn.on('error', () => undefined);
      try {
        await conn.connect();
        const slots = (await conn.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
        if (slots.some(([from, to, [, port]]) => from <= slot && slot <= to && port === m.port)) return m;
      } finally {
        conn.disconnect();
      }
    }
    throw new Error(`no master serves slot ${slot} of ${key}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.process.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Sentinel-managed master group of throwaway servers: a master, a replica and
 * three sentinels (quorum 2), with timeouts short enough for a failover in a
 * few seconds.
 */
export class TestRedisSentinel {
  static readonly MASTER_NAME = 'tqmaster';

  private constructor(
    readonly servers: ClusterNodeProcess[],
    readonly sentinels: ClusterNodeProcess[],
    private readonly dir: string,
  ) {}

  static async start(): Promise<TestRedisSentinel> {
    const dir = mkdtempSync(join(tmpdir(), 'tq-sentinel-'));
    const servers: ClusterNodeProcess[] = [];
    const sentinels: ClusterNodeProcess[] = [];
    const group = new TestRedisSentinel(servers, sentinels, dir);
    try {
      const masterPort = await freePort();
      servers.push({
        port: masterPort,
        process: new ManagedProcess(`redis-server master ${masterPort}`, 'redis-server', [
          '--port',
          String(masterPort),
          '--dir',
          dir,
          ...EPHEMERAL,
        ]),
      });
      await pingable(masterPort);
      const replicaPort = await freePort();
      servers.push({
        port: replicaPort,
        process: new ManagedProcess(`redis-server replica ${replicaPort}`, 'redis-server', [
          '--port',
          String(replicaPort),
          '--replicaof',
          HOST,
          String(masterPort),
          '--dir',
          dir,
          ...EPHEMERAL,
        ]),
      });
      await pingable(replicaPort);
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const conf = join(dir, `sentinel-${port}.conf`);
        writeFileSync(
          conf,
          [
            `port ${port}`,
            `bind ${HOST}`,
            'protected-mode no',
            `dir ${dir}`,
            `sentinel monitor ${TestRedisSentinel.MASTER_NAME} ${HOST} ${masterPort} 2`,
            `sentinel down-after-milliseconds ${TestRedisSentinel.MASTER_NAME} 1000`,
            `sentinel failover-timeout ${TestRedisSentinel.MASTER_NAME} 5000`,
            `sentinel parallel-syncs ${TestRedisSentinel.MASTER_NAME} 1`,
            '',
          ].join('\n'),
        );
        sentinels.push({
          port,
          process: new ManagedProcess(`redis-sentinel ${port}`, 'redis-server', [conf, '--sentinel']),
        });
      }
      await Promise.all(sentinels.map((s) => pingable(s.port)));
      await group.waitHealthy();
      return group;
    } catch (err) {
      await group.stop();
      throw err;
    }
  }

  get url(): string {
    return `redis+sentinel://${this.sentinels.map((s) => `${HOST}:${s.port}`).join(',')}/${TestRedisSentinel.MASTER_NAME}`;
  }

  /** The port of the master the sentinels name now. */
  async masterPort(): Promise<number> {
    const live = this.sentinels.find((s) => s.process.running)!;
    const conn = new Redis({ host: HOST, port: live.port, lazyConnect: true, retryStrategy: () => null });
    conn.on('error', () => undefined);
    try {
      await conn.connect();
      const [, port] = (await conn.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', TestRedisSentinel.MASTER_NAME)) as [
        string,
        string,
      ];
      return Number(port);
    } finally {
      conn.disconnect();
    }
  }

  /** Resolves when every sentinel knows the replica and the other sentinels, and the replica is in sync. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'the sentinel group to be healthy',
      async () => {
        const port = await this.masterPort();
        const repl = await call(port, ['INFO', 'replication']);
        if (!/slave\d+:.*state=online/.test(repl)) return false;
        for (const s of this.sentinels) {
          if (!s.process.running) continue;
          const text = await call(s.port, ['INFO', 'sentinel']);
          if (!/status=ok,address=[^,]+,slaves=1,sentinels=3/.test(text)) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.servers].map((n) => n.process.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
