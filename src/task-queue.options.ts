import { TaskQueueConfigError } from './errors/index.js';
import type { ResolvedTaskQueueOptions, TaskQueueModuleOptions } from './interfaces/index.js';
import type { ResolvedWorkerOptions, WorkerOptions } from './interfaces/worker-options.interface.js';
import { DEFAULT_MAX_MESSAGE_BYTES, assertName, toMs } from './protocol/index.js';
import {
  DEFAULT_BROKER_URL,
  DEFAULT_PREFIX,
  DEFAULT_QUEUE,
  DEFAULT_RESULT_EXPIRES_MS,
  ENV_BROKER_URL,
  ENV_RESULT_BACKEND,
} from './task-queue.constants.js';
import { parseBrokerUrl, validateRedisOptions } from './transport/redis/connection.js';
import { resolveInTransaction, resolveOutboxOptions } from './outbox/outbox.options.js';

/** Celery's default queue. */
const CELERY_DEFAULT_QUEUE = 'celery';

const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/**
 * Applies defaults (environment variables included) and validates. The sync and
 * async module paths both go through here, so they behave the same.
 */
export function resolveModuleOptions(
  options: TaskQueueModuleOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedTaskQueueOptions {
  if (typeof options !== 'object' || options === null)
    throw new TaskQueueConfigError('options', options, 'expected an object');
  const brokerUrl = options.brokerUrl ?? env[ENV_BROKER_URL] ?? DEFAULT_BROKER_URL;
  let transport: 'redis' | 'memory';
  if (typeof brokerUrl !== 'string') throw new TaskQueueConfigError('brokerUrl', brokerUrl, 'expected a string');
  if (/^memory:\/\/[A-Za-z0-9._-]*$/.test(brokerUrl)) transport = 'memory';
  else {
    transport = 'redis';
    // Throws a TaskQueueConfigError naming brokerUrl for anything but the redis URL forms.
    const spec = parseBrokerUrl(brokerUrl, 'brokerUrl');
    validateRedisOptions(spec, options.redis, 'redis');
  }
  if (options.connection !== undefined) {
    if (typeof options.connection !== 'function')
      throw new TaskQueueConfigError('connection', options.connection, 'expected a function (role) => Redis | Cluster');
    const other =
      options.client !== undefined
        ? ['client', 'a client is used as given; give one of the two']
        : options.redis !== undefined
          ? ['redis', 'the factory makes every connection, so these options would be ignored; set them in the factory']
          : options.brokerUrl !== undefined
            ? ['brokerUrl', 'the factory makes every connection, so the URL would be ignored; give one of the two']
            : undefined;
    if (other)
      throw new TaskQueueConfigError('connection', options.connection, `contradicts "${other[0]}": ${other[1]}`);
  }
  let durability: ResolvedTaskQueueOptions['durability'];
  if (options.durability !== undefined) {
    const d = options.durability;
    if (typeof d !== 'object' || d === null)
      throw new TaskQueueConfigError('durability', d, 'expected { replicas, timeout }');
    if (!isPositiveInt(d.replicas))
      throw new TaskQueueConfigError('durability.replicas', d.replicas, 'expected a positive integer');
    const timeoutMs = toMs(d.timeout ?? '1s', 'durability.timeout');
    if (timeoutMs <= 0) throw new TaskQueueConfigError('durability.timeout', d.timeout, 'must be more than 0');
    if (transport === 'memory') throw new TaskQueueConfigError('durability', d, 'the memory:// broker has no replicas');
    durability = { replicas: d.replicas, timeoutMs };
  }
  const shards: Record<string, number> = {};
  if (options.queues !== undefined) {
    if (typeof options.queues !== 'object' || options.queues === null)
      throw new TaskQueueConfigError('queues', options.queues, 'expected { <queue>: { shards } }');
    for (const [name, q] of Object.entries(options.queues)) {
      assertName(`queues.${name}`, name);
      if (typeof q !== 'object' || q === null)
        throw new TaskQueueConfigError(`queues.${name}`, q, 'expected { shards }');
      const n = q.shards ?? 1;
      if (!Number.isInteger(n) || n < 1 || n > 1024)
        throw new TaskQueueConfigError(`queues.${name}.shards`, q.shards, 'expected an integer from 1 to 1024');
      if (n > 1) shards[name] = n;
    }
  }
  const resultBackend = options.resultBackend ?? env[ENV_RESULT_BACKEND];
  if (resultBackend !== undefined && resultBackend !== '' && resultBackend !== brokerUrl) {
    throw new TaskQueueConfigError(
      'resultBackend',
      resultBackend,
      `results are stored by the broker in the same atomic step that acknowledges a task, so the result backend must be the broker (${brokerUrl}); leave it unset`,
    );
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9._:\-]{1,100}$/.test(prefix)) {
    throw new TaskQueueConfigError(
      'prefix',
      prefix,
      'use 1 to 100 characters from A-Z a-z 0-9 . _ : - (no braces: the prefix sits outside the hash tag)',
    );
  }
  const protocol = options.protocol ?? 'taskqueue';
  if (protocol !== 'taskqueue' && protocol !== 'celery')
    throw new TaskQueueConfigError('protocol', protocol, "expected 'taskqueue' or 'celery'");
  if (protocol === 'celery' && (transport !== 'redis' || /^rediss?\+cluster:/.test(brokerUrl)))
    throw new TaskQueueConfigError(
      'protocol',
      protocol,
      'the Celery protocol needs a single Redis server (redis://, rediss:// or a Sentinel URL): it is the layout Python Celery reads, which does not fit a Cluster',
    );
  if (protocol === 'celery' && durability !== undefined)
    throw new TaskQueueConfigError('durability', options.durability, "not supported with protocol 'celery' yet");
  if (protocol === 'celery' && Object.keys(shards).length > 0)
    throw new TaskQueueConfigError(
      'queues',
      options.queues,
      "sharded queues are not supported with protocol 'celery' (a Celery queue is one kombu list)",
    );
  const defaultQueue = assertName(
    'defaultQueue',
    options.defaultQueue ?? (protocol === 'celery' ? CELERY_DEFAULT_QUEUE : DEFAULT_QUEUE),
  );
  const resultExpiresMs =
    options.resultExpires === undefined ? DEFAULT_RESULT_EXPIRES_MS : toMs(options.resultExpires, 'resultExpires');
  if (resultExpiresMs <= 0)
    throw new TaskQueueConfigError('resultExpires', options.resultExpires, 'must be more than 0');
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!isPositiveInt(maxMessageBytes))
    throw new TaskQueueConfigError('maxMessageBytes', maxMessageBytes, 'expected a positive integer');
  const worker = options.worker ?? {};
  if (typeof worker !== 'object' || worker === null)
    throw new TaskQueueConfigError('worker', worker, 'expected an object');
  const events = resolveEvents(options.events);
  // Validate now so a bad worker option fails at bootstrap, not when the worker starts.
  resolveWorkerOptions(worker, defaultQueue, 'worker.');
  const outbox = resolveOutboxOptions(options.outbox);
  const inTransaction = resolveInTransaction(options.inTransaction, outbox !== undefined);
  return {
    brokerUrl,
    transport,
    protocol,
    prefix,
    defaultQueue,
    resultExpiresMs,
    maxMessageBytes,
    redis: options.redis,
    client: options.client,
    connection: options.connection,
    durability,
    shards,
    worker: { ...worker, autostart: worker.autostart ?? false },
    events,
    correlation: {
      httpHeader: assertName('correlation.httpHeader', options.correlation?.httpHeader ?? 'x-correlation-id'),
      header: assertName('correlation.header', options.correlation?.header ?? 'correlationId'),
    },
    inTransaction,
    ...(outbox ? { outbox } : {}),
  };
}

