import type { CategoricalMeasure, Measurement, NumericMeasure, SequenceMeasure } from '../baseline/agent.ts';

/**
 * An anomaly score in [0, 1] from explainable parts. Each part turns one
 * statistic into [0, 1) past a threshold; parts combine as a noisy-OR, so two
 * moderate signals outrank one. Statistics, stored in `z` with their unit named
 * by `kind`:
 *   rate      standard deviations of this minute's calls above the usual per-minute count;
 *   robust_z  MADs of ln(1 + x) above the median (tokens in/out, latency), from the sketch;
 *   novelty   bits of surprise −log₂ P(unseen value) for a value this entity never used;
 *   rarity    bits of surprise −log₂ P(value) for a value it used rarely;
 *   sequence  bits of surprise −log₂ P(action | previous action).
 */
export type PartKind = 'rate' | 'robust_z' | 'novelty' | 'rarity' | 'sequence';

export interface ScorePart {
  /** rate, input_tokens, output_tokens, latency, tool, model, destination, operation, user, identity, sequence. */
  feature: string;
  /** Always set by scoreMeasurement; optional so parts built elsewhere (tests, older records) still type-check. */
  kind?: PartKind;
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
  /** Values of the event left out as invalid (the rest was scored). */
  rejected?: string[];
}

export interface ScoreOptions {
  /** Rate: σ below `threshold` contributes nothing; `scale` σ past it a part reaches 1 − 1/e. */
  threshold: number;
  scale: number;
  /** Tokens and latency, in MADs (one MAD ≈ 0.67 σ for a normal distribution). */
  madThreshold: number;
  madScale: number;
  /** Novelty, rarity and sequence, in bits of surprise (6 bits: 1 in 64). */
  bitsThreshold: number;
  bitsScale: number;
}

export const DEFAULT_SCORE_OPTIONS: ScoreOptions = {
  threshold: 3,
  scale: 3,
  madThreshold: 5,
  madScale: 3,
  bitsThreshold: 6,
  bitsScale: 2,
};

export function partScore(
  z: number,
  threshold = DEFAULT_SCORE_OPTIONS.threshold,
  scale = DEFAULT_SCORE_OPTIONS.scale,
): number {
  return z <= threshold ? 0 : 1 - Math.exp(-(z - threshold) / scale);
}

function part(feature: string, kind: PartKind, z: number, threshold: number, scale: number, reason: string): ScorePart {
  return { feature, kind, z, score: partScore(z, threshold, scale), reason };
}

export function scoreMeasurement(
  m: Measurement,
  subject: string,
  options: ScoreOptions = DEFAULT_SCORE_OPTIONS,
): Score {
  const parts: ScorePart[] = [];
  const o = options;
  // Each part only past its threshold, so its words are built only for parts that count.
  if (m.rate.z > o.threshold) {
    const reason = `${subject} made ${m.rate.observed} calls this minute, typical ${round(m.rate.typical)}/min (${round(m.rate.z)} σ above baseline)`;
    parts.push(part('rate', 'rate', m.rate.z, o.threshold, o.scale, reason));
  }
  for (const n of m.numeric) {
    if (n.z > o.madThreshold)
      parts.push(part(n.feature, 'robust_z', n.z, o.madThreshold, o.madScale, numericReason(n, subject)));
  }
  const since = duration(m.ageMs);
  for (const c of m.categorical) {
    const bits = -Math.log2(c.p);
    if (bits > o.bitsThreshold) {
      const reason = categoricalReason(c, subject, since);
      parts.push(part(c.field, c.novel ? 'novelty' : 'rarity', bits, o.bitsThreshold, o.bitsScale, reason));
    }
  }
  if (m.sequence) {
    const bits = -Math.log2(m.sequence.p);
    if (bits > o.bitsThreshold)
      parts.push(
        part('sequence', 'sequence', bits, o.bitsThreshold, o.bitsScale, sequenceReason(m.sequence, subject, since)),
      );
  }
  parts.sort((a, b) => b.score - a.score);
  let keep = 1;
  for (const part of parts) keep *= 1 - part.score;
  const score: Score = { score: 1 - keep, learning: m.learning, parts };
  if (m.rejected.length > 0) score.rejected = m.rejected.map((r) => r.message);
  return score;
}

const NUMERIC_WORDS = { input_tokens: 'input tokens', output_tokens: 'output tokens', latency: 'latency' } as const;

function numericReason(n: NumericMeasure, subject: string): string {
  const unit = n.feature === 'latency' ? ' ms' : '';
  return `${NUMERIC_WORDS[n.feature]} ${whole(n.value)}${unit} vs median ${whole(n.median)}${unit} for ${subject} (${round(n.z)} MADs above baseline)`;
}

const NEVER = { tool: 'never used by', model: 'never used by', destination: 'never reached by' } as Record<
  string,
  string
>;

function categoricalReason(c: CategoricalMeasure, subject: string, since: string): string {
  if (c.novel) return `${c.field} \`${c.value}\` ${NEVER[c.field] ?? 'never seen with'} ${subject} in ${since}`;
  return `${c.field} \`${c.value}\` is rare for ${subject}: ${share(c.p)} of its events over ${since}`;
}

function sequenceReason(s: SequenceMeasure, subject: string, since: string): string {
  const step = `\`${s.to}\` right after \`${s.from}\``;
  return s.seen
    ? `${subject} rarely does ${step} (p ≈ ${share(s.p)})`
    : `${subject} never did ${step} in ${since} (p ≈ ${share(s.p)})`;
}

/** "14 days", "5 hours", "40 minutes": how long the baseline has been watching. */
export function duration(ms: number): string {
  const days = ms / 86_400_000;
  if (days >= 1.5) return `${Math.round(days)} days`;
  const hours = ms / 3_600_000;
  if (hours >= 1.5) return `${Math.round(hours)} hours`;
  return `${Math.max(1, Math.round(ms / 60_000))} minutes`;
}

const round = (x: number): number => Math.round(x * 10) / 10;
const whole = (x: number): string => Math.round(x).toLocaleString('en-US');
const share = (p: number): string => (p >= 0.01 ? `${round(p * 100)}%` : `${Number((p * 100).toPrecision(1))}%`);
