/**
 * The time source of a beat: when ticks fall due, and how it waits for them.
 * The default reads the system clock; tests pass a ManualClock and move time
 * themselves, so nothing waits on real time.
 * @publicApi
 */
export interface BeatClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves once `ms` of this clock's time have passed, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Longest single wait: the beat looks at the clock again at least this often (a wall clock may jump). */
const MAX_SLEEP_MS = 30_000;

/** The system clock (Date.now and timers). @publicApi */
export const systemClock: BeatClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, MAX_SLEEP_MS)));
      signal.addEventListener('abort', done, { once: true });
    }),
};

/**
 * A clock that moves only when told to, for tests: `advance(ms)` or `set(t)`
 * wakes every sleeper whose time has come.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(Date.parse('2026-03-08T06:00:00Z'));
 * await beat.start({ clock });
 * clock.advance('1h');
 * ```
 * @publicApi
 */
export class ManualClock implements BeatClock {
  private sleepers = new Set<{ at: number; resolve: () => void }>();

  constructor(private time: number = Date.now()) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted || ms <= 0) return resolve();
      const sleeper = {
        at: this.time + ms,
        resolve: () => {
          this.sleepers.delete(sleeper);
          signal.removeEventListener('abort', sleeper.resolve);
          resolve();
        },
      };
      this.sleepers.add(sleeper);
      signal.addEventListener('abort', sleeper.resolve, { once: true });
    });
  }

  /** How many waits are in progress (a beat at rest has one). */
  get waiting(): number {
    return this.sleepers.size;
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.set(this.time + ms);
  }

  /** Moves the clock to `time` (epoch ms or a Date); it never goes back. */
  set(time: number | Date): void {
    const t = typeof time === 'number' ? time : time.getTime();
    if (t > this.time) this.time = t;
    for (const s of [...this.sleepers]) if (s.at <= this.time) s.resolve();
  }
}
