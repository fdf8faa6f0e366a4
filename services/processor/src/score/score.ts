import type { Measurement } from '../baseline/agent.ts';

/**
 * An anomaly score in [0, 1] from explainable parts. Each part maps a z-score
 * above a threshold onto [0, 1); parts combine as a noisy-OR, so two moderate
 * signals outrank one.
 */
export interface ScorePart {
  feature: 'rate' | 'input_tokens' | 'output_tokens';
  z: number;
  score: number;
  /** Plain words for an analyst. */
  reason: string;
}

export interface Score {
  score: number;
  learning: boolean;
  /** Contributing parts, strongest first. */
  parts: ScorePart[];
}

export interface ScoreOptions {
  /** z below this contributes nothing. */
  threshold: number;
  /** z above the threshold at which a part reaches 1 - 1/e. */
  scale: number;
}

export const DEFAULT_SCORE_OPTIONS: ScoreOptions = { threshold: 3, scale: 3 };

export function partScore(z: number, options: ScoreOptions = DEFAULT_SCORE_OPTIONS): number {
  return z <= options.threshold ? 0 : 1 - Math.exp(-(z - options.threshold) / options.scale);
}

export function scoreMeasurement(
  m: Measurement,
  subject: string,
  options: ScoreOptions = DEFAULT_SCORE_OPTIONS,
): Score {
  const parts: ScorePart[] = [];
  const add = (feature: ScorePart['feature'], z: number | undefined, reason: () => string): void => {
    if (z === undefined) return;
    const score = partScore(z, options);
    if (score > 0) parts.push({ feature, z, score, reason: reason() });
  };
  add(
    'rate',
    m.z.rate,
    () =>
      `${subject} made ${m.observed.ratePerMinute} calls this minute, typical ${round(m.typical.ratePerMinute)}/min (${round(m.z.rate)} σ above baseline)`,
  );
  add(
    'input_tokens',
    m.z.inputTokens,
    () =>
      `input tokens ${m.observed.inputTokens} vs typical ${Math.round(m.typical.inputTokens)} for ${subject} (${round(m.z.inputTokens ?? 0)} σ above baseline)`,
  );
  add(
    'output_tokens',
    m.z.outputTokens,
    () =>
      `output tokens ${m.observed.outputTokens} vs typical ${Math.round(m.typical.outputTokens)} for ${subject} (${round(m.z.outputTokens ?? 0)} σ above baseline)`,
  );
  parts.sort((a, b) => b.score - a.score);
  const score = 1 - parts.reduce((keep, part) => keep * (1 - part.score), 1);
  return { score, learning: m.learning, parts };
}

const round = (x: number): number => Math.round(x * 10) / 10;
