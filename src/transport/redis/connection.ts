import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { TaskQueueConfigError } from '../../errors/index.js';
import type { ConnectionRole, TaskQueueRedisOptions } from '../../interfaces/task-queue-module-options.interface.js';

export type {
  ConnectionFactory,
  ConnectionRole,
  TaskQueueRedisOptions,
} from '../../interfaces/task-queue-module-options.interface.js';

/** A connection the library talks through: one Redis server (or a Sentinel-managed master), or a Cluster. */
export type RedisClient = Redis | Cluster;

/** The Cluster-level settings the `redis` option may carry; everything else goes to each node's connection. */
const CLUSTER_KEYS: ReadonlyArray<keyof ClusterOptions & keyof TaskQueueRedisOptions> = [
  'natMap',
  'scaleReads',
  'maxRedirections',
  'retryDelayOnFailover',
  'retryDelayOnClusterDown',
  'retryDelayOnTryAgain',
  'retryDelayOnMoved',
  'slotsRefreshTimeout',
  'slotsRefreshInterval',
  'clusterRetryStrategy',
  'dnsLookup',
  'useSRVRecords',
  'resolveSrv',
];

export interface HostPort {
  host: string;
  port: number;
}

/** A broker URL taken apart. */
export type BrokerSpec =
  | { mode: 'standalone'; url: string }
  | { mode: 'cluster'; nodes: HostPort[]; tls: boolean; username?: string; password?: string }
  | {
      mode: 'sentinel';
      sentinels: HostPort[];
      name: string;
      db: number;
      tls: boolean;
      username?: string;
      password?: string;
    };

/** The URL with its password replaced, for error messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(
    /^([a-z+]+:\/\/)([^@/]*):([^@/]*)@/i,
    (_m, scheme: string, user: string) => `${scheme}${user}:***@`,
  );
}

function hostList(text: string, defaultPort: number, option: string, url: string): HostPort[] {
  const nodes: HostPort[] = [];
  for (const part of text.split(',')) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(part.trim());
    const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
    if (!m || port < 1 || port > 65535)
      throw new TaskQueueConfigError(option, redactUrl(url), `"${part}" is not host:port`);
    nodes.push({ host: m[1] ?? m[2], port });
  }
  return nodes;
}

function credentials(auth: string | undefined): { username?: string; password?: string } {
  if (auth === undefined || auth === '') return {};
  const i = auth.indexOf(':');
  // As ioredis reads redis://user@host: a name without a password.
  const username = decodeURIComponent(i === -1 ? auth : auth.slice(0, i)) || undefined;
  const password = i === -1 ? undefined : decodeURIComponent(auth.slice(i + 1)) || undefined;
  return { ...(username !== undefined && { username }), ...(password !== undefined && { password }) };
}

/**
 * Parses `redis://`, `rediss://`, `redis+cluster://[user:pass@]h:p[,h:p…]`,
 * `rediss+cluster://…`, `redis+sentinel://[user:pass@]h:p[,h:p…]/<master>[/db]`
 * and `rediss+sentinel://…`. Throws TaskQueueConfigError naming `option`.
 */
export function parseBrokerUrl(url: string, option = 'brokerUrl'): BrokerSpec {
  const m = /^(rediss?)(?:\+(cluster|sentinel))?:\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?(#.*)?$/.exec(url);
  if (!m)
    throw new TaskQueueConfigError(
      option,
      redactUrl(url),
      'expected redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel://, rediss+sentinel:// or memory://',
    );
  const [, scheme, kind, auth, hosts, path = '', query] = m;
  if (!kind) {
    try {
      new URL(url);
    } catch {
      throw new TaskQueueConfigError(option, redactUrl(url), 'not a valid URL');
    }
    return { mode: 'standalone', url };
  }
  if (query)
    throw new TaskQueueConfigError(
      option,
      redactUrl(url),
      `${kind} URLs take no query string; pass connection settings in the "redis" option`,
    );
  if (hosts === '')
    throw new TaskQueueConfigError(option, redactUrl(url), `name at least one ${kind} node (host:port)`);
  const tls = scheme === 'rediss';
  let creds: { username?: string; password?: string };
  try {
    creds = credentials(auth);
  } catch {
    throw new TaskQueueConfigError(option, redactUrl(url), 'the user or password is not validly percent-encoded');
  }
  if (kind === 'cluster') {
    if (path !== '' && path !== '/')
      throw new TaskQueueConfigError(
        option,
        redactUrl(url),
        `a cluster URL has no path: Redis Cluster has only database 0 (got "${path}")`,
      );
    return { mode: 'cluster', nodes: hostList(hosts, 6379, option, url), tls, ...creds };
  }
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length === 0 || segments.length > 2)
    throw new TaskQueueConfigError(
      option,
      redactUrl(url),
      'a sentinel URL ends with the master group name and an optional database: redis+sentinel://h:p,h:p/<master>[/db]',
    );
  const db = segments[1] === undefined ? 0 : Number(segments[1]);
  if (!/^\d+$/.test(segments[1] ?? '0') || !Number.isInteger(db))
    throw new TaskQueueConfigError(option, redactUrl(url), `the database "${segments[1]}" is not a number`);
  return {
    mode: 'sentinel',
    sentinels: hostList(hosts, 26379, option, url),
    name: decodeURIComponent(segments[0]),
    db,
    tls,
    ...creds,
  };
}

