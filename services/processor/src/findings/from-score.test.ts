import { sampleEvent, createFindingCodec, dedupFindings, findingId } from '@aispm/core';
import type { Score } from '../score/score.ts';
import { describe, expect, it } from 'vitest';
import { anomalyFinding, driftFinding } from './from-score.ts';
import { DEFAULT_DRIFT_THRESHOLDS, type DriftReport } from './drift.ts';

const event = sampleEvent();
const view = { key: 't/user:alice', entity: 'user', name: 'alice' } as const;
const score = (value: number, learning = false): Score => ({
  score: value,
  learning,
  parts: [
    {
      feature: 'output_tokens',
      z: 9.3,
      score: value,
      reason: 'output tokens 9.3 MADs above baseline, key sk-abcdefghijklmnopqrstuvwxyz123456',
    },
  ],
});

describe('findings', () => {
  it('raises an anomaly finding only from a trusted score at or above the threshold', () => {
    expect(anomalyFinding(event, view, score(0.79), 0.8)).toBeNull();
    expect(anomalyFinding(event, view, score(0.99, true), 0.8)).toBeNull();
    const f = anomalyFinding(event, view, score(0.95), 0.8)!;
    expect(f).toMatchObject({ type: 'behaviour_anomaly', rule: 'output_tokens', severity: 'high', status: 'open' });
    expect(f).toMatchObject({
      asset: 't/user:alice',
      asset_type: 'user',
      title: 'Anomalous output tokens on user alice',
    });
    expect(f.owasp_llm).toEqual(['LLM10:2025']);
    expect(f.mitre_atlas).toContain('AML.T0034');
    expect(anomalyFinding(event, view, score(0.98), 0.8)!.severity).toBe('critical');
  });

  it('redacts evidence', () => {
    const f = anomalyFinding(event, view, score(0.95), 0.8)!;
    expect(f.evidence.join(' ')).not.toContain('sk-abcdefghijklmnopqrstuvwxyz123456');
    expect(f.evidence.join(' ')).toContain('9.3 MADs');
  });

  it('keeps one id per tenant, type, asset and rule, and merges occurrences', () => {
    expect(findingId('t', 'a', 'x', 'r')).toBe(findingId('t', 'a', 'x', 'r'));
    expect(findingId('t', 'a', 'x', 'r')).not.toBe(findingId('t', 'a', 'y', 'r'));
    const a = anomalyFinding({ ...event, time: 1000 }, view, score(0.85), 0.8)!;
    const b = anomalyFinding({ ...event, time: 5000, event_id: 'other' }, view, score(0.99), 0.8)!;
    const [merged, ...rest] = dedupFindings([a, b]);
    expect(rest).toEqual([]);
    expect(merged).toMatchObject({
      first_seen: 1000,
      last_seen: 5000,
      occurrences: 2,
      severity: 'critical',
      score: 0.99,
    });
    expect(merged!.event_ids).toEqual([event.event_id, 'other']);
  });

  it('turns drift over the watch threshold into a low finding, over act into medium', () => {
    const report: DriftReport = {
      tenant: 't',
      entity: 't/app/agent',
      entity_type: 'agent',
      window_start: 0,
      window_end: 900_000_000,
      psi: 0.05,
      js: 0.01,
      features: [{ feature: 'tool', psi: 0.05, js: 0.01 }],
      learning: false,
    };
    expect(driftFinding(report, DEFAULT_DRIFT_THRESHOLDS)).toBeNull();
    expect(driftFinding({ ...report, psi: 0.15 }, DEFAULT_DRIFT_THRESHOLDS)!.severity).toBe('low');
    expect(driftFinding({ ...report, psi: 0.3 }, DEFAULT_DRIFT_THRESHOLDS)!.severity).toBe('medium');
    expect(driftFinding({ ...report, psi: 0.3, learning: true }, DEFAULT_DRIFT_THRESHOLDS)).toBeNull();
  });

  it('round-trips through the finding.v1 Avro schema', () => {
    const codec = createFindingCodec();
    const f = anomalyFinding(event, view, score(0.95), 0.8)!;
    expect(codec.decode(codec.encode(f))).toEqual(f);
  });
});
