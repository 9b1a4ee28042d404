import { Cluster, Redis } from 'ioredis';
import { TaskQueueConfigError } from '../../src/errors/index.js';
import { resolveModuleOptions } from '../../src/task-queue.options.js';
import {
  openConnection,
  parseBrokerUrl,
  redactUrl,
  validateRedisOptions,
} from '../../src/transport/redis/connection.js';

const configError = (fn: () => unknown): TaskQueueConfigError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TaskQueueConfigError);
    return err as TaskQueueConfigError;
  }
  throw new Error('expected a TaskQueueConfigError');
};

describe('broker URLs', () => {
  it('keeps redis:// and rediss:// URLs whole, for ioredis to read', () => {
    expect(parseBrokerUrl('redis://:pw@h:6380/2')).toEqual({ mode: 'standalone', url: 'redis://:pw@h:6380/2' });
    expect(parseBrokerUrl('rediss://h')).toEqual({ mode: 'standalone', url: 'rediss://h' });
  });

  it('reads cluster seed nodes, credentials and TLS', () => {
    expect(parseBrokerUrl('redis+cluster://a:7000,b:7001,[::1]:7002')).toEqual({
      mode: 'cluster',
      tls: false,
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(parseBrokerUrl('rediss+cluster://app:p%40ss@a:7000/')).toEqual({
      mode: 'cluster',
      tls: true,
      username: 'app',
      password: 'p@ss',
      nodes: [{ host: 'a', port: 7000 }],
    });
    expect(parseBrokerUrl('redis+cluster://:secret@a')).toMatchObject({
      password: 'secret',
      nodes: [{ host: 'a', port: 6379 }],
    });
  });

  it('reads sentinels, the master group name and the database', () => {
    expect(parseBrokerUrl('redis+sentinel://s1:26379,s2:26380/mymaster')).toEqual({
      mode: 'sentinel',
      tls: false,
      name: 'mymaster',
      db: 0,
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
    });
    expect(parseBrokerUrl('rediss+sentinel://u:p@s1/mymaster/3')).toEqual({
      mode: 'sentinel',
      tls: true,
      username: 'u',
      password: 'p',
      name: 'mymaster',
      db: 3,
      sentinels: [{ host: 's1', port: 26379 }],
    });
  });

  it.each([
    ['http://h:6379', 'expected redis://'],
    ['redis+cluster://', 'at least one cluster node'],
    ['redis+cluster://a:7000/1', 'only database 0'],
    ['redis+cluster://a:99999', 'is not host:port'],
    ['redis+cluster://a:7000,,b:7001', 'is not host:port'],
    ['redis+cluster://a:7000?tls=true', 'no query string'],
    ['redis+sentinel://s1:26379', 'master group name'],
    ['redis+sentinel://s1:26379/', 'master group name'],
    ['redis+sentinel://s1:26379/m/x', 'is not a number'],
    ['redis+sentinel://s1:26379/m/1/2', 'master group name'],
    ['redis+fancy://a', 'expected redis://'],
  ])('refuses %s, naming brokerUrl', (url, reason) => {
    const err = configError(() => parseBrokerUrl(url));
    expect(err.option).toBe('brokerUrl');
    expect(err.message).toContain(reason);
  });

  it('never prints a password in an error', () => {
    const err = configError(() => parseBrokerUrl('redis+cluster://u:hunter2@a:7000/5'));
    expect(err.message).not.toContain('hunter2');
    expect(err.message).toContain('u:***@');
    expect(redactUrl('redis+sentinel://:pw@s/m')).toBe('redis+sentinel://:***@s/m');
  });
});

describe('redis options against the broker URL', () => {
  const cluster = parseBrokerUrl('redis+cluster://a:7000');
  const sentinel = parseBrokerUrl('redis+sentinel://s:26379/mymaster/2');
  const single = parseBrokerUrl('redis://h:6379');

  it.each([
    ['cluster', cluster, { host: 'x' }, 'redis.host'],
    ['cluster', cluster, { port: 1 }, 'redis.port'],
    ['cluster', cluster, { db: 1 }, 'redis.db'],
    ['cluster', cluster, { sentinels: [{ host: 's', port: 1 }] }, 'redis.sentinels'],
    ['sentinel', sentinel, { name: 'other' }, 'redis.name'],
    ['sentinel', sentinel, { db: 0 }, 'redis.db'],
    ['sentinel', sentinel, { sentinels: [{ host: 's', port: 1 }] }, 'redis.sentinels'],
    ['sentinel', sentinel, { natMap: {} }, 'redis.natMap'],
    ['single', single, { scaleReads: 'slave' }, 'redis.scaleReads'],
    ['single', single, { sentinels: [{ host: 's', port: 1 }] }, 'redis.sentinels'],
  ] as const)('%s: refuses a contradiction, naming the option', (_label, spec, redis, option) => {
    expect(configError(() => validateRedisOptions(spec, redis as never)).option).toBe(option);
  });

  it('accepts settings that apply', () => {
    expect(() => validateRedisOptions(cluster, { natMap: {}, password: 'x', tls: {}, db: 0 })).not.toThrow();
    expect(() => validateRedisOptions(sentinel, { sentinelPassword: 'x', name: 'mymaster', db: 2 })).not.toThrow();
    expect(() => validateRedisOptions(single, { tls: {}, connectTimeout: 1000 })).not.toThrow();
  });
});

describe('module options', () => {
  const env = {};

  it('accepts every URL form, from the environment too', () => {
    for (const url of [
      'redis+cluster://a:7000,b:7001',
      'rediss+cluster://a:7000',
      'redis+sentinel://s:26379/m',
      'rediss+sentinel://s:26379/m/1',
    ]) {
      expect(resolveModuleOptions({ brokerUrl: url }, env)).toMatchObject({ brokerUrl: url, transport: 'redis' });
      expect(resolveModuleOptions({}, { TASKQUEUE_BROKER_URL: url })).toMatchObject({ brokerUrl: url });
    }
  });

  it('refuses a bad URL or contradicting redis options at bootstrap', () => {
    expect(configError(() => resolveModuleOptions({ brokerUrl: 'redis+cluster://a:7000/3' }, env)).option).toBe(
      'brokerUrl',
    );
    expect(
      configError(() => resolveModuleOptions({ brokerUrl: 'redis+cluster://a:7000', redis: { db: 2 } }, env)).option,
    ).toBe('redis.db');
  });

  it('takes a connection factory, and refuses it beside client, redis or brokerUrl', () => {
    const connection = () => new Redis({ lazyConnect: true });
    expect(resolveModuleOptions({ connection }, env).connection).toBe(connection);
    const client = new Redis({ lazyConnect: true });
    try {
      expect(configError(() => resolveModuleOptions({ connection, client }, env)).message).toContain('"client"');
    } finally {
      client.disconnect();
    }
    expect(configError(() => resolveModuleOptions({ connection, redis: { db: 1 } }, env)).message).toContain('"redis"');
    expect(configError(() => resolveModuleOptions({ connection, brokerUrl: 'redis://h' }, env)).option).toBe(
      'connection',
    );
    expect(configError(() => resolveModuleOptions({ connection: 'x' as never }, env)).option).toBe('connection');
  });
});

describe('durability', () => {
  it('resolves the timeout and refuses bad settings, naming the option', () => {
    expect(
      resolveModuleOptions({ brokerUrl: 'redis+cluster://a:1', durability: { replicas: 1, timeout: '2s' } }, {})
        .durability,
    ).toEqual({ replicas: 1, timeoutMs: 2000 });
    expect(resolveModuleOptions({ durability: { replicas: 2 } }, {}).durability).toEqual({
      replicas: 2,
      timeoutMs: 1000,
    });
    for (const [durability, option] of [
      [{ replicas: 0 }, 'durability.replicas'],
      [{ replicas: 1.5 }, 'durability.replicas'],
      [{ replicas: 1, timeout: 0 }, 'durability.timeout'],
      [5, 'durability'],
    ] as const)
      expect(configError(() => resolveModuleOptions({ durability: durability as never }, {})).option).toBe(option);
    expect(
      configError(() => resolveModuleOptions({ brokerUrl: 'memory://x', durability: { replicas: 1 } }, {})).option,
    ).toBe('durability');
  });
});

describe('opening connections', () => {
  it('opens a Cluster for a cluster URL, with node settings and TLS on each node', () => {
    const conn = openConnection(
      parseBrokerUrl('rediss+cluster://u:p@a:7000,b:7001'),
      { natMap: { 'x:1': { host: 'y', port: 2 } }, connectTimeout: 1234, lazyConnect: true },
      'subscriber',
    );
    try {
      expect(conn).toBeInstanceOf(Cluster);
      const c = conn as Cluster;
      expect(c.options.natMap).toEqual({ 'x:1': { host: 'y', port: 2 } });
      expect(c.options.shardedSubscribers).toBe(true);
      expect(c.options.redisOptions).toMatchObject({ username: 'u', password: 'p', connectTimeout: 1234, tls: {} });
    } finally {
      conn.disconnect();
    }
  });

  it('opens a Sentinel-managed connection for a sentinel URL', () => {
    const conn = openConnection(
      parseBrokerUrl('redis+sentinel://:pw@s:26379/mymaster/2'),
      {
        sentinelPassword: 'sp',
        lazyConnect: true,
      },
      'main',
    ) as Redis;
    try {
      expect(conn).toBeInstanceOf(Redis);
      expect(conn.options).toMatchObject({
        sentinels: [{ host: 's', port: 26379 }],
        name: 'mymaster',
        db: 2,
        password: 'pw',
        sentinelPassword: 'sp',
      });
    } finally {
      conn.disconnect();
    }
  });
});
