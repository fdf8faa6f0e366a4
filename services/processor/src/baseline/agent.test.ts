import { sampleEvent, type AiEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { newAgentBaseline, observe, type AgentBaseline, type Measurement } from './agent.ts';
import { updateEwm, emptyEwm } from './ewm.ts';

const T0 = Date.UTC(2026, 10, 1) * 1000;
const at = (seconds: number, overrides: Partial<AiEvent> = {}): AiEvent =>
  sampleEvent({ time: T0 + seconds * 1_000_000, ...overrides });

/** Feeds events through one baseline, returning the final state and each measurement. */
function run(events: AiEvent[]): { state: AgentBaseline; measurements: Measurement[] } {
  let state = newAgentBaseline(events[0]!.time / 1000);
  const measurements: Measurement[] = [];
  for (const event of events) {
    const result = observe(state, event);
    state = result.state;
    measurements.push(result.measurement);
  }
  return { state, measurements };
}

describe('exponentially weighted mean and variance', () => {
  it('is the plain mean and population variance while n < 1/alpha', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    const s = xs.reduce((state, x) => updateEwm(state, x, 0.01), emptyEwm());
    expect(s.mean).toBeCloseTo(5, 10);
    expect(s.variance).toBeCloseTo(4, 10);
  });

  it('forgets old behaviour once history is long', () => {
    let s = emptyEwm();
    for (let i = 0; i < 1000; i++) s = updateEwm(s, 10, 0.05);
    for (let i = 0; i < 200; i++) s = updateEwm(s, 20, 0.05);
    expect(s.mean).toBeGreaterThan(19.9);
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
    expect(Math.max(...late.map((m) => m.z.outputTokens ?? 0))).toBeLessThan(3);
    expect(Math.max(...late.map((m) => m.z.rate))).toBeLessThan(3);
  });

  it('flags ten times the usual output tokens', () => {
    const { measurements } = run([...steady, at(600 * 20, { input_tokens: 400, output_tokens: 1000 })]);
    expect(measurements.at(-1)!.z.outputTokens).toBeGreaterThan(6);
    expect(measurements.at(-1)!.observed.outputTokens).toBe(1000);
  });

  it('flags a burst of calls within one minute, growing with the burst', () => {
    const burst = Array.from({ length: 30 }, (_, i) => at(600 * 20 + i, { input_tokens: 400, output_tokens: 100 }));
    const { measurements } = run([...steady, ...burst]);
    const z = measurements.slice(600).map((m) => m.z.rate);
    expect(z[29]).toBeGreaterThan(10);
    expect(z[29]).toBeGreaterThan(z[5]!);
  });

  it('is not dragged by one outlier: the next normal event is normal again', () => {
    const outlier = at(600 * 20, { output_tokens: 50_000 });
    const next = at(600 * 20 + 20, { output_tokens: 100 });
    const { measurements } = run([...steady, outlier, next]);
    expect(Math.abs(measurements.at(-1)!.z.outputTokens!)).toBeLessThan(2);
  });

  it('counts idle minutes as zero calls, so a quiet agent that wakes up in a burst stands out', () => {
    const sparse = Array.from({ length: 100 }, (_, i) => at(i * 600, { output_tokens: 100 }));
    const burst = Array.from({ length: 12 }, (_, i) => at(100 * 600 + i, { output_tokens: 100 }));
    const { measurements } = run([...sparse, ...burst]);
    expect(measurements.at(-1)!.typical.ratePerMinute).toBeLessThan(0.5);
    expect(measurements.at(-1)!.z.rate).toBeGreaterThan(8);
  });

  it('does not count late or replayed events towards the current minute', () => {
    const replay = steady.slice(0, 60);
    const { measurements, state } = run([...steady, ...replay]);
    expect(Math.max(...measurements.slice(600).map((m) => m.z.rate))).toBe(0);
    expect(state.minuteCount).toBe(run(steady).state.minuteCount);
  });
});
