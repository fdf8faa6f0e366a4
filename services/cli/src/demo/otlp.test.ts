import { fromOtlpJson, spanToEvent, type AiEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { demoTraffic } from './mix.ts';
import { toOtlpJson } from './otlp.ts';

/**
 * What `aispm fleet` sends is the demo's traffic: each trace, through OTLP/JSON and
 * the gateway's own reading and mapping, gives back the events it was made of.
 */
const OPTIONS = {
  tenant: 'acme',
  capture: {
    policy: 'full' as const,
    hmacKey: null,
    maxContentBytes: 1 << 20,
    identifiers: { policy: 'keep' as const, hmacKey: null, keyFile: null },
    detect: { enabled: false, maxBytes: 32_768 },
  },
};
const FIELDS = [
  'event_id',
  'trace_id',
  'span_id',
  'parent_span_id',
  'time',
  'kind',
  'operation',
  'app',
  'environment',
  'agent',
  'user',
  'identity',
  'scopes',
  'conversation_id',
  'provider',
  'request_model',
  'response_model',
  'tool_name',
  'tool_risk',
  'destination',
  'input_tokens',
  'output_tokens',
  'status',
] as const satisfies readonly (keyof AiEvent)[];

describe('the fleet over OTLP/JSON', () => {
  it('maps back, through the gateway mapping, to the events and steps of every demo trace', () => {
    const endMs = Date.now() - 60_000;
    let events = 0;
    let steps = 0;
    for (const trace of demoTraffic({ seed: 7, total: 3_000, tenant: 'acme', spanMs: 86_400_000, endMs })) {
      const body = JSON.parse(JSON.stringify(toOtlpJson(trace.records))) as unknown;
      const { spans, rejected } = fromOtlpJson(body);
      expect(rejected).toEqual([]);
      expect(spans).toHaveLength(trace.records.length);
      const bySpanId = new Map(spans.map((span) => [span.spanId, span]));
      for (const record of trace.records) {
        const span = bySpanId.get(record.event?.span_id ?? record.link!.span_id)!;
        const result = spanToEvent(span, { ...OPTIONS, nowMs: endMs + 120_000 });
        if (record.link) {
          expect(result).toHaveProperty('ignored');
          expect(span.parentSpanId).toBe(record.link.parent_span_id);
          steps++;
          continue;
        }
        expect(result, JSON.stringify(record.event)).toHaveProperty('event');
        const event = (result as { event: AiEvent }).event;
        const sent = record.event;
        for (const field of FIELDS) expect(event[field], field).toEqual(sent[field]);
        // Error types and finish reasons as the conventions spell them (OpenAI's tool_calls is tool_call),
        // each raw spelling kept among the attributes.
        if (event.finish_reasons.join() !== sent.finish_reasons.join()) {
          expect(event.finish_reasons).toHaveLength(sent.finish_reasons.length);
          expect(Object.values(event.attributes)).toContain(sent.finish_reasons.join(','));
        }
        expect(event.error_type === null).toBe(sent.error_type === null);
        if (event.error_type !== sent.error_type) expect(event.attributes['error.type']).toBe(sent.error_type);
        // Span times are whole microseconds.
        expect(Math.abs(event.latency_ms - sent.latency_ms)).toBeLessThan(0.001);
        expect(event.content).toMatchObject({
          prompt: sent.content.prompt,
          completion: sent.content.completion,
          tool_arguments: sent.content.tool_arguments,
          tool_result: sent.content.tool_result,
        });
        // aispm.* is the shim's namespace, never kept as a plain attribute (the demo's ground-truth label among them).
        for (const [key, value] of Object.entries(sent.attributes)) {
          if (!key.startsWith('aispm.')) expect(event.attributes[key], key).toBe(value);
        }
        events++;
      }
    }
    expect(events).toBeGreaterThan(3_000);
    expect(steps).toBeGreaterThan(0);
  }, 60_000);
});
