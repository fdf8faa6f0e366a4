import { createEventCodec, invalidReason } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { LABEL_ATTRIBUTE, SCENARIOS, generateTraffic, injectedCount } from './traffic.ts';

const endMs = Date.UTC(2026, 10, 22, 12);
const options = { seed: 7, total: 5000, tenant: 'demo', spanMs: 24 * 3_600_000, endMs };

describe('demo traffic', () => {
  const events = [...generateTraffic(options)];

  it('yields the benign total plus every injected event', () => {
    expect(events).toHaveLength(5000 + injectedCount());
    expect(events.filter((e) => e.attributes[LABEL_ATTRIBUTE]).length).toBe(injectedCount());
  });

  it('is in event-time order, within the simulated span', () => {
    for (let i = 1; i < events.length; i++) expect(events[i]!.time).toBeGreaterThanOrEqual(events[i - 1]!.time);
    expect(events[0]!.time / 1000).toBeGreaterThanOrEqual(endMs - options.spanMs);
    expect(events.at(-1)!.time / 1000).toBeLessThanOrEqual(endMs);
  });

  it('is the same for the same seed and differs for another', () => {
    const again = [...generateTraffic(options)];
    expect(again.map((e) => e.event_id)).toEqual(events.map((e) => e.event_id));
    const other = [...generateTraffic({ ...options, seed: 8 })];
    expect(other[0]!.event_id).not.toBe(events[0]!.event_id);
  });

  it('produces only events the codec and the validator accept', () => {
    const codec = createEventCodec();
    for (const event of events) {
      expect(invalidReason(event, endMs)).toBeNull();
      expect(codec.decode(codec.encode(event))).toEqual({
        ...event,
        attribution: null,
        detections: event.detections ?? [],
      });
    }
  });

  it('places each scenario at its stated point of the span, on its agent', () => {
    for (const scenario of SCENARIOS) {
      const injected = events.filter((e) => e.attributes[LABEL_ATTRIBUTE] === scenario.label);
      expect(injected.length).toBeGreaterThan(0);
      expect(new Set(injected.map((e) => e.agent))).toEqual(new Set([scenario.agent]));
      const startMs = endMs - options.spanMs + scenario.at * options.spanMs;
      expect(injected[0]!.time / 1000).toBeCloseTo(startMs, -4);
    }
  });

  it('gives office-hours agents more traffic by day than by night', () => {
    const hourOf = (t: number): number => new Date(t / 1000).getUTCHours();
    const triage = events.filter((e) => e.agent === 'triage-bot' && !e.attributes[LABEL_ATTRIBUTE]);
    const day = triage.filter((e) => hourOf(e.time) >= 10 && hourOf(e.time) < 16).length;
    const night = triage.filter((e) => hourOf(e.time) < 4 || hourOf(e.time) >= 22).length;
    expect(day).toBeGreaterThan(1.5 * night);
  });
});
