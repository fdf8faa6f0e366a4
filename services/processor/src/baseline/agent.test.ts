import { sampleEvent, type AiEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import {
  baselineContext,
  hourOfWeek,
  newAgentBaseline,
  observe,
  type AgentBaseline,
  type Measurement,
} from './agent.ts';
import { offsetOf } from './arena.ts';
import { MIX, mixOverflow, mixSlots, slotOf, slotWeight } from './categorical.ts';
import { ewmMean, ewmVariance, updateEwm } from './ewm.ts';
import { sketchTotal } from './sketch.ts';
import { agentView } from './view.ts';

const T0 = Date.UTC(2026, 10, 2) * 1000;
const at = (seconds: number, overrides: Partial<AiEvent> = {}): AiEvent =>
  sampleEvent({ time: T0 + seconds * 1_000_000, ...overrides });
const ctx = baselineContext();

/** Feeds events through one baseline, returning the final state and each measurement. */
function run(events: AiEvent[]): { state: AgentBaseline; measurements: Measurement[] } {
  const state = newAgentBaseline(events[0]!, agentView(events[0]!), ctx);
  const measurements = events.map((event) => observe(state, event, ctx));
  return { state, measurements };
}

const numeric = (m: Measurement, feature: string): number | undefined =>
  m.numeric.find((n) => n.feature === feature)?.z;

describe('exponentially weighted mean and variance', () => {
  it('is the plain mean and population variance while n < 1/alpha', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    const s = new Float32Array(3);
    for (const x of xs) updateEwm(s, 0, x, 0.01);
    expect(ewmMean(s, 0)).toBeCloseTo(5, 5);
    expect(ewmVariance(s, 0)).toBeCloseTo(4, 5);
  });

  it('forgets old behaviour once history is long', () => {
    const s = new Float32Array(3);
    for (let i = 0; i < 1000; i++) updateEwm(s, 0, 10, 0.05);
    for (let i = 0; i < 200; i++) updateEwm(s, 0, 20, 0.05);
    expect(ewmMean(s, 0)).toBeGreaterThan(19.9);
  });
});

