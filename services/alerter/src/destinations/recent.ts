/**
 * What a destination delivered lately, so a retry of a partly delivered notification
 * resends only what failed (a group of 500 findings to PagerDuty would otherwise
 * spend its rate limit re-sending the first ones on every attempt). Bounded by
 * count and age; forgetting only costs a duplicate, which the receiver dedups.
 */
export class RecentlySent {
  readonly #at = new Map<string, number>();

  readonly maxEntries: number;
  readonly maxAgeMs: number;

  constructor(maxEntries = 10_000, maxAgeMs = 15 * 60_000) {
    this.maxEntries = maxEntries;
    this.maxAgeMs = maxAgeMs;
  }

  has(key: string, now: number): boolean {
    const at = this.#at.get(key);
    return at !== undefined && now - at <= this.maxAgeMs;
  }

  add(key: string, now: number): void {
    this.#at.delete(key);
    this.#at.set(key, now);
    while (this.#at.size > this.maxEntries) this.#at.delete(this.#at.keys().next().value!);
  }
}
