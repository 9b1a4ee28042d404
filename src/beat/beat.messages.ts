/** Text of the beat's log lines and errors; reused by tests. */
export const BEAT_MESSAGES = {
  started: (id: string, n: number, election: boolean) =>
    `Beat ${id} started with ${n} declared schedule(s)${election ? '; campaigning for leadership' : ' (no leader election: every beat fires, claims keep each tick to one run)'}`,
  leader: (id: string) => `Beat ${id} is now the leader and fires the schedules`,
  follower: (id: string, leader: string | null) =>
    `Beat ${id} lost the leadership${leader ? ` to ${leader}` : ''}; standing by`,
  pruned: (name: string) =>
    `Removed schedule "${name}": it came from a @Periodic() this application no longer declares`,
  missed: (name: string, policy: string) =>
    policy === 'once'
      ? `Schedule "${name}" missed ticks while no beat ran; running it once for them`
      : `Schedule "${name}" missed ticks while no beat ran; skipping them (catchUp: 'skip')`,
  buildFailed: (name: string, err: unknown) =>
    `Schedule "${name}": could not build its message, tick skipped: ${err instanceof Error ? err.message : String(err)}`,
  loopError: (err: unknown) => `Beat loop error, retrying: ${err instanceof Error ? err.message : String(err)}`,
  leaseError: (err: unknown) => `Beat lease renewal failed: ${err instanceof Error ? err.message : String(err)}`,
  duplicateName: (name: string, a: string, b: string) =>
    `the schedule name "${name}" is used by ${a} and by ${b}; give one of them an explicit name`,
  declared: (name: string, site: string) =>
    `"${name}" is declared by @Periodic() on ${site}; change it there, or choose another name`,
} as const;