describe('agent baseline', () => {
  // One call every 20 s with ~400 input and ~100 output tokens: a steady agent.
  const steady = Array.from({ length: 600 }, (_, i) =>
    at(i * 20, { input_tokens: 380 + (i % 5) * 10, output_tokens: 90 + (i % 3) * 10 }),
  );

  it('is learning until it has enough events and time, then says it is not', () => {
    const { measurements } = run(steady);
    expect(measurements[10]!.learning).toBe(true);
    expect(measurements[599]!.learning).toBe(false);
  });

  it('keeps a steady agent well under the alert threshold', () => {
    const { measurements } = run(steady);
    const late = measurements.slice(200);
    expect(Math.max(...late.map((m) => numeric(m, 'output_tokens') ?? 0))).toBeLessThan(3);
    expect(Math.max(...late.map((m) => m.rate.z))).toBeLessThan(3);
  });

  it('measures ten times the usual output tokens in MADs above the median', () => {
    const { measurements } = run([...steady, at(600 * 20, { input_tokens: 400, output_tokens: 1000 })]);
    const out = measurements.at(-1)!.numeric.find((n) => n.feature === 'output_tokens')!;
    expect(out.value).toBe(1000);
    // The median is 100 within the sketch's 5%; the quartiles 90 and 110 put one MAD near 0.1 on the log scale.
    expect(out.median).toBeGreaterThan(95);
    expect(out.median).toBeLessThan(105);
    expect(out.z).toBeGreaterThan(15);
  });

  it('flags a burst of calls within one minute, growing with the burst', () => {
    const burst = Array.from({ length: 30 }, (_, i) => at(600 * 20 + i, { input_tokens: 400, output_tokens: 100 }));
    const { measurements } = run([...steady, ...burst]);
    const z = measurements.slice(600).map((m) => m.rate.z);
    expect(z[29]).toBeGreaterThan(10);
    expect(z[29]).toBeGreaterThan(z[5]!);
  });

  it('is not dragged by one outlier: the next normal event is normal again', () => {
    const outlier = at(600 * 20, { output_tokens: 50_000 });
    const next = at(600 * 20 + 20, { output_tokens: 100 });
    const { measurements } = run([...steady, outlier, next]);
    expect(Math.abs(numeric(measurements.at(-1)!, 'output_tokens')!)).toBeLessThan(2);
  });

  it('counts idle minutes as zero calls, so a quiet agent that wakes up in a burst stands out', () => {
    const sparse = Array.from({ length: 100 }, (_, i) => at(i * 600, { output_tokens: 100 }));
    const burst = Array.from({ length: 12 }, (_, i) => at(100 * 600 + i, { output_tokens: 100 }));
    const { measurements } = run([...sparse, ...burst]);
    expect(measurements.at(-1)!.rate.typical).toBeLessThan(0.5);
    expect(measurements.at(-1)!.rate.z).toBeGreaterThan(8);
  });

  it('does not count late or replayed events towards the current minute', () => {
    const replay = steady.slice(0, 60);
    const { measurements, state } = run([...steady, ...replay]);
    expect(Math.max(...measurements.slice(600).map((m) => m.rate.z))).toBe(0);
    expect(state.minuteCount).toBe(run(steady).state.minuteCount);
  });

  it('decays: after three half-lives of a new habit the old one weighs an eighth as much', () => {
    const halfLifeS = 72 * 3600;
    const old = Array.from({ length: 100 }, (_, i) => at(i * 60, { tool_name: 'old_tool' }));
    const fresh = Array.from({ length: 100 }, (_, i) => at(3 * halfLifeS + i * 60, { tool_name: 'new_tool' }));
    const { state } = run([...old, ...fresh]);
    const weightOf = (name: string): number => slotWeight(ctx.arena, state, slotOf(ctx.arena, state, MIX.tool, name));
    expect(weightOf('old_tool') / weightOf('new_tool')).toBeCloseTo(1 / 8, 2);
  });

  it('keeps an hour-of-week profile with Monday 00:00 UTC as hour 0', () => {
    expect(hourOfWeek(Date.UTC(2026, 10, 2, 0, 30))).toBe(0); // a Monday
    expect(hourOfWeek(Date.UTC(2026, 10, 8, 23, 59))).toBe(167); // the Sunday after
    const { state } = run(steady.slice(0, 100)); // Monday 00:00–00:33
    const hours = ctx.arena.chunkOf(state.activity).subarray(offsetOf(state.activity), offsetOf(state.activity) + 168);
    expect(hours[0]).toBeGreaterThan(0);
    expect(hours.slice(1).every((w) => w === 0)).toBe(true);
  });
});

describe('bad input never poisons the baseline', () => {
  it('scores the valid fields, refuses out-of-range values with a counted reason, and learns none of them', () => {
    const good = Array.from({ length: 200 }, (_, i) => at(i * 20, { output_tokens: 100 }));
    const { state } = run(good);
    const before = sketchTotal(ctx.arena, state.numeric.output_tokens);
    const m = observe(state, at(200 * 20, { output_tokens: -5, input_tokens: Number.NaN, latency_ms: 1e12 }), ctx);
    expect(m.rejected.map((r) => r.code).sort()).toEqual([
      'input_tokens_out_of_range',
      'latency_out_of_range',
      'output_tokens_out_of_range',
    ]);
    expect(m.numeric).toEqual([]);
    expect(m.categorical.length).toBeGreaterThan(0);
    expect(sketchTotal(ctx.arena, state.numeric.output_tokens)).toBe(before);
    expect(state.rejected).toEqual({
      input_tokens_out_of_range: 1,
      latency_out_of_range: 1,
      output_tokens_out_of_range: 1,
    });
  });

  it('caps the values tracked per field, so a flood of random user ids costs bounded memory', () => {
    const flood = Array.from({ length: 5000 }, (_, i) => at(i, { user: `u-${i}` }));
    const { state } = run(flood);
    const { first, end } = mixSlots(ctx.arena, state, MIX.user);
    expect(end - first).toBeLessThanOrEqual(16);
    expect(mixOverflow(ctx.arena, state, MIX.user)).toBeGreaterThan(0);
  });

  it('refuses oversized identifiers instead of storing them', () => {
    const { state, measurements } = run([at(0, { tool_name: 'x'.repeat(10_000) })]);
    const { first, end } = mixSlots(ctx.arena, state, MIX.tool);
    expect(end - first).toBe(0);
    expect(state.names.some((name) => name.length > 1000)).toBe(false);
    expect(measurements[0]!.rejected[0]!.code).toBe('tool_too_long');
  });
});
