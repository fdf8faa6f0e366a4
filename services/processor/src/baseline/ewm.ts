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

/** Adds x to the state in place (the hot path allocates nothing). */
export function updateEwmInPlace(state: Ewm, x: number, alpha: number): void {
  state.n++;
  const weight = Math.max(1 / state.n, alpha);
  const delta = x - state.mean;
  state.mean += weight * delta;
  state.variance = (1 - weight) * (state.variance + weight * delta * delta);
}
