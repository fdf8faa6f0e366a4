import { describe, expect, it } from 'vitest';
import type { Measurement } from '../baseline/agent.ts';
import { duration, partScore, scoreMeasurement } from './score.ts';

const DAY = 86_400_000;
const measurement = (overrides: Partial<Measurement> = {}): Measurement => ({
  learning: false,
  ageMs: 14 * DAY,
  rate: { z: 1, observed: 12, typical: 1.5 },
  numeric: [],
  categorical: [],
  sequence: null,
  rejected: [],
  ...overrides,
});

describe('anomaly score', () => {
  it('maps a statistic at or under its threshold to 0 and grows towards 1 above it', () => {
    expect(partScore(3)).toBe(0);
    expect(partScore(6)).toBeCloseTo(1 - Math.exp(-1), 10);
    expect(partScore(30)).toBeGreaterThan(0.99);
    expect(partScore(30)).toBeLessThan(1);
  });

  it('is 0 with no parts for an ordinary event', () => {
    const ordinary = measurement({
      numeric: [{ feature: 'output_tokens', value: 110, median: 100, madLog: 0.2, z: 0.5 }],
      categorical: [{ field: 'tool', value: 'search_kb', novel: false, p: 0.4 }],
      sequence: { from: 'llm_call:chat', to: 'tool:search_kb', seen: true, p: 0.3 },
    });
    expect(scoreMeasurement(ordinary, 'agent `a`')).toEqual({ score: 0, learning: false, parts: [] });
  });

  it('combines parts as a noisy-OR, strongest first, each explained in words', () => {
    const score = scoreMeasurement(
      measurement({
        rate: { z: 6, observed: 12, typical: 1.5 },
        numeric: [{ feature: 'output_tokens', value: 2000, median: 110, madLog: 0.3, z: 9.3 }],
        categorical: [{ field: 'tool', value: 'send_email', novel: true, p: 1 / 1024 }],
      }),
      'agent `billing-bot`',
    );
    expect(score.parts.map((p) => [p.feature, p.kind])).toEqual([
      ['tool', 'novelty'],
      ['output_tokens', 'robust_z'],
      ['rate', 'rate'],
    ]);
    const expected = 1 - (1 - partScore(10, 6, 2)) * (1 - partScore(9.3, 5, 3)) * (1 - partScore(6, 3, 3));
    expect(score.score).toBeCloseTo(expected, 10);
    expect(score.parts.map((p) => p.reason)).toEqual([
      'tool `send_email` never used by agent `billing-bot` in 14 days',
      'output tokens 2,000 vs median 110 for agent `billing-bot` (9.3 MADs above baseline)',
      'agent `billing-bot` made 12 calls this minute, typical 1.5/min (6 σ above baseline)',
    ]);
  });

  it('explains rare values and surprising steps in the action sequence', () => {
    const score = scoreMeasurement(
      measurement({
        ageMs: 5 * 3_600_000,
        categorical: [{ field: 'destination', value: 'paste.example', novel: false, p: 0.002 }],
        sequence: { from: 'tool:run_sql', to: 'tool:export_csv', seen: false, p: 0.001 },
      }),
      'agent `sql-analyst`',
    );
    expect(score.parts.map((p) => p.reason)).toEqual([
      'agent `sql-analyst` never did `tool:export_csv` right after `tool:run_sql` in 5 hours (p ≈ 0.1%)',
      'destination `paste.example` is rare for agent `sql-analyst`: 0.2% of its events over 5 hours',
    ]);
  });

  it('carries the learning flag and the refused values through', () => {
    const score = scoreMeasurement(
      measurement({
        learning: true,
        rejected: [{ code: 'x', message: 'output_tokens -1 is outside [0, 10]; ignored' }],
      }),
      'app `x`',
    );
    expect(score.learning).toBe(true);
    expect(score.rejected).toEqual(['output_tokens -1 is outside [0, 10]; ignored']);
  });

  it('says how long the baseline has watched in the unit that reads best', () => {
    expect(duration(14 * DAY)).toBe('14 days');
    expect(duration(5 * 3_600_000)).toBe('5 hours');
    expect(duration(40 * 60_000)).toBe('40 minutes');
  });
});
