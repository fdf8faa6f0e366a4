import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AiEvent } from '@aispm/core';
import { eventRow, clickhouseTime } from './event-row.ts';

const event: AiEvent = {
  event_id: 'e1',
  trace_id: 't1',
  span_id: 's1',
  parent_span_id: null,
  tenant: 'acme',
  time: 1_700_000_000_000_001,
  kind: 'tool_call',
  operation: null,
  app: 'app',
  environment: 'default',
  agent: null,
  user: null,
  identity: null,
  scopes: ['a'],
  conversation_id: null,
  provider: null,
  request_model: null,
  response_model: null,
  tool_name: 'search',
  tool_risk: 'read',
  destination: null,
  input_tokens: null,
  output_tokens: 0,
  latency_ms: 1.5,
  status: 'ok',
  error_type: null,
  finish_reasons: [],
  content: { policy: 'none', prompt: null, completion: null, tool_arguments: null, tool_result: null },
  attributes: { k: 'v' },
  detections: [],
  attribution: 'inherited',
};

describe('clickhouseTime', () => {
  it('keeps all six fractional digits', () => {
    expect(clickhouseTime(0)).toBe('1970-01-01 00:00:00.000000');
    expect(clickhouseTime(1_700_000_000_000_001)).toBe('2023-11-14 22:13:20.000001');
    expect(clickhouseTime(4_102_444_799_999_999)).toBe('2099-12-31 23:59:59.999999');
  });

  it('formats each call on its own, whatever second the call before it was in', () => {
    const second = 1_700_000_000_000_000;
    expect(clickhouseTime(second + 5)).toBe('2023-11-14 22:13:20.000005');
    expect(clickhouseTime(second + 999_999)).toBe('2023-11-14 22:13:20.999999');
    expect(clickhouseTime(second + 1_000_000)).toBe('2023-11-14 22:13:21.000000');
    expect(clickhouseTime(second - 1)).toBe('2023-11-14 22:13:19.999999');
    expect(clickhouseTime(second + 7)).toBe('2023-11-14 22:13:20.000007');
  });

  it('reads back to the same microsecond for any time up to 2100', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 4_102_444_800_000_000n }), (big) => {
        const micros = Number(big);
        const text = clickhouseTime(micros);
        expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
        const seconds = BigInt(Date.parse(`${text.slice(0, 19).replace(' ', 'T')}Z`) / 1000);
        expect(seconds * 1_000_000n + BigInt(text.slice(20))).toBe(big);
      }),
    );
  });
});

describe('eventRow', () => {
  it('names a column after every event field, flattening content to content_<field>', () => {
    const { content, ...top } = event;
    const expected = [...Object.keys(top), ...Object.keys(content).map((k) => `content_${k}`)];
    expect(Object.keys(eventRow(event)).sort()).toEqual(expected.sort());
  });

  it("writes absent labels as '' and keeps null where it means unknown or not captured", () => {
    expect(eventRow(event)).toMatchObject({
      parent_span_id: '',
      operation: '',
      agent: '',
      user: '',
      identity: '',
      provider: '',
      destination: '',
      error_type: '',
      input_tokens: null,
      output_tokens: 0,
      content_prompt: null,
      time: '2023-11-14 22:13:20.000001',
      scopes: ['a'],
      attributes: { k: 'v' },
    });
  });
});
