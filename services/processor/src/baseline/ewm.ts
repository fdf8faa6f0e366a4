/**
 * Exponentially weighted mean and variance (West's incremental form), held as
 * three floats [n, mean, variance] inside an arena block. The weight of a new
 * value is max(1/n, alpha): a plain running mean while the history is short, an
 * exponential forgetting of old behaviour once it is long.
 */
export const EWM_FLOATS = 3;
const N = 0;
const MEAN = 1;
const VARIANCE = 2;

export const ewmCount = (d: Float32Array, at: number): number => d[at + N] as number;
export const ewmMean = (d: Float32Array, at: number): number => d[at + MEAN] as number;
export const ewmVariance = (d: Float32Array, at: number): number => d[at + VARIANCE] as number;

/** Adds x to the EWM at `at` (the hot path allocates nothing). */
export function updateEwm(d: Float32Array, at: number, x: number, alpha: number): void {
  const n = (d[at + N] as number) + 1;
  const weight = Math.max(1 / n, alpha);
  const mean = d[at + MEAN] as number;
  const delta = x - mean;
  d[at + N] = n;
  d[at + MEAN] = mean + weight * delta;
  d[at + VARIANCE] = (1 - weight) * ((d[at + VARIANCE] as number) + weight * delta * delta);
}