/** Worker options with defaults, validated. `base` supplies values not given in `opts`. */
export function resolveWorkerOptions(
  opts: WorkerOptions,
  defaultQueue: string,
  optionPrefix = '',
  base: WorkerOptions = {},
): ResolvedWorkerOptions {
  const o = { ...base, ...stripUndefined(opts) };
  const queues = o.queues ?? [defaultQueue];
  if (!Array.isArray(queues) || queues.length === 0)
    throw new TaskQueueConfigError(`${optionPrefix}queues`, queues, 'expected a non-empty array of queue names');
  queues.forEach((q, i) => assertName(`${optionPrefix}queues[${i}]`, q));
  const concurrency = o.concurrency ?? 10;
  if (!isPositiveInt(concurrency))
    throw new TaskQueueConfigError(`${optionPrefix}concurrency`, concurrency, 'expected a positive integer');
  const prefetch = o.prefetch ?? 0;
  if (!Number.isInteger(prefetch) || prefetch < 0)
    throw new TaskQueueConfigError(`${optionPrefix}prefetch`, prefetch, 'expected an integer >= 0');
  const leaseMs = toMs(o.lease ?? '15s', `${optionPrefix}lease`);
  if (leaseMs < 100) throw new TaskQueueConfigError(`${optionPrefix}lease`, o.lease, 'must be at least 100 ms');
  const shutdownTimeoutMs = toMs(o.shutdownTimeout ?? '30s', `${optionPrefix}shutdownTimeout`);
  const maxRedeliveries = o.maxRedeliveries ?? 5;
  if (!Number.isInteger(maxRedeliveries) || maxRedeliveries < 0)
    throw new TaskQueueConfigError(`${optionPrefix}maxRedeliveries`, maxRedeliveries, 'expected an integer >= 0');
  const beat = o.beat === undefined || o.beat === false ? false : o.beat === true ? {} : o.beat;
  if (beat !== false && (typeof beat !== 'object' || beat === null))
    throw new TaskQueueConfigError(`${optionPrefix}beat`, o.beat, 'expected true, false or beat options');
  const logLevel = o.logLevel ?? 'debug';
  if (!['log', 'debug', 'verbose', 'off'].includes(logLevel))
    throw new TaskQueueConfigError(`${optionPrefix}logLevel`, logLevel, "expected 'log', 'debug', 'verbose' or 'off'");
  return {
    queues: [...new Set(queues)],
    concurrency,
    prefetch,
    leaseMs,
    shutdownTimeoutMs,
    maxRedeliveries,
    beat,
    logLevel,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const DEFAULT_EVENTS_MAX_LENGTH = 10_000;

function resolveEvents(events: TaskQueueModuleOptions['events']): ResolvedTaskQueueOptions['events'] {
  if (events === undefined || events === false) return { enabled: false, maxLength: DEFAULT_EVENTS_MAX_LENGTH };
  if (events === true) return { enabled: true, maxLength: DEFAULT_EVENTS_MAX_LENGTH };
  if (typeof events !== 'object' || events === null)
    throw new TaskQueueConfigError('events', events, 'expected true, false or { maxLength }');
  const maxLength = events.maxLength ?? DEFAULT_EVENTS_MAX_LENGTH;
  if (!isPositiveInt(maxLength))
    throw new TaskQueueConfigError('events.maxLength', maxLength, 'expected a positive integer');
  return { enabled: true, maxLength };
}
