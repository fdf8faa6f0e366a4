/**
 * How long a partition waits before a failed batch is delivered again: doubling
 * from `initialMs` per consecutive failure up to `maxMs`, so one bad batch does
 * not spin the CPU or flood the log while it keeps failing.
 */
export interface RetryBackoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { initialMs: 100, maxMs: 5000 };

/** Delay before the next delivery after `failures` (≥ 1) consecutive failures. */
export function retryDelayMs(failures: number, backoff: RetryBackoff): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(failures - 1, 30));
}
