import { createEventCodec, createSpanLinkCodec, invalidReason, type AiEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { demoTraffic, thirdPartyEvents } from './mix.ts';
import {
  THIRD_PARTY_FLEET,
  addTruth,
  generateThirdPartyTraffic,
  noTruth,
  truthOf,
  type DemoTrace,
} from './third-party.ts';
import { injectedCount } from './traffic.ts';

const endMs = Date.UTC(2026, 10, 22, 12);
const options = { seed: 7, events: 3000, tenant: 'demo', spanMs: 24 * 3_600_000, endMs };
const RESPONSE_ID = 'gen_ai.response.id';

const eventsOf = (trace: DemoTrace): AiEvent[] => trace.records.flatMap((r) => (r.event ? [r.event] : []));
const agentApps = new Set(THIRD_PARTY_FLEET.filter((p) => p.agent !== null).map((p) => p.app));
const appOf = (trace: DemoTrace): string => eventsOf(trace)[0]!.app;

/** Span id → parent id, over the trace's events and links. */
function parents(trace: DemoTrace): Map<string, string | null> {
  const map = new Map<string, string | null>();
  for (const r of trace.records) {
    const span = r.event ?? r.link;
    map.set(span.span_id, span.parent_span_id);
  }
  return map;
}

describe('third-party demo traffic', () => {
  const traces = [...generateThirdPartyTraffic(options)];
  const truth = traces.map(truthOf).reduce(addTruth, noTruth());

  it('makes exactly the events asked for, counted as trace assembly will store them', () => {
    expect(traces.reduce((n, t) => n + t.events, 0)).toBe(options.events);
    for (const trace of traces) expect(truthOf(trace).events).toBe(trace.events);
    expect(truth.events).toBe(options.events);
  });

  it('names the agent on the agent span only, the root of its trace', () => {
    for (const trace of traces) {
      const named = eventsOf(trace).filter((e) => e.agent !== null);
      expect(named.length).toBe(agentApps.has(appOf(trace)) ? 1 : 0);
      for (const agentSpan of named) {
        expect(agentSpan).toMatchObject({ kind: 'agent_action', parent_span_id: null });
        expect(agentSpan.user).not.toBeNull();
        expect(agentSpan.conversation_id).not.toBeNull();
      }
      for (const e of eventsOf(trace).filter((x) => x.agent === null))
        expect([e.user, e.identity, e.conversation_id]).toEqual([null, null, null]);
    }
  });

  it('sends each span when it ends: children before their parents, the agent span last', () => {
    for (const trace of traces) {
      const position = new Map(trace.records.map((r, i) => [(r.event ?? r.link).span_id, i]));
      trace.records.forEach((r, i) => {
        const parent = (r.event ?? r.link).parent_span_id;
        if (parent !== null) expect(position.get(parent)).toBeGreaterThan(i);
      });
      if (agentApps.has(appOf(trace))) expect(trace.records.at(-1)!.event?.agent).not.toBeNull();
    }
  });

  it('leads every span up to its agent span through parents and links; agent-less apps up to a root without one', () => {
    for (const trace of traces) {
      const parent = parents(trace);
      const agentSpan = eventsOf(trace).find((e) => e.agent !== null)?.span_id;
      for (const span of parent.keys()) {
        let id: string | null = span;
        const path: string[] = [];
        while (id !== null && id !== agentSpan) {
          expect(parent.has(id), `span ${id} of trace ${trace.records[0]!.event?.trace_id} is in it`).toBe(true);
          path.push(id);
          id = parent.get(id)!;
        }
        expect(id).toBe(agentSpan ?? null);
        expect(path.length).toBeLessThanOrEqual(3);
      }
    }
    expect(traces.some((t) => t.records.some((r) => r.link && r.link.parent_span_id !== null))).toBe(true);
  });

  it('reports some calls twice: an SDK span below the framework span, same provider and response id', () => {
    let twins = 0;
    for (const trace of traces) {
      const byId = Map.groupBy(
        eventsOf(trace).filter((e) => e.attributes[RESPONSE_ID]),
        (e) => e.attributes[RESPONSE_ID],
      );
      for (const reports of byId.values()) {
        if (reports.length === 1) continue;
        expect(reports).toHaveLength(2);
        const [sdk, framework] = reports as [AiEvent, AiEvent];
        expect(sdk.parent_span_id).toBe(framework.span_id);
        expect([sdk.provider, sdk.request_model, sdk.input_tokens, sdk.output_tokens]).toEqual([
          framework.provider,
          framework.request_model,
          framework.input_tokens,
          framework.output_tokens,
        ]);
        expect([sdk.destination, sdk.content.prompt]).toEqual([expect.any(String), null]);
        expect([framework.destination, framework.content.prompt]).toEqual([null, expect.any(String)]);
        twins++;
      }
    }
    expect(twins).toBe(truth.twins);
    expect(truth.twins).toBeGreaterThan(100);
  });

  it('yields own, inherited and agent-less events in plausible shares', () => {
    expect(truth.own + truth.inherited + truth.none).toBe(truth.events);
    expect(truth.inherited).toBeGreaterThan(truth.own);
    expect(truth.none).toBeGreaterThan(0.05 * truth.events);
    expect(truth.links).toBeGreaterThan(0);
  });

  it('is in time order within the simulated span, the same for the same seed and different for another', () => {
    for (let i = 1; i < traces.length; i++) expect(traces[i]!.timeMs).toBeGreaterThanOrEqual(traces[i - 1]!.timeMs);
    for (const e of traces.flatMap(eventsOf)) {
      expect(e.time / 1000).toBeGreaterThanOrEqual(endMs - options.spanMs);
      expect(e.time / 1000).toBeLessThanOrEqual(endMs);
    }
    const ids = (ts: DemoTrace[]): string[] => ts.flatMap(eventsOf).map((e) => e.event_id);
    expect(ids([...generateThirdPartyTraffic(options)])).toEqual(ids(traces));
    expect(ids([...generateThirdPartyTraffic({ ...options, seed: 8 })])[0]).not.toBe(ids(traces)[0]);
  });

  it('produces only records the codecs and the validator accept', () => {
    const codec = createEventCodec();
    const linkCodec = createSpanLinkCodec();
    for (const r of traces.flatMap((t) => t.records)) {
      if (r.link) {
        // A link that hands nothing down decodes with the agent fields empty.
        expect(linkCodec.decode(linkCodec.encode(r.link))).toEqual({
          agent: null,
          user: null,
          conversation_id: null,
          identity: null,
          scopes: [],
          ...r.link,
        });
      } else {
        expect(invalidReason(r.event, endMs)).toBeNull();
        expect(codec.decode(codec.encode(r.event))).toEqual({
          ...r.event,
          attribution: null,
          detections: r.event.detections ?? [],
        });
      }
    }
  });
});

describe('the demo traffic of both fleets', () => {
  const mixed = [...demoTraffic({ seed: 7, total: 4000, tenant: 'demo', spanMs: 24 * 3_600_000, endMs })];

  it('keeps the benign total: the third-party fleet takes its share of it', () => {
    const truth = mixed.map(truthOf).reduce(addTruth, noTruth());
    expect(truth.events).toBe(4000 + injectedCount());
    const thirdParty = mixed.filter((t) => THIRD_PARTY_FLEET.some((p) => p.app === appOf(t)));
    expect(thirdParty.reduce((n, t) => n + t.events, 0)).toBe(thirdPartyEvents(4000));
  });

  it('is in time order', () => {
    for (let i = 1; i < mixed.length; i++) expect(mixed[i]!.timeMs).toBeGreaterThanOrEqual(mixed[i - 1]!.timeMs);
  });
});