/**
 * Rejects `redis` settings that contradict the broker URL (each error names the
 * option): they would otherwise be ignored silently.
 */
export function validateRedisOptions(
  spec: BrokerSpec,
  redis: TaskQueueRedisOptions | undefined,
  option = 'redis',
): void {
  if (redis === undefined) return;
  if (typeof redis !== 'object' || redis === null)
    throw new TaskQueueConfigError(option, redis, 'expected an object of ioredis options');
  const given = (key: string) => (redis as Record<string, unknown>)[key] !== undefined;
  if (spec.mode !== 'standalone') {
    for (const key of ['host', 'port', 'path'])
      if (given(key))
        throw new TaskQueueConfigError(
          `${option}.${key}`,
          (redis as Record<string, unknown>)[key],
          `the ${spec.mode} nodes come from the broker URL; remove it`,
        );
  }
  if (spec.mode === 'cluster' && given('db') && redis.db !== 0)
    throw new TaskQueueConfigError(`${option}.db`, redis.db, 'Redis Cluster has only database 0');
  if (spec.mode !== 'sentinel') {
    if (given('sentinels'))
      throw new TaskQueueConfigError(
        `${option}.sentinels`,
        redis.sentinels,
        'sentinels are named in a redis+sentinel:// broker URL, not in the redis option',
      );
  } else {
    if (given('sentinels'))
      throw new TaskQueueConfigError(`${option}.sentinels`, redis.sentinels, 'the sentinels come from the broker URL');
    if (given('name') && redis.name !== spec.name)
      throw new TaskQueueConfigError(
        `${option}.name`,
        redis.name,
        `the broker URL names the master group "${spec.name}"`,
      );
    if (given('db') && redis.db !== spec.db)
      throw new TaskQueueConfigError(`${option}.db`, redis.db, `the broker URL selects database ${spec.db}`);
  }
  if (spec.mode !== 'cluster') {
    for (const key of CLUSTER_KEYS)
      if (given(key))
        throw new TaskQueueConfigError(
          `${option}.${key}`,
          (redis as Record<string, unknown>)[key],
          'a Redis Cluster setting, but the broker URL is not redis+cluster:// or rediss+cluster://',
        );
  }
}

function split(redis: TaskQueueRedisOptions): { cluster: Partial<ClusterOptions>; node: RedisOptions } {
  const cluster: Record<string, unknown> = {};
  const node: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(redis)) ((CLUSTER_KEYS as readonly string[]).includes(k) ? cluster : node)[k] = v;
  return { cluster: cluster as Partial<ClusterOptions>, node: node as RedisOptions };
}

/**
 * Opens a connection for `role` as `spec` says, with `redis` merged in and
 * `extra` (what the role needs, such as no retry limit on a blocking connection) on top.
 */
export function openConnection(
  spec: BrokerSpec,
  redis: TaskQueueRedisOptions = {},
  role: ConnectionRole,
  extra: RedisOptions = {},
): RedisClient {
  const { cluster, node } = split(redis);
  const creds = (s: { username?: string; password?: string }) => ({
    ...(s.username !== undefined && { username: s.username }),
    ...(s.password !== undefined && { password: s.password }),
  });
  switch (spec.mode) {
    case 'standalone':
      return new Redis(spec.url, { ...node, ...extra });
    case 'cluster': {
      const nodes: ClusterNode[] = spec.nodes.map((n) => ({ host: n.host, port: n.port }));
      return new Cluster(nodes, {
        ...cluster,
        ...(role === 'subscriber' && { shardedSubscribers: true }),
        ...(extra.enableReadyCheck === false && { enableReadyCheck: false }),
        redisOptions: {
          ...creds(spec),
          ...node,
          ...(spec.tls && { tls: node.tls ?? {} }),
          ...extra,
        },
      });
    }
    case 'sentinel':
      return new Redis({
        ...creds(spec),
        ...node,
        sentinels: spec.sentinels,
        name: spec.name,
        db: spec.db,
        ...(spec.tls && {
          tls: node.tls ?? {},
          sentinelTLS: node.sentinelTLS ?? node.tls ?? {},
          enableTLSForSentinelMode: true,
        }),
        ...extra,
      });
  }
}

/** A new connection like `client` (same servers and options), with `extra` on top. */
export function duplicateConnection(client: RedisClient, role: ConnectionRole, extra: RedisOptions = {}): RedisClient {
  if (isCluster(client))
    return client.duplicate(undefined, {
      ...(role === 'subscriber' && { shardedSubscribers: true }),
      ...(extra.enableReadyCheck === false && { enableReadyCheck: false }),
      redisOptions: { ...client.options.redisOptions, ...extra },
    });
  return client.duplicate(extra);
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}
