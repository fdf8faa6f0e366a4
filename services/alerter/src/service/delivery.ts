import { describeError } from '@aispm/core';
import type { DeliveryResult, Destination, Notification } from '../notification.ts';
import { backoffMs, type BackoffPolicy } from './backoff.ts';
import type { CircuitBreaker } from './breaker.ts';

/** The retry budget of one notification to one destination. */
export interface DeliveryPolicy {
  maxAttempts: number;
  maxElapsedMs: number;
  backoff: BackoffPolicy;
  /** Longest one attempt may take before it counts as a retryable failure. */
  attemptTimeoutMs: number;
}

/** How a delivery ended: delivered, given up (for the DLQ), or cut short by a stop (neither: sent again after a restart). */
export type DeliveryOutcome =
  | { kind: 'delivered'; attempts: number; status?: number }
  | { kind: 'dead'; attempts: number; reason: string; status?: number }
  | { kind: 'aborted'; attempts: number };

export interface DeliveryHooks {
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  random?: () => number;
  onAttempt?(result: DeliveryResult): void;
}

/**
 * Sends one notification until it is delivered, refused for good, or out of budget:
 * capped exponential backoff with full jitter, Retry-After honoured, and attempts
 * held back while the destination's breaker is open (those waits spend time from
 * the budget, not attempts).
 */
export async function deliver(
  destination: Destination,
  notification: Notification,
  breaker: CircuitBreaker,
  policy: DeliveryPolicy,
  hooks: DeliveryHooks,
  signal: AbortSignal,
): Promise<DeliveryOutcome> {
  const started = hooks.now();
  let attempts = 0;
  let last: { reason: string; status?: number } = { reason: 'not attempted' };
  for (;;) {
    if (signal.aborted) return { kind: 'aborted', attempts };
    const elapsed = hooks.now() - started;
    if (attempts >= policy.maxAttempts || elapsed >= policy.maxElapsedMs) {
      const budget =
        attempts >= policy.maxAttempts
          ? `${attempts} attempts`
          : `${policy.maxElapsedMs} ms (AISPM_ALERT_RETRY_MAX_ELAPSED_MS)`;
      return {
        kind: 'dead',
        attempts,
        reason: `retry budget of ${budget} spent; last: ${last.reason}`,
        ...status(last),
      };
    }
    const gate = breaker.acquire(hooks.now());
    if (!gate.ok) {
      await hooks.sleep(Math.min(gate.waitMs, policy.maxElapsedMs - elapsed), signal);
      last = { reason: `circuit breaker open for ${destination.name}; ${last.reason}` };
      continue;
    }
    attempts += 1;
    const result = await attempt(destination, notification, policy.attemptTimeoutMs, signal);
    hooks.onAttempt?.(result);
    if (result.ok) {
      breaker.record(true, hooks.now());
      return { kind: 'delivered', attempts, ...status(result) };
    }
    if (!result.retryable) {
      // The receiver answered: it is up, the request is what is wrong.
      breaker.record(true, hooks.now());
      return { kind: 'dead', attempts, reason: result.reason, ...status(result) };
    }
    breaker.record(false, hooks.now());
    last = result;
    const wait = backoffMs(policy.backoff, attempts, result.retryAfterMs, hooks.random);
    const left = policy.maxElapsedMs - (hooks.now() - started);
    if (attempts < policy.maxAttempts && wait > left) {
      return {
        kind: 'dead',
        attempts,
        reason: `retry budget of ${policy.maxElapsedMs} ms (AISPM_ALERT_RETRY_MAX_ELAPSED_MS) spent: the next attempt would be ${wait} ms away; last: ${result.reason}`,
        ...status(result),
      };
    }
    if (attempts < policy.maxAttempts) await hooks.sleep(wait, signal);
  }
}

function status(r: { status?: number }): { status?: number } {
  return r.status === undefined ? {} : { status: r.status };
}

async function attempt(
  destination: Destination,
  notification: Notification,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<DeliveryResult> {
  // One controller and one cleared timer per attempt: AbortSignal.timeout's timer outlives a fast
  // answer, and AbortSignal.any ties every attempt to the stop signal, which per alert adds up.
  const controller = new AbortController();
  const onStop = (): void => controller.abort(stop.reason);
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException(`attempt timed out after ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  try {
    return await destination.send(notification, controller.signal);
  } catch (err) {
    // A destination should return failures, not throw them; a throw is treated as retryable so nothing is dropped on a bug.
    return {
      ok: false,
      retryable: true,
      reason: `${destination.kind} ${destination.name} threw: ${describeError(err)}`,
    };
  } finally {
    clearTimeout(timer);
    stop.removeEventListener('abort', onStop);
  }
}
