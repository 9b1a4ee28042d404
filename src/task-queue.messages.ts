/** Text of warnings and errors that are not error classes; reused by tests. */
export const MESSAGES = {
  scopedProvider: (site: string) =>
    `Cannot register task ${site}: its provider is request- or transient-scoped. Tasks must live in singleton providers.`,
  memoryBroker: (url: string) =>
    `Using the in-process broker ${url}: tasks never leave this process and are lost when it exits. Use redis:// in production.`,
  memoryWorkerProcess: (url: string) =>
    `This worker process uses the in-process broker ${url}: it only sees tasks published inside this same process. Set TASKQUEUE_BROKER_URL to a redis:// URL shared with the API.`,
  outsideTask: (what: string) =>
    `TaskContext.${what} was read outside a running task. It is only available while a task runs.`,
  workerStarted: (id: string, queues: string[], concurrency: number) =>
    `Worker ${id} consuming [${queues.join(', ')}] with concurrency ${concurrency}`,
  leaseLost: (task: string, id: string) =>
    `Lost the lease of ${task}[${id}] (the event loop was blocked longer than the lease, or Redis was unreachable); another worker may run it too.`,
  rejected: (id: string | null, reason: string) =>
    `Rejected message ${id ?? '(no id)'}: ${reason}. It is parked in the rejected list.`,
  kwargsRefused: (task: string, site: string, names: string[]) =>
    `task ${task} (${site}) was sent keyword arguments ${names.join(', ')}; it takes positional arguments only. Send them positionally, or take them as a trailing object with @Task({ kwargs: true })`,
  loopError: (err: unknown) => `Worker fetch loop error, retrying: ${err instanceof Error ? err.message : String(err)}`,
} as const;
