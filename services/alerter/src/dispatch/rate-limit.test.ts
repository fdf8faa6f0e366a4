import { describe, expect, it } from 'vitest';
import { RateLimits } from './rate-limit.ts';

const slow = { perMinute: 1, burst: 1 };
const fast = { perMinute: 60, burst: 2 };

describe('rate limits', () => {
  it('takes a token from every bucket or from none', () => {
    const r = new RateLimits(10);
    expect(r.take([{ key: 'route', limit: slow }], 0)).toBe(0);
    // The route is empty: the destination keeps its tokens.
    expect(
      r.take(
        [
          { key: 'route', limit: slow },
          { key: 'dest', limit: fast },
        ],
        0,
      ),
    ).toBe(60_000);
    expect(r.take([{ key: 'dest', limit: fast }], 0)).toBe(0);
    expect(r.take([{ key: 'dest', limit: fast }], 0)).toBe(0);
    expect(r.take([{ key: 'dest', limit: fast }], 0)).toBe(1000);
    expect(
      r.take(
        [
          { key: 'route', limit: slow },
          { key: 'dest', limit: fast },
        ],
        60_000,
      ),
    ).toBe(0);
  });

  it('stays within its bound, forgetting full buckets first, then the oldest (counted)', () => {
    const r = new RateLimits(2);
    r.take([{ key: 'a', limit: slow }], 0);
    r.take([{ key: 'b', limit: slow }], 1000);
    // At 60 s, a has refilled and goes; b has not.
    r.take([{ key: 'c', limit: slow }], 60_000);
    expect(r.size).toBe(2);
    expect(r.evicted).toBe(0);
    expect(r.take([{ key: 'b', limit: slow }], 60_000)).toBeGreaterThan(0);
    r.take([{ key: 'd', limit: slow }], 60_500);
    expect(r.size).toBe(2);
    expect(r.evicted).toBe(1);
  });
});
