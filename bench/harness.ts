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
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length);
  return { median, samples, cv: mean === 0 ? 0 : sd / mean };
}

/** A machine whose one-minute load already exceeds half its cores gives noisy figures. */
export const machineBusy = (): boolean => (loadavg()[0] ?? 0) > cpus().length / 2;
