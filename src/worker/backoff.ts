import type { ResolvedRetry } from '../interfaces/task-options.interface.js';

/** Delay before the next attempt, when `retries` retries were done already. */
export function backoffDelay(policy: ResolvedRetry, retries: number, random: () => number = Math.random): number {
  const raw = policy.backoff === 'fixed' ? policy.delayMs : policy.delayMs * 2 ** Math.min(retries, 52);
  const capped = Math.min(raw, policy.maxDelayMs);
  return policy.jitter ? Math.round(random() * capped) : capped;
}
