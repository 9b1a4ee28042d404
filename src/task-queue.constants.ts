/** Metadata key written by @Task(). @publicApi */
export const TASK_METADATA = 'task-queue:task';

/** Resolved, validated options (defaults applied). @publicApi */
export const TASK_QUEUE_OPTIONS = Symbol('TASK_QUEUE_OPTIONS');

/** The storage transport (Redis or memory). @internal */
export const TASK_QUEUE_TRANSPORT = Symbol('TASK_QUEUE_TRANSPORT');

export const ENV_BROKER_URL = 'TASKQUEUE_BROKER_URL';
export const ENV_RESULT_BACKEND = 'TASKQUEUE_RESULT_BACKEND';

export const DEFAULT_BROKER_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_PREFIX = 'taskqueue';
export const DEFAULT_QUEUE = 'default';
export const DEFAULT_RESULT_EXPIRES_MS = 24 * 3_600_000;

/** Metadata key written by @Periodic(). @publicApi */
export const PERIODIC_METADATA = 'task-queue:periodic';

/** The schedule and beat store (Redis or memory), from the transport layer. @internal */
export const TASK_QUEUE_BEAT_STORE = Symbol('TASK_QUEUE_BEAT_STORE');

/** The embedded beat a worker starts with `beat: true` (BeatScheduler). @internal */
export const TASK_QUEUE_EMBEDDED_BEAT = Symbol('TASK_QUEUE_EMBEDDED_BEAT');
