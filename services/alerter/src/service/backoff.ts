/** Retry timing of one delivery: pure, so tests drive it with their own random source. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/**
 * "Full jitter" (a uniform wait between 0 and the capped exponential step): retries
 * of many alerts spread out instead of arriving at a recovering receiver together.
 * A receiver's Retry-After is a floor: waiting less would only earn another 429.
 */
export function backoffMs(
  policy: BackoffPolicy,
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 40));
  const jittered = Math.floor(random() * step);
  return Math.max(jittered, retryAfterMs ?? 0);
}
