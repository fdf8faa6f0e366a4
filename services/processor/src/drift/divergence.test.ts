import fc from 'fast-check';
import { erf, log, sum } from 'mathjs';
import { describe, expect, it } from 'vitest';
import { jensenShannon, psi } from './divergence.ts';

/** Probability of each bin of a normal distribution N(mu, 1) over the given cut points (mathjs erf). */
function normalBins(mu: number, cuts: number[]): number[] {
  const cdfAt = (x: number): number => 0.5 * (1 + erf((x - mu) / Math.SQRT2));
  const edges = [-Infinity, ...cuts, Infinity];
  return edges
    .slice(1)
    .map((hi, i) => (hi === Infinity ? 1 : cdfAt(hi)) - (edges[i] === -Infinity ? 0 : cdfAt(edges[i]!)));
}

const distribution = fc
  .array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 2, maxLength: 20 })
  .filter((xs) => sum(xs) > 1e-6);

describe('population stability index', () => {
  it('is 0 for identical distributions, however they are scaled', () => {
    fc.assert(
      fc.property(
        distribution,
        fc.double({ min: 0.01, max: 1000, noNaN: true }),
        (p, k) =>
          Math.abs(
            psi(
              p,
              p.map((x) => x * k),
            ),
          ) < 1e-12,
      ),
    );
  });

  it('gives the closed form for a known two-bin shift: 0.3·ln(1.6) + 0.3·ln(2.5)', () => {
    expect(psi([0.5, 0.5], [0.8, 0.2])).toBeCloseTo(0.3 * Number(log(1.6)) + 0.3 * Number(log(2.5)), 12);
    expect(psi([50, 50], [80, 20])).toBeCloseTo(0.4158883, 6);
  });

  it('approaches μ² for a unit normal shifted by μ, binned finely (the Jeffreys divergence of the two normals)', () => {
    const cuts = Array.from({ length: 199 }, (_, i) => -5 + (i + 1) * 0.05);
    for (const mu of [0.1, 0.5, 1]) {
      // No share floor here: the far tails hold shares far below it, and the closed form counts them.
      expect(psi(normalBins(0, cuts), normalBins(mu, cuts), 1e-300)).toBeCloseTo(mu * mu, 2);
    }
  });

  it('crosses the customary thresholds where expected: a 0.3σ shift is below watch, a 0.6σ shift is above act', () => {
    const deciles = [-1.2816, -0.8416, -0.5244, -0.2533, 0, 0.2533, 0.5244, 0.8416, 1.2816];
    expect(psi(normalBins(0, deciles), normalBins(0.3, deciles))).toBeLessThan(0.1);
    expect(psi(normalBins(0, deciles), normalBins(0.6, deciles))).toBeGreaterThan(0.25);
  });

  it('stays finite when a bin is empty on one side (floored shares)', () => {
    expect(Number.isFinite(psi([1, 0], [0, 1]))).toBe(true);
    expect(psi([1, 0], [0, 1])).toBeGreaterThan(10);
  });
});

describe('Jensen–Shannon divergence', () => {
  it('is symmetric and within [0, 1] bits (property)', () => {
    fc.assert(
      fc.property(distribution, distribution, (a, b) => {
        const n = Math.min(a.length, b.length);
        const p = a.slice(0, n);
        const q = b.slice(0, n);
        const d = jensenShannon(p, q);
        return d >= 0 && d <= 1 && Math.abs(d - jensenShannon(q, p)) < 1e-12;
      }),
    );
  });

  it('is 0 for equal distributions and 1 for disjoint ones', () => {
    expect(jensenShannon([1, 2, 3], [2, 4, 6])).toBeCloseTo(0, 12);
    expect(jensenShannon([1, 0, 0], [0, 0, 5])).toBe(1);
  });

  it('gives the closed form for two coins: H(0.65) − (H(0.5) + H(0.8))/2', () => {
    const h = (p: number): number => -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
    expect(jensenShannon([0.5, 0.5], [0.8, 0.2])).toBeCloseTo(h(0.65) - (h(0.5) + h(0.8)) / 2, 12);
  });
});
