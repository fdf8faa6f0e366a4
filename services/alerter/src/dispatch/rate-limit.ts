import { takeToken, type Bucket } from '../destinations/token-bucket.ts';
import type { RateLimit } from '../routes/index.ts';

/** One bucket a notification must take a token from. */
export interface Want {
  key: string;
  limit: RateLimit;
}

/**
 * Token buckets by key (a tenant's route, a destination), on the caller's clock.
 * A notification takes a token from every bucket it wants or from none, so a
 * notification held back by one limit does not use up another. Bounded: past the
 * bound, full buckets go first (forgetting them changes nothing), then the oldest,
 * which then starts full again (a little more may pass; counted in `evicted`).
 */
export class RateLimits {
  readonly #buckets = new Map<string, { bucket: Bucket; limit: RateLimit }>();
  readonly #max: number;
  evicted = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes a token from each bucket and answers 0, or takes none and answers the milliseconds until all have one. */
  take(wants: readonly Want[], now: number): number {
    const taken: [string, { bucket: Bucket; limit: RateLimit }][] = [];
    let wait = 0;
    for (const { key, limit } of wants) {
      const was = this.#buckets.get(key)?.bucket ?? { tokens: limit.burst, at: now };
      const t = takeToken(was, now, limit.burst, limit.perMinute);
      if (t.ok) taken.push([key, { bucket: t.bucket, limit }]);
      else wait = Math.max(wait, t.waitMs);
    }
    if (wait > 0) return wait;
    for (const [key, entry] of taken) {
      if (!this.#buckets.has(key) && this.#buckets.size >= this.#max) this.#prune(now);
      this.#buckets.set(key, entry);
    }
    return 0;
  }

  #prune(now: number): void {
    for (const [key, { bucket, limit }] of this.#buckets) {
      const refilled = bucket.tokens + ((now - bucket.at) * limit.perMinute) / 60_000;
      if (refilled >= limit.burst) this.#buckets.delete(key);
    }
    while (this.#buckets.size >= this.#max) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
      this.evicted++;
    }
  }
}
