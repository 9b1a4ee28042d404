import { TaskQueueConfigError } from '../errors/index.js';

/** A duration: milliseconds as a number, or a string like '500ms', '15s', '5m', '1h', '2d'. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}` | string;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;

/** Milliseconds of a duration; throws TaskQueueConfigError naming `option` when invalid. */
export function toMs(value: Duration, option: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new TaskQueueConfigError(option, value, 'a duration must be a finite number of milliseconds >= 0');
    return value;
  }
  if (typeof value === 'string') {
    const m = PATTERN.exec(value);
    if (m) return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']);
  }
  throw new TaskQueueConfigError(
    option,
    value,
    "expected milliseconds or a string such as '500ms', '15s', '5m', '1h', '1d'",
  );
}

export function optionalMs(value: Duration | undefined, option: string): number | undefined {
  return value === undefined || value === null ? undefined : toMs(value, option);
}
