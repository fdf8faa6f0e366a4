import { describe, expect, it } from 'vitest';
import type { Measurement } from '../baseline/agent.ts';
import { partScore, scoreMeasurement } from './score.ts';

const measurement = (z: Measurement['z'], learning = false): Measurement => ({
  learning,
  z,
  observed: { ratePerMinute: 12, inputTokens: 400, outputTokens: 2000 },
  typical: { ratePerMinute: 1.5, inputTokens: 390, outputTokens: 110 },
});

describe('anomaly score', () => {
  it('maps z at or under the threshold to 0 and grows towards 1 above it', () => {
    expect(partScore(3)).toBe(0);
    expect(partScore(6)).toBeCloseTo(1 - Math.exp(-1), 10);
    expect(partScore(30)).toBeGreaterThan(0.99);
    expect(partScore(30)).toBeLessThan(1);
  });

  it('is 0 with no parts for an ordinary event', () => {
    expect(scoreMeasurement(measurement({ rate: 1, inputTokens: 0.5, outputTokens: -1 }), 'agent `a`')).toEqual({
      score: 0,
      learning: false,
      parts: [],
    });
  });

  it('combines parts as a noisy-OR, strongest first, each explained in words', () => {
    const score = scoreMeasurement(measurement({ rate: 6, inputTokens: 1, outputTokens: 9 }), 'agent `billing-bot`');
    expect(score.parts.map((p) => p.feature)).toEqual(['output_tokens', 'rate']);
    expect(score.score).toBeCloseTo(1 - (1 - partScore(9)) * (1 - partScore(6)), 10);
    expect(score.parts[0]!.reason).toBe(
      'output tokens 2000 vs typical 110 for agent `billing-bot` (9 σ above baseline)',
    );
    expect(score.parts[1]!.reason).toBe(
      'agent `billing-bot` made 12 calls this minute, typical 1.5/min (6 σ above baseline)',
    );
  });

  it('carries the learning flag through', () => {
    expect(scoreMeasurement(measurement({ rate: 8 }, true), 'app `x`').learning).toBe(true);
  });
});
