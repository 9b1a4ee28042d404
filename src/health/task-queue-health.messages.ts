/** Text of the health indicator's `down` messages (tests reuse them). @internal */
export const HEALTH_MESSAGES = {
  timeout: (what: string, ms: number) => `${what} did not answer within ${ms} ms`,
  brokerUnreachable: (reason: string) => `broker unreachable: ${reason}`,
  clusterDown: (state: string, slotsOk: number) =>
    `the Redis Cluster reports cluster_state:${state} (${slotsOk} of 16384 slots served)`,
  noWorkers: (maxAgeMs: number, live: number, required: number, queue?: string) =>
    `${live === 0 ? 'no worker has' : `only ${live} worker(s) have`} sent a heartbeat in the last ${maxAgeMs} ms` +
    `${queue ? ` while consuming queue "${queue}"` : ''} (${live} of ${required} required)`,
  noBeat: () => 'no beat is running: no leader heartbeat in the broker',
  staleBeat: (id: string, ageMs: number, maxAgeMs: number) =>
    `the beat leader ${id} last sent a heartbeat ${ageMs} ms ago (more than ${maxAgeMs} ms)`,
  backlog: (queue: string, ready: number, threshold: number) =>
    `queue "${queue}" has ${ready} task(s) ready, more than the threshold of ${threshold}`,
  noOutbox: () => 'no outbox is configured (TaskQueueModule option outbox)',
  outboxUnreachable: (reason: string) => `outbox unreachable: ${reason}`,
  outboxLag: (lagMs: number, maxLagMs: number, pending: number) =>
    `the oldest outbox row has waited ${lagMs} ms to be relayed (more than ${maxLagMs} ms; ${pending} row(s) waiting)`,
  invalidOption: (message: string) => `invalid health check option: ${message}`,
} as const;
