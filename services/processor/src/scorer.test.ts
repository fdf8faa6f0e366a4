import type { AiEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { DELETED_SNAPSHOT, Scorer, UNTRACKED_SCORE } from './scorer.ts';
import type { Score } from './score/score.ts';
import { T0_MS, agentEvent, agentTraffic, rng, type SimulatedAgent } from './testing/simulated-agent.ts';

const ALERT = 0.5;
const DAY_MS = 86_400_000;
const now = (): number => T0_MS + 30 * DAY_MS;
const billing: SimulatedAgent = { agent: 'billing-bot', everyS: 10, inputTokens: 800, outputTokens: 150 };
/** Two days of the agent's normal loop: 17,280 events, well past learning. */
const history = (agent = billing, seed = 1): AiEvent[] => agentTraffic(agent, T0_MS, 17_280, seed);

/** Scores the history, then `after`; returns the scores of `after`. */
function scoreAfterHistory(
  after: (lastMs: number, random: () => number) => AiEvent[],
  seed = 1,
): { scorer: Scorer; scores: Score[] } {
  const scorer = new Scorer({ now });
  const past = history(billing, seed);
  for (const event of past) scorer.score(event);
  const lastMs = past.at(-1)!.time / 1000;
  return { scorer, scores: after(lastMs, rng(99)).map((event) => scorer.score(event)) };
}

describe('scenario: an agent that changes behaviour at a known time is flagged', () => {
  it('flags a never-seen tool on its first use, saying so in words', () => {
    const { scores } = scoreAfterHistory((t, r) => [
      agentEvent(billing, t + 10_000, 1, r, { tool_name: 'delete_customer', destination: 'billing.acme.internal' }),
    ]);
    expect(scores[0]!.learning).toBe(false);
    expect(scores[0]!.score).toBeGreaterThanOrEqual(ALERT);
    expect(scores[0]!.parts[0]).toMatchObject({ feature: 'tool', kind: 'novelty' });
    expect(scores[0]!.parts[0]!.reason).toBe('tool `delete_customer` never used by agent `billing-bot` in 2 days');
  });

  it('flags a never-seen destination on its first use (exfiltration through a known tool)', () => {
    const { scores } = scoreAfterHistory((t, r) => [
      agentEvent(billing, t + 10_000, 0, r),
      agentEvent(billing, t + 20_000, 1, r),
      agentEvent(billing, t + 30_000, 2, r),
      agentEvent(billing, t + 40_000, 3, r, { tool_name: 'send_receipt', destination: 'paste.evil.example' }),
    ]);
    expect(scores.slice(0, 3).every((s) => s.score < ALERT)).toBe(true);
    expect(scores[3]!.score).toBeGreaterThanOrEqual(ALERT);
    expect(scores[3]!.parts[0]!.reason).toBe(
      'destination `paste.evil.example` never reached by agent `billing-bot` in 2 days',
    );
  });

  it('flags ten times the usual output tokens on the first such call, in MADs', () => {
    const { scores } = scoreAfterHistory((t, r) => [agentEvent(billing, t + 10_000, 0, r, { output_tokens: 1500 })]);
    expect(scores[0]!.score).toBeGreaterThanOrEqual(ALERT);
    expect(scores[0]!.parts[0]!.feature).toBe('output_tokens');
    expect(scores[0]!.parts[0]!.reason).toMatch(
      /^output tokens 1,500 vs median 1\d\d for agent `billing-bot` \(\d+(\.\d)? MADs above baseline\)$/,
    );
  });

  it('flags an odd action sequence (a follow-up tool straight after the lookup, skipping the model) on that step', () => {
    const { scores } = scoreAfterHistory((t, r) => [
      agentEvent(billing, t + 10_000, 0, r),
      agentEvent(billing, t + 20_000, 1, r),
      agentEvent(billing, t + 30_000, 3, r, { tool_name: 'send_receipt', destination: 'smtp.acme.internal' }),
    ]);
    expect(scores[0]!.score).toBeLessThan(ALERT);
    expect(scores[1]!.score).toBeLessThan(ALERT);
    expect(scores[2]!.score).toBeGreaterThanOrEqual(ALERT);
    expect(scores[2]!.parts[0]!.feature).toBe('sequence');
    expect(scores[2]!.parts[0]!.reason).toContain(
      'never did `tool:send_receipt` right after `tool:lookup_invoice` in 2 days',
    );
  });

  // An agent making ~6 calls a minute scores 0.5 on rate at 6 + 5.1·√6 ≈ 18.5 calls in one minute
  // (Poisson spread, threshold 3 σ, scale 3 σ): a burst is flagged within 20 events.
  it('flags a burst of calls within 20 events', () => {
    const { scores } = scoreAfterHistory((t, r) =>
      Array.from({ length: 60 }, (_, i) => agentEvent(billing, t + 60_000 + i * 500, i % 4, r)),
    );
    const first = scores.findIndex((s) => s.score >= ALERT && s.parts.some((p) => p.feature === 'rate'));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(20);
  });

  it('marks scores made while the baseline is learning', () => {
    const scorer = new Scorer({ now });
    const scores = history()
      .slice(0, 60)
      .map((event) => scorer.score(event));
    expect(scores.every((s) => s.learning)).toBe(true);
  });
});

describe('scenario: stable agents over a long run', () => {
  it('stay under a 1% false-positive rate across five agents and three weeks', () => {
    const fleet: SimulatedAgent[] = [
      billing,
      { agent: 'support', everyS: 4, inputTokens: 1200, outputTokens: 300 },
      { agent: 'coder', everyS: 30, inputTokens: 6000, outputTokens: 900 },
      { agent: 'nightly', everyS: 60, inputTokens: 3000, outputTokens: 800 },
      { agent: 'chatty', everyS: 2, inputTokens: 400, outputTokens: 80 },
    ];
    const scorer = new Scorer({ now });
    let scored = 0;
    let flagged = 0;
    fleet.forEach((agent, i) => {
      const count = Math.floor((21 * DAY_MS) / 1000 / agent.everyS / 3); // a week of each agent's traffic
      for (const event of agentTraffic(agent, T0_MS, count, 100 + i)) {
        const score = scorer.score(event);
        if (score.learning) continue;
        scored++;
        if (score.score >= ALERT) flagged++;
      }
    });
    expect(scored).toBeGreaterThan(100_000);
    expect(flagged / scored).toBeLessThan(0.01);
    // Measured at 0.0xx%: the 1% bound has a wide margin.
    expect(flagged / scored).toBeLessThan(0.002);
  });
});

describe('scorer state seam', () => {
  it('continues from a snapshot exactly as an uninterrupted scorer would', () => {
    const events = history().slice(0, 3000);
    const uninterrupted = new Scorer({ now });
    const expected = events.map((e) => uninterrupted.score(e));
    const first = new Scorer({ now });
    for (const e of events.slice(0, 1500)) first.score(e);
    const key = first.takeDirty()[0]!;
    expect(key).toBe('acme/billing/billing-bot');
    const second = new Scorer({ now });
    second.restore(key, first.snapshot(key)!);
    expect(events.slice(1500).map((e) => second.score(e))).toEqual(expected.slice(1500));
  });

  it('refuses a snapshot it cannot read, with a code and what to do', () => {
    const scorer = new Scorer({ now });
    expect(() => scorer.restore('k', Buffer.from('{"v":7}'))).toThrow(
      /layout v=7 \(unknown version\), this processor reads v=2; drop it/,
    );
    expect(() => scorer.restore('k', Buffer.from('not json'))).toThrow(/not valid JSON/);
    scorer.score(history()[0]!);
    const good = JSON.parse(scorer.snapshot('acme/billing/billing-bot')!.toString()) as { activity: number[] };
    good.activity.pop();
    expect(() => scorer.restore('k', Buffer.from(JSON.stringify(good)))).toThrow(/layout v=2 \(activity\)/);
  });

  it('drops keys it no longer owns, and gives their memory back', () => {
    const scorer = new Scorer({ now });
    for (const e of history().slice(0, 500)) scorer.score(e);
    const key = 'acme/billing/billing-bot';
    const bytes = scorer.stateBytes;
    expect(bytes).toBeGreaterThan(700);
    // A restore replaces the key's state; the old blocks go back, so nothing grows.
    scorer.restore(key, scorer.snapshot(key)!);
    expect(scorer.stateBytes).toBe(bytes);
    scorer.drop([key]);
    expect(scorer.entities).toBe(0);
    expect(scorer.stateBytes).toBe(0);
    expect(scorer.takeDirty()).toEqual([]);
  });
});

describe('scorer on bad input', () => {
  it('scores an event with an absurd time on its other fields, keeps it out of the rate, and counts it', () => {
    const { scorer, scores } = scoreAfterHistory((t, r) => [
      agentEvent(billing, now() + 365 * DAY_MS, 1, r, { tool_name: 'delete_customer' }),
      agentEvent(billing, t + 10_000, 0, r, { output_tokens: -20 }),
    ]);
    expect(scores[0]!.parts[0]!.feature).toBe('tool');
    expect(scores[0]!.rejected?.[0]).toMatch(/implausible/);
    expect(scores[1]!.rejected).toEqual(['output_tokens -20 is outside [0, 10000000]; ignored']);
    expect(scorer.rejections()).toEqual({ time_implausible: 1, output_tokens_out_of_range: 1 });
  });
});

describe('scorer state is bounded per tenant', () => {
  const agent = (name: string): SimulatedAgent => ({ ...billing, agent: name });

  it('tracks at most the cap of entities per tenant, scores the rest untracked, counts them, and leaves other tenants alone', () => {
    const scorer = new Scorer({ now, maxEntitiesPerTenant: 100 });
    const r = rng(5);
    const calm = agentTraffic(billing, T0_MS, 2000, 3).map((e) => ({ ...e, tenant: 'calm' }));
    for (const e of calm.slice(0, 1000)) scorer.score(e);
    // The flood: 5,000 distinct agents of another tenant, one event each.
    const flood = Array.from({ length: 5000 }, (_, i) =>
      agentEvent(agent(`bot-${i}`), T0_MS + 3 * 3_600_000 + i, 0, r, { tenant: 'flood' }),
    );
    const floodScores = flood.map((e) => scorer.score(e));
    expect(scorer.trackedOf('flood')).toBe(100);
    expect(scorer.trackedOf('calm')).toBe(1);
    expect(scorer.entities).toBe(101);
    expect(scorer.untracked()).toEqual({ flood: 4900 });
    expect(scorer.untrackedEvents).toBe(4900);
    expect(floodScores.slice(0, 100).every((s) => s !== UNTRACKED_SCORE)).toBe(true);
    expect(floodScores.slice(100).every((s) => s === UNTRACKED_SCORE)).toBe(true);
    // Untracked entities leave nothing to checkpoint.
    expect(scorer.takeDirty()).toHaveLength(101);
    // The calm tenant's agent goes on learning and is scored against its own baseline.
    const later = calm.slice(1000).map((e) => scorer.score(e));
    expect(later.every((s) => s !== UNTRACKED_SCORE)).toBe(true);
    expect(later.at(-1)!.learning).toBe(false);
    // A tenant at its cap still tracks its entities already tracked.
    expect(scorer.score(flood[0]!)).not.toBe(UNTRACKED_SCORE);
  });

  it('takes restored keys back even past the cap, and frees a place when a key is dropped', () => {
    const a = new Scorer({ now, maxEntitiesPerTenant: 2 });
    const r = rng(6);
    const events = [0, 1, 2].map((i) => agentEvent(agent(`bot-${i}`), T0_MS + i, 0, r));
    for (const e of events) a.score(e);
    expect(a.entities).toBe(2);
    const b = new Scorer({ now, maxEntitiesPerTenant: 1 });
    for (const key of ['acme/billing/bot-0', 'acme/billing/bot-1']) b.restore(key, a.snapshot(key)!);
    expect(b.trackedOf('acme')).toBe(2);
    expect(b.score(events[2]!)).toBe(UNTRACKED_SCORE);
    b.drop(['acme/billing/bot-0', 'acme/billing/bot-1']);
    expect(b.trackedOf('acme')).toBe(0);
    expect(b.score(events[2]!)).not.toBe(UNTRACKED_SCORE);
  });

  it('evicts entities idle for the idle period of event time, deletes their checkpoint once, and starts them afresh', () => {
    const scorer = new Scorer({ now, entityIdleDays: 3 });
    const old = agentTraffic(agent('old-bot'), T0_MS, 1000, 7);
    for (const e of old) scorer.score(e);
    const oldKey = 'acme/billing/old-bot';
    expect(scorer.takeDirty()).toEqual([oldKey]);
    const lastOldMs = old.at(-1)!.time / 1000;
    // Another agent's events move event time on; the old one stays quiet.
    const young = agentTraffic(agent('young-bot'), lastOldMs + 2 * DAY_MS, 400, 8);
    for (const e of young) scorer.score(e);
    scorer.takeDriftReports();
    expect(scorer.entities).toBe(2);
    scorer.takeDirty();
    // Past three days after its last event, the sweep evicts it: memory now, checkpoint with the next save.
    for (const e of agentTraffic(agent('young-bot'), lastOldMs + 3 * DAY_MS + 3_600_000, 10, 9)) scorer.score(e);
    scorer.takeDriftReports();
    expect(scorer.entities).toBe(1);
    expect(scorer.trackedOf('acme')).toBe(1);
    expect(scorer.evictions).toBe(1);
    expect(scorer.takeDirty()).toContain(oldKey);
    expect(scorer.snapshot(oldKey)).toBe(DELETED_SNAPSHOT);
    expect(scorer.snapshot(oldKey)).toBeNull();
    // Its next event finds no baseline: learning again.
    const back = agentEvent(agent('old-bot'), lastOldMs + 4 * DAY_MS, 0, rng(1));
    expect(scorer.score(back).learning).toBe(true);
  });

  it('starts an idle entity afresh on its next event whether or not the sweep evicted it, so a replay scores the same', () => {
    const old = agentTraffic(agent('old-bot'), T0_MS, 1000, 7);
    const lastOldMs = old.at(-1)!.time / 1000;
    const back = agentTraffic(agent('old-bot'), lastOldMs + 4 * DAY_MS, 100, 11);
    const swept = new Scorer({ now, entityIdleDays: 3 });
    const lazy = new Scorer({ now, entityIdleDays: 3 });
    for (const e of old) {
      swept.score(e);
      lazy.score(e);
    }
    for (const e of agentTraffic(agent('young-bot'), lastOldMs + 3.5 * DAY_MS, 10, 8)) swept.score(e);
    swept.takeDriftReports();
    expect(swept.entities).toBe(1);
    expect(back.map((e) => swept.score(e))).toEqual(back.map((e) => lazy.score(e)));
    expect(lazy.score(back[0]!).learning).toBe(true);
  });
});
