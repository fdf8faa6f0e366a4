import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './retry.ts';

describe('retryDelayMs', () => {
  it('doubles per consecutive failure up to the maximum', () => {
    const backoff = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, backoff))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(retryDelayMs(10_000, backoff)).toBe(1000);
  });
});
