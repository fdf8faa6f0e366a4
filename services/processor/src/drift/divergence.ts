/**
 * Divergences between two distributions given as weights over the same bins
 * (they need not sum to 1; each is normalized here). Pure arithmetic, no
 * allocation: these run once per entity per window for every distribution.
 */

/** Share floor for PSI, whose log ratio is undefined on empty bins (a common choice in credit scoring). */
export const PSI_EPSILON = 1e-4;

/**
 * Population Stability Index: Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over shares, empty bins
 * floored at `epsilon`. 0 for identical distributions; 0.1 is the customary
 * "watch" and 0.25 the "act" level. Equal to the symmetric (Jeffreys) KL divergence.
 */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>, epsilon = PSI_EPSILON): number {
  const e = sum(expected);
  const a = sum(actual);
  if (e <= 0 || a <= 0) return 0;
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const ei = Math.max((expected[i] as number) / e, epsilon);
    const ai = Math.max((actual[i] as number) / a, epsilon);
    total += (ai - ei) * Math.log(ai / ei);
  }
  return total;
}

/**
 * Jensen–Shannon divergence in bits: the mean KL divergence of each distribution
 * from their midpoint. Symmetric, finite on empty bins, in [0, 1]: 0 when the
 * distributions are equal, 1 when their supports are disjoint.
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const sp = sum(p);
  const sq = sum(q);
  if (sp <= 0 || sq <= 0) return 0;
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = (p[i] as number) / sp;
    const qi = (q[i] as number) / sq;
    const mi = (pi + qi) / 2;
    if (pi > 0) total += pi * Math.log2(pi / mi);
    if (qi > 0) total += qi * Math.log2(qi / mi);
  }
  // Rounding can leave a hair outside [0, 1].
  return Math.min(1, Math.max(0, total / 2));
}

function sum(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += Math.max(0, xs[i] as number);
  return s;
}
