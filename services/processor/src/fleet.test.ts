import type { AiEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { agentView, fleetViews } from './baseline/view.ts';
import { Scorer } from './scorer.ts';
import type { Score } from './score/score.ts';
import { T0_MS, agentEvent, agentTraffic, rng, type SimulatedAgent } from './testing/simulated-agent.ts';

const ALERT = 0.5;
const DAY_MS = 86_400_000;
const now = (): number => T0_MS + 30 * DAY_MS;
const billing: SimulatedAgent = { agent: 'billing-bot', everyS: 10, inputTokens: 800, outputTokens: 150 };
const ops: SimulatedAgent = { agent: 'ops-bot', everyS: 20, inputTokens: 2000, outputTokens: 400 };

/** Two days of billing-bot (its customers cust-0…19) and ops-bot (fifty operators, who also export customers). */
function twoDays(): AiEvent[] {
  const r = rng(7);
  const opsEvents = agentTraffic(ops, T0_MS, 8_640, 2).map((e) => ({
    ...e,
    user: `op-${Math.floor(r() * 50)}`,
    ...(e.tool_name === 'send_receipt' ? { tool_name: 'export_customers', destination: 'crm.acme.internal' } : {}),
  }));
  return [...agentTraffic(billing, T0_MS, 17_280, 1), ...opsEvents].sort((a, b) => a.time - b.time);
}

/** Scores an event as the two stages do: against its agent, and against each fleet entity it involves. */
function scoreBoth(scorer: Scorer, event: AiEvent): { agent: Score; fleet: Record<string, Score> } {
  const agent = scorer.score(event, agentView(event));
  const fleet = Object.fromEntries(fleetViews(event).map((view) => [view.key, scorer.score(event, view)]));
  return { agent, fleet };
}

describe('fleet-wide baselines (the entities stage)', () => {
  it("flags a user doing through another agent what they never did anywhere, which that agent's own baseline calls routine", () => {
    const scorer = new Scorer({ now });
    const past = twoDays();
    for (const event of past) scoreBoth(scorer, event);
    const t = past.at(-1)!.time / 1000;
    // cust-3 has only ever talked to billing-bot; ops-bot exports customers all day, for fifty operators,
    // after a model call (as here, so the step itself is routine for ops-bot too).
    scoreBoth(scorer, agentEvent(ops, t + 4_000, 2, rng(3), { user: 'cust-3' }));
    const event = agentEvent(ops, t + 5_000, 3, rng(3), {
      user: 'cust-3',
      tool_name: 'export_customers',
      destination: 'crm.acme.internal',
    });
    const { agent, fleet } = scoreBoth(scorer, event);
    expect(agent.learning).toBe(false);
    expect(agent.score).toBeLessThan(ALERT);
    const user = fleet['acme/user:cust-3']!;
    expect(user.learning).toBe(false);
    expect(user.score).toBeGreaterThanOrEqual(0.8);
    expect(user.parts.map((p) => p.reason)).toEqual(
      expect.arrayContaining([
        'tool `export_customers` never used by user `cust-3` in 2 days',
        'destination `crm.acme.internal` never reached by user `cust-3` in 2 days',
        // Once, a moment ago: the model call before.
        'agent `ops-bot` is rare for user `cust-3`: 0.1% of its events over 2 days',
      ]),
    );
    // The tool's fleet baseline knows only operators' agent: a customer-facing session is news there too.
    expect(fleet['acme/tool:export_customers']!.score).toBeLessThan(ALERT);
  });

  it("reports a model's drift across every app and agent that calls it, with the feature that moved", () => {
    // Hour windows: the model sees about 300 calls an hour from the two agents.
    const scorer = new Scorer({ now, windowMinutes: 60 });
    const past = twoDays();
    for (const event of past) scoreBoth(scorer, event);
    scorer.takeDriftReports();
    const t = past.at(-1)!.time / 1000;
    // The model silently starts answering at four times the length, for both agents.
    const r = rng(11);
    const after = [
      ...agentTraffic(billing, t, 720, 21).map((e) =>
        e.output_tokens ? { ...e, output_tokens: e.output_tokens * 4 } : e,
      ),
      ...agentTraffic(ops, t, 360, 22).map((e) => (e.output_tokens ? { ...e, output_tokens: e.output_tokens * 4 } : e)),
    ].sort((a, b) => a.time - b.time);
    for (const event of after)
      scoreBoth(scorer, { ...event, user: event.agent === 'ops-bot' ? `op-${Math.floor(r() * 50)}` : event.user });
    scorer.closeWindows(after.at(-1)!.time / 1000 + DAY_MS);
    const reports = scorer.takeDriftReports();
    const model = reports.filter((d) => d.entity === 'acme/model:gpt-4o-2024-08-06' && d.level === 'act');
    expect(model.length).toBeGreaterThan(0);
    for (const report of model) {
      expect(report.entity_type).toBe('model');
      expect(report.features[0]!.feature).toBe('output_tokens');
      expect(report.features[0]!.detail).toMatch(
        /^output tokens above \d+: \d+% of the window vs \d+(\.\d)?% of the baseline$/,
      );
    }
    // The tools' baselines saw no model output: no drift there.
    const tools = reports.filter((d) => d.entity_type === 'tool');
    expect(tools.every((d) => d.level === 'ok')).toBe(true);
  });

  it('folds each event once per source offset, across a snapshot and restore', () => {
    const scorer = new Scorer({ now });
    const event = twoDays()[0]!;
    const [user] = fleetViews(event);
    scorer.score(event, user, { partition: 2, offset: 41 });
    expect(scorer.folded(user!.key, { partition: 2, offset: 41 })).toBe(true);
    expect(scorer.folded(user!.key, { partition: 2, offset: 42 })).toBe(false);
    expect(scorer.folded(user!.key, { partition: 1, offset: 0 })).toBe(false);
    const restored = new Scorer({ now });
    restored.restore(user!.key, scorer.snapshot(user!.key)!);
    expect(restored.folded(user!.key, { partition: 2, offset: 41 })).toBe(true);
    // Agents' keys are not re-keyed events: they keep no sources.
    scorer.score(event);
    const snapshot = JSON.parse(scorer.snapshot(agentView(event).key)!.toString()) as { sources: unknown };
    expect(snapshot.sources).toBeNull();
  });
});
