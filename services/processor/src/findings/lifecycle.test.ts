import type { Finding } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { Scorer, type FindingRaiser } from '../scorer.ts';
import { T0_MS, agentEvent, agentTraffic, rng, type SimulatedAgent } from '../testing/simulated-agent.ts';
import { anomalyFinding } from './from-score.ts';
import { MAX_OPEN_PER_KEY, newKeyFindings, resolveQuiet, track } from './lifecycle.ts';

const DAY_MS = 86_400_000;
const now = (): number => T0_MS + 30 * DAY_MS;
const billing: SimulatedAgent = { agent: 'billing-bot', everyS: 10, inputTokens: 800, outputTokens: 150 };

/** The anomaly rule alone, at 0.5, as the processor builds it. */
const anomalies: FindingRaiser = {
  raise: ({ event, view, score }) => {
    const f = anomalyFinding(event, view, score, 0.5);
    return f ? [f] : [];
  },
};

function scorer(): Scorer {
  return new Scorer({ now, findings: { raiser: anomalies, quietMinutes: 60 } });
}

describe('findings lifecycle on a key', () => {
  it('opens a finding on the anomaly, updates it on the next, and resolves it after an hour of quiet event time', () => {
    const s = scorer();
    const past = agentTraffic(billing, T0_MS, 17_280, 1);
    for (const e of past) s.score(e, undefined, undefined, []);
    const t = past.at(-1)!.time / 1000;
    const r = rng(5);
    const raised: Finding[] = [];
    for (const at of [10_000, 20_000])
      s.score(agentEvent(billing, t + at, 1, r, { tool_name: 'delete_customer' }), undefined, undefined, raised);
    const opened = raised.filter((f) => f.rule === 'tool');
    expect(opened).toHaveLength(2);
    expect(opened[0]!.id).toBe(opened[1]!.id);
    expect(opened.every((f) => f.status === 'open')).toBe(true);
    expect(s.takeResolved()).toEqual([]);

    // Normal traffic for two more hours: the sweep (once per drift window) resolves it, once.
    const later = agentTraffic(billing, t + 30_000, 720, 2);
    for (const e of later) s.score(e, undefined, undefined, []);
    s.takeDriftReports();
    const resolved = s.takeResolved().filter((f) => f.id === opened[0]!.id);
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ status: 'resolved', occurrences: 0, rule: 'tool', tenant: 'acme' });
    expect(resolved[0]!.last_seen).toBe(opened[1]!.last_seen);
    // The store keeps the newest record's evidence and events: the resolution repeats the last occurrence's.
    expect(resolved[0]!.evidence).toEqual(opened[1]!.evidence);
    expect(resolved[0]!.event_ids).toEqual(opened[1]!.event_ids);
    s.takeDriftReports();
    expect(s.takeResolved().filter((f) => f.id === opened[0]!.id)).toEqual([]);
  });

  it('keeps open findings across a snapshot and restore, so a restarted processor resolves them', () => {
    const s = scorer();
    const past = agentTraffic(billing, T0_MS, 17_280, 1);
    for (const e of past) s.score(e, undefined, undefined, []);
    const t = past.at(-1)!.time / 1000;
    const raised: Finding[] = [];
    const odd = agentEvent(billing, t + 10_000, 1, rng(5), { tool_name: 'delete_customer' });
    s.score(odd, undefined, undefined, raised);
    const id = raised.find((f) => f.rule === 'tool')!.id;
    const key = 'acme/' + odd.app + '/billing-bot';
    const snapshot = s.snapshot(key)!;

    const restarted = scorer();
    restarted.restore(key, snapshot);
    for (const e of agentTraffic(billing, t + 20_000, 720, 3)) restarted.score(e, undefined, undefined, []);
    restarted.takeDriftReports();
    expect(restarted.takeResolved().map((f) => f.id)).toContain(id);
  });
});

describe('open findings of one key', () => {
  const finding = (id: string, lastSeen: number): Finding => ({
    id,
    tenant: 'acme',
    asset: 'acme/app/a',
    asset_type: 'agent',
    type: 'shadow_ai',
    rule: 'shadow_ai.model',
    severity: 'medium',
    score: 0.5,
    title: 't',
    evidence: [],
    event_ids: [],
    first_seen: lastSeen,
    last_seen: lastSeen,
    occurrences: 1,
    status: 'open',
    owasp_llm: [],
    owasp_agentic: [],
    mitre_atlas: [],
    model: 'm',
  });

  it('takes the higher severity and later last seen of an update', () => {
    const state = newKeyFindings();
    track(state, finding('x', 100));
    track(state, { ...finding('x', 50), severity: 'high' });
    expect(state.open.x).toMatchObject({ severity: 'high', last_seen: 100, first_seen: 50 });
  });

  it('is bounded: past the cap the longest-quiet finding is forgotten', () => {
    const state = newKeyFindings();
    for (let i = 0; i <= MAX_OPEN_PER_KEY; i++) track(state, finding(`f${i}`, 1000 + i));
    expect(Object.keys(state.open)).toHaveLength(MAX_OPEN_PER_KEY);
    expect(state.open.f0).toBeUndefined();
    expect(resolveQuiet(state, 'acme', 1001 + MAX_OPEN_PER_KEY)).toHaveLength(MAX_OPEN_PER_KEY);
  });
});
