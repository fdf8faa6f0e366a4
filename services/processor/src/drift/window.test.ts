import { describe, expect, it } from 'vitest';
import { Scorer, type ScorerDriftReport } from '../scorer.ts';
import { T0_MS, agentEvent, agentTraffic, rng, type SimulatedAgent } from '../testing/simulated-agent.ts';

const DAY_MS = 86_400_000;
const now = (): number => T0_MS + 30 * DAY_MS;
/** One event every ~3 s: about 300 per 15-minute window, above the 200-event minimum. */
const busy: SimulatedAgent = { agent: 'busy-bot', everyS: 3, inputTokens: 800, outputTokens: 150 };

function driftOf(scorer: Scorer, events: ReturnType<typeof agentTraffic>): ScorerDriftReport[] {
  return events.flatMap((event) => {
    scorer.score(event);
    return scorer.takeDriftReports();
  });
}

describe('drift per entity per window', () => {
  const stable = agentTraffic(busy, T0_MS, 28_800, 7); // one day

  it('judges every full window of a stable agent and keeps it calm: no act, at most a few watch', () => {
    const reports = driftOf(new Scorer({ now }), stable);
    expect(reports.length).toBeGreaterThan(80);
    expect(reports.every((r) => r.window_end - r.window_start === 15 * 60_000_000)).toBe(true);
    expect(reports[0]).toMatchObject({
      tenant: 'acme',
      entity: 'acme/billing/busy-bot',
      entity_type: 'agent',
      learning: false,
    });
    expect(reports.filter((r) => r.level === 'act')).toEqual([]);
    expect(reports.filter((r) => r.level === 'watch').length / reports.length).toBeLessThan(0.05);
  });

  it('reports a window of 10x output tokens at act, naming output tokens as the feature that moved most', () => {
    const scorer = new Scorer({ now });
    driftOf(scorer, stable);
    const lastMs = stable.at(-1)!.time / 1000;
    const random = rng(5);
    const shifted = Array.from({ length: 400 }, (_, i) =>
      agentEvent(busy, lastMs + 3000 * (i + 1), i % 4, random, i % 2 === 0 ? { output_tokens: 1500 + i } : {}),
    );
    const reports = driftOf(scorer, shifted);
    const hit = reports.find((r) => r.level === 'act');
    expect(hit).toBeDefined();
    expect(hit!.features[0]!.feature).toBe('output_tokens');
    expect(hit!.features[0]!.psi).toBeGreaterThan(0.25);
    expect(hit!.features[0]!.js).toBeGreaterThan(0.1);
    expect(hit!.features[0]!.detail).toMatch(
      /^output tokens above [\d,]+: 100% of the window vs \d+(\.\d)?% of the baseline$/,
    );
  });

  it('reports a new tool taking over the mix, naming it as new', () => {
    const scorer = new Scorer({ now });
    driftOf(scorer, stable);
    const lastMs = stable.at(-1)!.time / 1000;
    const random = rng(6);
    const shifted = Array.from({ length: 700 }, (_, i) =>
      agentEvent(busy, lastMs + 3000 * (i + 1), i % 4, random, i % 4 === 3 ? { tool_name: 'export_all' } : {}),
    );
    const tool = driftOf(scorer, shifted)
      .flatMap((r) => r.features)
      .filter((f) => f.feature === 'tool' && f.level !== 'ok');
    // The window it appears in names it as new; the next, all its own, is at act.
    expect(tool[0]?.detail).toMatch(/^tool `export_all` \(new\): \d+(\.\d)?% of the window vs 0% of the baseline$/);
    expect(tool.some((f) => f.level === 'act' && f.detail.startsWith('tool `export_all`: 50% of the window'))).toBe(
      true,
    );
  });

  it('closes the window of an entity that went quiet once other entities move the event time past its end', () => {
    const scorer = new Scorer({ now });
    driftOf(scorer, stable);
    const lastMs = stable.at(-1)!.time / 1000;
    const other = agentTraffic({ ...busy, agent: 'other-bot' }, lastMs, 10, 9);
    expect(driftOf(scorer, other)).toEqual([]);
    const later = agentTraffic({ ...busy, agent: 'other-bot' }, lastMs + 30 * 60_000, 1, 10);
    const reports = driftOf(scorer, later);
    expect(reports.map((r) => [r.entity, r.level])).toEqual([['acme/billing/busy-bot', 'ok']]);
    scorer.closeWindows(lastMs + 31 * 60_000);
    expect(scorer.takeDriftReports()).toEqual([]);
  });

  it('does not judge windows while the baseline is learning, nor windows with too few events', () => {
    const sparse = agentTraffic({ ...busy, everyS: 10 }, T0_MS, 10_000, 8);
    expect(driftOf(new Scorer({ now }), sparse)).toEqual([]);
    expect(driftOf(new Scorer({ now, minWindowEvents: 50 }), sparse).length).toBeGreaterThan(50);
  });
});
