import { cpus, loadavg } from 'node:os';

/**
 * What every benchmark returns; bench/run.ts adds the name, time and machine and
 * writes bench/results/NAME.json (format in DESIGN.md, "Benchmarks").
 */
export interface Metric {
  value: number;
  unit: string;
}

export interface BenchOutcome {
  metrics: Record<string, Metric>;
  params: Record<string, unknown>;
  /** True when repeats disagree or the machine was busy, so figures deserve a second run. */
  noisy: boolean;
  notes?: string[];
}

export interface Benchmark {
  description: string;
  run(progress: (line: string) => void): Promise<BenchOutcome>;
}

export interface Repeated {
  median: number;
  samples: number[];
  /** Coefficient of variation of the samples. */
  cv: number;
}

/** Runs `once` `warmup` times unmeasured, then `repeats` times, and reports the median of what it returns. */
export async function repeat(
  once: () => Promise<number>,
  options: { warmup: number; repeats: number },
): Promise<Repeated> {
  for (let i = 0; i < options.warmup; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < options.repeats; i++) samples.push(await once());
  return { median: median(samples), samples, cv: cv(samples) };
}

/** The middle value (of an even count, the upper of the two middle ones); `values` need not be sorted. */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
}

/** Coefficient of variation: population standard deviation over the mean (0 when the mean is 0). */
export function cv(values: readonly number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return mean === 0 ? 0 : sd / mean;
}

/**
 * Nearest-rank percentile of ascending `sorted` values, `q` from 0 to 1: the smallest
 * value with at least q·n values at or below it. 0 when there are none.
 */
export function percentile(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  return sorted[Math.max(0, Math.min(n - 1, Math.ceil(q * n) - 1))] ?? 0;
}

/** A machine whose one-minute load already exceeds half its cores gives noisy figures. */
export const machineBusy = (): boolean => (loadavg()[0] ?? 0) > cpus().length / 2;
