import { DDSketch } from '@datadog/sketches-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Arena } from './arena.ts';
import {
  addToSketch,
  cdf,
  mergeSketch,
  newSketch,
  quantile,
  quartiles,
  scaleSketch,
  sketchBins,
  sketchMapping,
  sketchTotal,
} from './sketch.ts';

const ALPHA = 0.05;
/** Wide enough that nothing collapses: the bound holds for every quantile. */
const wide = sketchMapping({ alpha: ALPHA, maxBins: 4096 });

const arena = new Arena();

/** The handle of a sketch of xs. */
const sketchOf = (xs: number[], m = wide): number => {
  let s = newSketch(arena);
  for (const x of xs) s = addToSketch(arena, s, m, x);
  return s;
};
const quantileOf = (s: number, m: typeof wide, p: number): number => quantile(arena, s, m, p);

/** The element a sketch's q-quantile stands for: sorted index floor(q·n). */
const exact = (xs: number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

const withinBound = (estimate: number, truth: number): boolean =>
  truth === 0 ? estimate === 0 : Math.abs(estimate - truth) <= ALPHA * truth * (1 + 1e-9);

const values = fc.array(
  fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 1e7, noNaN: true }), fc.integer({ min: 1, max: 100_000 })),
  { minLength: 1, maxLength: 400 },
);
const qs = fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 1, maxLength: 8 });

describe('log-bucket quantile sketch', () => {
  it('answers every quantile within its relative accuracy α (property)', () => {
    fc.assert(
      fc.property(values, qs, (xs, probes) => {
        const s = sketchOf(xs);
        return probes.every((q) => withinBound(quantileOf(s, wide, q), exact(xs, q)));
      }),
      { numRuns: 300 },
    );
  });

  it('merges exactly: the merge of two sketches answers like the sketch of both streams (property)', () => {
    fc.assert(
      fc.property(values, values, qs, (a, b, probes) => {
        const merged = mergeSketch(arena, sketchOf(a), sketchOf(b), wide);
        const both = sketchOf([...a, ...b]);
        expect(sketchTotal(arena, merged)).toBe(sketchTotal(arena, both));
        return probes.every(
          (q) =>
            quantileOf(merged, wide, q) === quantileOf(both, wide, q) &&
            withinBound(quantileOf(merged, wide, q), exact([...a, ...b], q)),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('keeps upper quantiles within α when the bucket cap folds the low tail (property)', () => {
    const capped = sketchMapping({ alpha: ALPHA, maxBins: 64 });
    fc.assert(
      fc.property(values, (xs) => {
        const s = sketchOf(xs, capped);
        const { bins, offset } = sketchBins(arena, s);
        expect(bins.length).toBeLessThanOrEqual(64);
        // Quantiles whose true value lies inside the kept range keep the guarantee.
        const lowestKept = (2 * Math.pow(capped.gamma, offset)) / (capped.gamma + 1);
        return [0.5, 0.75, 0.9, 0.99].every((q) => {
          const truth = exact(xs, q);
          return truth <= lowestKept * (1 + ALPHA) || withinBound(quantileOf(s, capped, q), truth);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with DDSketch from @datadog/sketches-js at the same accuracy', () => {
    const xs = Array.from({ length: 5000 }, (_, i) => Math.exp(Math.sin(i * 12.9898) * 3 + 6));
    const theirs = new DDSketch({ relativeAccuracy: ALPHA });
    for (const x of xs) theirs.accept(x);
    const ours = sketchOf(xs);
    for (const q of [0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) {
      const truth = exact(xs, q);
      expect(Math.abs(quantileOf(ours, wide, q) - truth)).toBeLessThanOrEqual(ALPHA * truth);
      expect(Math.abs(quantileOf(ours, wide, q) - theirs.getValueAtQuantile(q))).toBeLessThanOrEqual(
        2.1 * ALPHA * truth,
      );
    }
  });

  it('computes quartiles in one pass equal to three quantile calls, and a CDF consistent with them', () => {
    const xs = Array.from({ length: 999 }, (_, i) => (i % 7) * 13 + (i % 11));
    const s = sketchOf(xs);
    const out = new Float64Array(3);
    quartiles(arena, s, wide, out);
    expect([...out]).toEqual([quantileOf(s, wide, 0.25), quantileOf(s, wide, 0.5), quantileOf(s, wide, 0.75)]);
    expect(cdf(arena, s, wide, out[1]!)).toBeGreaterThanOrEqual(0.5);
    expect(cdf(arena, s, wide, 0)).toBeCloseTo(xs.filter((x) => x === 0).length / xs.length, 10);
  });

  it('treats weights as counts, so scaling all of them (decay rescale) changes no quantile', () => {
    const s = sketchOf([1, 2, 3, 50, 60, 70, 1000]);
    const before = [0.2, 0.5, 0.9].map((q) => quantileOf(s, wide, q));
    scaleSketch(arena, s, 1 / 1024);
    expect([0.2, 0.5, 0.9].map((q) => quantileOf(s, wide, q))).toEqual(before);
    expect(sketchTotal(arena, s)).toBeCloseTo(7 / 1024, 12);
  });

  it('holds a narrow distribution in a few dozen floats', () => {
    const xs = Array.from({ length: 10_000 }, (_, i) => 100 * Math.exp(0.45 * Math.sin(i)));
    const s = sketchOf(xs, sketchMapping({ alpha: ALPHA, maxBins: 64 }));
    // ln(100·e^0.45 / 100·e^-0.45) / ln γ ≈ 9 buckets, in the smallest power of two with slack around them.
    expect(arena.sizeOf(s)).toBeLessThanOrEqual(3 + 16);
  });
});
