import type { ResolvedTaskQueueOptions, TaskQueueModuleOptions } from 'nestjs-taskqueue';

/** Queues this app's tasks use: 'email' (EmailService) and 'default' (everything else). */
export const WORKER_QUEUES = ['email', 'default'];
export const WORKER_CONCURRENCY = 20;

/** Reads one setting (ConfigService.get, or process.env). */
export type SettingReader = (key: string) => string | undefined;

/**
 * The TaskQueueModule options of the sample, from the environment:
 *
 * - nothing set: `memory://sample`, with the worker and a beat embedded in the
 *   API process (API + worker + beat in one process, zero setup);
 * - `TASKQUEUE_BROKER_URL=redis://...`: the API only publishes, and
 *   `npm run start:worker` (`nest start worker`) consumes in its own process;
 *   `TASKQUEUE_EMBEDDED_WORKER=true` makes the API consume as well;
 * - `TASKQUEUE_PREFIX`: prefix of every Redis key (default 'taskqueue');
 * - `TASKQUEUE_PROTOCOL=celery`: Celery's wire format, shared with Python Celery.
 */
export function taskQueueOptions(get: SettingReader): TaskQueueModuleOptions {
  const brokerUrl = get('TASKQUEUE_BROKER_URL') || 'memory://sample';
  const embedded =
    parseFlag('TASKQUEUE_EMBEDDED_WORKER', get('TASKQUEUE_EMBEDDED_WORKER')) ?? brokerUrl.startsWith('memory://');
  const protocol = get('TASKQUEUE_PROTOCOL') || undefined;
  if (protocol !== undefined && protocol !== 'celery' && protocol !== 'taskqueue')
    throw new Error(`TASKQUEUE_PROTOCOL must be celery or taskqueue, not ${JSON.stringify(protocol)}`);
  return {
    brokerUrl,
    prefix: get('TASKQUEUE_PREFIX') || undefined,
    // 'celery': Python Celery clients and workers share the broker (see python/celery_app.py)
    ...(protocol ? { protocol, defaultQueue: 'default' } : {}),
    // The embedded worker also runs a beat (periodic tasks): API + worker + beat in one process.
    worker: { autostart: embedded, queues: WORKER_QUEUES, concurrency: WORKER_CONCURRENCY, beat: embedded },
  };
}

/** 'true' / 'false' (also 1/0, yes/no); undefined when unset. */
export function parseFlag(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new Error(`${name} must be true or false, not ${JSON.stringify(value)}`);
}

/** The broker URL without its password, for log lines. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Which broker, for log lines. */
export function describeBroker(o: ResolvedTaskQueueOptions): string {
  return o.transport === 'memory'
    ? `${o.brokerUrl} (in-process broker)`
    : `${redactUrl(o.brokerUrl)} (key prefix "${o.prefix}")`;
}

/** One line saying which broker and which mode the API process runs in. */
export function describeMode(o: ResolvedTaskQueueOptions): string {
  const mode = o.worker.autostart
    ? `worker embedded in this process, consuming [${(o.worker.queues ?? [o.defaultQueue]).join(', ')}]`
    : o.transport === 'memory'
      ? 'no worker: nothing will run the tasks (set TASKQUEUE_EMBEDDED_WORKER=true)'
      : 'publish only: run `npm run start:worker` to consume';
  return `broker ${describeBroker(o)}; ${mode}`;
}
