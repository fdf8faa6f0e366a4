/**
 * Exponentially weighted mean and variance (West's incremental form). The weight
 * of a new value is max(1/n, alpha): a plain running mean while the history is
 * short, an exponential forgetting of old behaviour once it is long.
 */
export interface Ewm {
  n: number;
  mean: number;
  variance: number;
}

export const emptyEwm = (): Ewm => ({ n: 0, mean: 0, variance: 0 });

export function updateEwm(state: Ewm, x: number, alpha: number): Ewm {
  const n = state.n + 1;
  const weight = Math.max(1 / n, alpha);
  const delta = x - state.mean;
  const mean = state.mean + weight * delta;
  const variance = (1 - weight) * (state.variance + weight * delta * delta);
  return { n, mean, variance };
}

/** How many standard deviations x lies above the mean; `floor` keeps a near-constant history from making noise huge. */
export function zAbove(state: Ewm, x: number, floor: number): number {
  return (x - state.mean) / Math.max(Math.sqrt(state.variance), floor);
}
