import type { AiEvent } from './types.ts';

/** Bounds that separate a plausible event from a broken or hostile one. */
export const EVENT_LIMITS = {
  maxTokens: 10_000_000,
  maxLatencyMs: 24 * 3600 * 1000,
  maxFutureSkewMs: 15 * 60 * 1000,
  maxAgeMs: 30 * 24 * 3600 * 1000,
  maxIdentifierLength: 256,
} as const;

/**
 * The reason an event cannot be accepted, or null when it can. Events with a
 * reason go to the dead-letter topic; they never reach a baseline.
 */
export function invalidReason(event: AiEvent, nowMs: number): string | null {
  for (const field of ['event_id', 'tenant', 'app', 'trace_id', 'span_id'] as const) {
    if (event[field].length === 0) return `${field} is empty`;
    if (event[field].length > EVENT_LIMITS.maxIdentifierLength) {
      return `${field} is longer than ${EVENT_LIMITS.maxIdentifierLength} characters`;
    }
  }
  const timeMs = event.time / 1000;
  if (!Number.isFinite(timeMs)) return 'time is not a number';
  if (timeMs > nowMs + EVENT_LIMITS.maxFutureSkewMs) return 'time is more than 15 minutes in the future';
  if (timeMs < nowMs - EVENT_LIMITS.maxAgeMs) return 'time is more than 30 days in the past';
  for (const field of ['input_tokens', 'output_tokens'] as const) {
    const tokens = event[field];
    if (tokens === null) continue;
    if (!Number.isInteger(tokens) || tokens < 0) return `${field} must be a non-negative integer, got ${tokens}`;
    if (tokens > EVENT_LIMITS.maxTokens) return `${field} above ${EVENT_LIMITS.maxTokens}`;
  }
  if (!Number.isFinite(event.latency_ms) || event.latency_ms < 0)
    return `latency_ms must be >= 0, got ${event.latency_ms}`;
  if (event.latency_ms > EVENT_LIMITS.maxLatencyMs) return 'latency_ms above 24 hours';
  return null;
}
