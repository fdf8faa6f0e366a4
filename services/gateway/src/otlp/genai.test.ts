import { createGenAiLogCodec, createGenAiMetricCodec, hmacHex, type CaptureOptions } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { mapLogs, mapMetrics } from './genai.ts';

const logCodec = createGenAiLogCodec();
const metricCodec = createGenAiMetricCodec();
const capture = (policy: CaptureOptions['policy'], hmacKey: string | null = null): CaptureOptions => ({
  policy,
  hmacKey,
  maxContentBytes: 1000,
});
const secret = `sk-proj-${'xY7'.repeat(20)}`;
const text = `write to ann@example.com with ${secret}`;
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

function logsRequest(records: Record<string, unknown>[]): Record<string, unknown> {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'app' } }] },
        scopeLogs: [{ logRecords: records }],
      },
    ],
  };
}

const userMessage = {
  timeUnixNano: '1765000000000000000',
  eventName: 'gen_ai.user.message',
  traceId: TRACE,
  spanId: SPAN,
  body: { kvlistValue: { values: [{ key: 'content', value: { stringValue: text } }] } },
};

function mapOne(policy: CaptureOptions, record: Record<string, unknown> = userMessage) {
  const mapped = mapLogs(logsRequest([record]), { tenant: 'acme', capture: policy, nowMs: 0 }, logCodec);
  expect(mapped.rejected).toEqual([]);
  expect(mapped.records).toHaveLength(1);
  return { key: mapped.records[0]!.key, event: logCodec.decode(mapped.records[0]!.value) };
}

describe('GenAI log events', () => {
  it('keeps nothing under none, an HMAC under hash, masked text under redacted, text under full; detectors always run', () => {
    const none = mapOne(capture('none')).event;
    expect(none).toMatchObject({ content_policy: 'none', content: null, role: 'user', trace_id: TRACE, span_id: SPAN });
    expect(none.detected).toEqual(expect.arrayContaining(['email', 'openai_api_key']));
    const hash = mapOne(capture('hash', 'k'.repeat(32))).event;
    expect(hash.content).toBe(hmacHex('k'.repeat(32), JSON.stringify({ content: text })));
    const redacted = mapOne(capture('redacted')).event;
    expect(redacted.content).toBe('{"content":"write to [EMAIL] with [SECRET:openai_api_key]"}');
    expect(mapOne(capture('full')).event.content).toBe(JSON.stringify({ content: text }));
    expect(none.time).toBe(1765000000000000);
    expect(mapOne(capture('none')).key).toBe(`acme/${TRACE}`);
  });

  it('gives a replayed record the same log_id, and two records of one span different ones', () => {
    const again = mapOne(capture('redacted')).event.log_id;
    expect(mapOne(capture('redacted')).event.log_id).toBe(again);
    const both = mapLogs(
      logsRequest([userMessage, userMessage]),
      { tenant: 'acme', capture: capture('none'), nowMs: 0 },
      logCodec,
    );
    const ids = both.records.map((r) => logCodec.decode(r.value).log_id);
    expect(new Set(ids).size).toBe(2);
  });

  it('reads operation details from their attributes, the role of a choice, and the event.name attribute', () => {
    const details = mapOne(capture('full'), {
      eventName: 'gen_ai.client.inference.operation.details',
      traceId: TRACE,
      spanId: SPAN,
      attributes: [
        { key: 'gen_ai.input.messages', value: { stringValue: '[{"role":"user","parts":[]}]' } },
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      ],
    }).event;
    expect(details.role).toBeNull();
    expect(JSON.parse(details.content!)).toEqual({ 'gen_ai.input.messages': '[{"role":"user","parts":[]}]' });
    const choice = mapOne(capture('full'), {
      attributes: [{ key: 'event.name', value: { stringValue: 'gen_ai.choice' } }],
      body: {
        kvlistValue: {
          values: [
            { key: 'index', value: { intValue: '0' } },
            {
              key: 'message',
              value: { kvlistValue: { values: [{ key: 'role', value: { stringValue: 'assistant' } }] } },
            },
          ],
        },
      },
    }).event;
    expect(choice).toMatchObject({ event_name: 'gen_ai.choice', role: 'assistant', trace_id: '', span_id: '' });
  });

  it('drops other records by reason and rejects bad ids', () => {
    const mapped = mapLogs(
      logsRequest([
        { body: { stringValue: 'plain' } },
        { eventName: 'browser.click' },
        { eventName: 'gen_ai.user.message', traceId: 'xyz' },
        { eventName: 'gen_ai.user.message', traceId: TRACE, spanId: '12' },
      ]),
      { tenant: 'acme', capture: capture('none'), nowMs: 0 },
      logCodec,
    );
    expect(mapped.records).toEqual([]);
    expect(mapped.dropped).toEqual({ no_event_name: 1, not_genai: 1 });
    expect(mapped.rejected.map((r) => r.reason)).toEqual([
      'traceId is not 32 hex digits',
      'spanId is not 16 hex digits',
    ]);
  });
});

describe('GenAI metrics', () => {
  const histogram = (points: Record<string, unknown>[]) => ({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'gen_ai.client.token.usage',
                unit: '{token}',
                histogram: { aggregationTemporality: 2, dataPoints: points },
              },
              { name: 'gen_ai.client.token.usage.sum', sum: { dataPoints: [{}, {}] } },
              { name: 'http.server.duration', histogram: { dataPoints: [{}] } },
            ],
          },
        ],
      },
    ],
  });

  it('maps histogram points, drops the rest by reason, rejects inconsistent buckets', () => {
    const point = {
      timeUnixNano: '1765000000000000000',
      startTimeUnixNano: '1764999990000000000',
      count: '3',
      sum: 60,
      bucketCounts: ['1', '2', '0'],
      explicitBounds: [10, 100],
      attributes: [
        { key: 'gen_ai.token.type', value: { stringValue: 'input' } },
        { key: 'gen_ai.system', value: { stringValue: 'openai' } },
        { key: 'server.address', value: { stringValue: 'api.openai.com' } },
      ],
    };
    const mapped = mapMetrics(
      histogram([point, { ...point, bucketCounts: ['1'] }]),
      { tenant: 'acme', capture: capture('none'), nowMs: 0 },
      metricCodec,
    );
    expect(mapped.dropped).toEqual({ unsupported_type: 2, not_genai: 1 });
    expect(mapped.rejected).toHaveLength(1);
    expect(mapped.records).toHaveLength(1);
    const p = metricCodec.decode(mapped.records[0]!.value);
    expect(p).toMatchObject({
      metric: 'gen_ai.client.token.usage',
      app: 'unknown_service',
      temporality: 'cumulative',
      provider: 'openai',
      token_type: 'input',
      count: 3,
      sum: 60,
      bounds: [10, 100],
      bucket_counts: [1, 2, 0],
      attributes: { 'server.address': 'api.openai.com' },
      time: 1765000000000000,
    });
    const again = mapMetrics(histogram([point]), { tenant: 'acme', capture: capture('none'), nowMs: 0 }, metricCodec);
    expect(metricCodec.decode(again.records[0]!.value).point_id).toBe(p.point_id);
  });
});
