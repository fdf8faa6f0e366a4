/** A token bucket as a value: `capacity` tokens, refilled at `perMinute` a minute. Pure; the clock is the caller's. */
export interface Bucket {
  tokens: number;
  at: number;
}

export type Take = { ok: true; bucket: Bucket } | { ok: false; bucket: Bucket; waitMs: number };

export function takeToken(bucket: Bucket, now: number, capacity: number, perMinute: number): Take {
  const perMs = perMinute / 60_000;
  const elapsed = Math.max(0, now - bucket.at);
  const tokens = Math.min(capacity, bucket.tokens + elapsed * perMs);
  if (tokens >= 1) return { ok: true, bucket: { tokens: tokens - 1, at: now } };
  return { ok: false, bucket: { tokens, at: now }, waitMs: Math.ceil((1 - tokens) / perMs) };
}

/**
 * Buckets by key (a digest of the routing key), shared by every destination using
 * that key, as PagerDuty counts per integration key. Bounded: the keys are the
 * configured ones, and the oldest is dropped past `maxKeys`.
 */
export class Buckets {
  readonly #buckets = new Map<string, Bucket>();

  readonly maxKeys: number;

  constructor(maxKeys = 1024) {
    this.maxKeys = maxKeys;
  }

  take(key: string, now: number, capacity: number, perMinute: number): Take {
    const bucket = this.#buckets.get(key) ?? { tokens: capacity, at: now };
    const taken = takeToken(bucket, now, capacity, perMinute);
    this.#buckets.delete(key);
    this.#buckets.set(key, taken.bucket);
    if (this.#buckets.size > this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    return taken;
  }
}
