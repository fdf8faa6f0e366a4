import { describe, expect, it } from 'vitest';
import { fromOtlpJson } from './from-otlp-json.ts';
import { SPAN_LIMITS } from './span-input.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function otlpSpan(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: TRACE,
    spanId: '00f067aa0ba902b7',
    name: 'chat',
    startTimeUnixNano: '1795168800000000000',
    endTimeUnixNano: '1795168800250000999',
    attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }],
    ...fields,
  };
}

function body(...spans: unknown[]): unknown {
  return { resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 's' }, spans }] }] };
}

describe('fromOtlpJson', () => {
  it('reads ids, times, status and scope', () => {
    const { spans, rejected } = fromOtlpJson(
      body(
        otlpSpan({
          traceId: TRACE.toUpperCase(),
          parentSpanId: 'B7AD6B7169203331',
          status: { code: 'STATUS_CODE_ERROR', message: 'boom' },
          droppedAttributesCount: 3,
        }),
      ),
    );
    expect(rejected).toEqual([]);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      traceId: TRACE,
      spanId: '00f067aa0ba902b7',
      parentSpanId: 'b7ad6b7169203331',
      name: 'chat',
      startTimeUnixMicros: 1_795_168_800_000_000,
      endTimeUnixMicros: 1_795_168_800_250_000,
      status: { code: 'error', message: 'boom' },
      scope: { name: 's', version: null },
      exceptionType: null,
      droppedAttributesCount: 3,
    });
  });

  it('rejects each malformed span with its path and reason, and keeps the rest', () => {
    const result = fromOtlpJson({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                otlpSpan({ traceId: 'S/kvNXezTaajzpKdDg5HNg==' }),
                otlpSpan({ spanId: '0000000000000000' }),
                otlpSpan(),
                42,
                otlpSpan({ startTimeUnixNano: undefined }),
                otlpSpan({ endTimeUnixNano: '1795168799000000000' }),
                otlpSpan({ parentSpanId: 'xyz' }),
                otlpSpan({ startTimeUnixNano: '-5' }),
              ],
            },
            { spans: 'not a list' },
            'not an object',
          ],
        },
        'oops',
        { scopeSpans: [{ spans: [otlpSpan({ spanId: 'b7ad6b7169203331' })] }] },
      ],
    });
    expect(result.spans.map((s) => s.spanId)).toEqual(['00f067aa0ba902b7', 'b7ad6b7169203331']);
    expect(result.rejected).toEqual([
      {
        path: 'resourceSpans[0].scopeSpans[0].spans[0]',
        reason: 'traceId must be 32 hex characters (OTLP/JSON encodes ids as hex, not base64)',
      },
      { path: 'resourceSpans[0].scopeSpans[0].spans[1]', reason: 'spanId is all zeros' },
      { path: 'resourceSpans[0].scopeSpans[0].spans[3]', reason: 'is not an object' },
      {
        path: 'resourceSpans[0].scopeSpans[0].spans[4]',
        reason: 'startTimeUnixNano is missing or not a non-negative integer (nanoseconds, as a string)',
      },
      { path: 'resourceSpans[0].scopeSpans[0].spans[5]', reason: 'endTimeUnixNano is before startTimeUnixNano' },
      {
        path: 'resourceSpans[0].scopeSpans[0].spans[6]',
        reason: 'parentSpanId must be 16 hex characters (OTLP/JSON encodes ids as hex, not base64)',
      },
      {
        path: 'resourceSpans[0].scopeSpans[0].spans[7]',
        reason: 'startTimeUnixNano is missing or not a non-negative integer (nanoseconds, as a string)',
      },
      { path: 'resourceSpans[0].scopeSpans[1].spans', reason: 'is not an array' },
      { path: 'resourceSpans[0].scopeSpans[2]', reason: 'is not an object' },
      { path: 'resourceSpans[1]', reason: 'is not an object' },
    ]);
  });

  it('rejects a body that is not a request, and reads an empty one as empty', () => {
    expect(fromOtlpJson('hello')).toEqual({
      spans: [],
      rejected: [{ path: '', reason: 'the body is not a JSON object (expected an ExportTraceServiceRequest)' }],
    });
    expect(fromOtlpJson({})).toEqual({ spans: [], rejected: [] });
    expect(fromOtlpJson({ resourceSpans: {} }).rejected).toEqual([
      { path: 'resourceSpans', reason: 'is not an array' },
    ]);
  });

  it('converts every AnyValue form and counts unusable attributes as dropped', () => {
    const kv = (key: unknown, value: unknown) => ({ key, value });
    const { spans } = fromOtlpJson(
      body(
        otlpSpan({
          attributes: [
            kv('s', { stringValue: 'text' }),
            kv('b', { boolValue: true }),
            kv('i', { intValue: '9007199254740993' }),
            kv('n', { intValue: 12 }),
            kv('d', { doubleValue: 0.5 }),
            kv('nan', { doubleValue: 'NaN' }),
            kv('bytes', { bytesValue: 'AAEC' }),
            kv('strings', { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } }),
            kv('mixed', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }] } }),
            kv('nested', {
              arrayValue: { values: [{ kvlistValue: { values: [kv('role', { stringValue: 'user' })] } }] },
            }),
            kv('map', {
              kvlistValue: { values: [kv('__proto__', { stringValue: 'x' }), kv('k', { boolValue: false })] },
            }),
            kv('__proto__', { stringValue: 'plain data' }),
            kv('empty', {}),
            kv('bad-int', { intValue: 'twelve' }),
            kv(7, { stringValue: 'numeric key' }),
            'not a key-value',
          ],
        }),
      ),
    );
    const attributes = spans[0]?.attributes;
    expect(attributes && Object.fromEntries(attributes)).toEqual({
      s: 'text',
      b: true,
      i: 9007199254740992,
      n: 12,
      d: 0.5,
      nan: NaN,
      bytes: 'AAEC',
      strings: ['a', 'b'],
      mixed: ['a', '1'],
      nested: '[{"role":"user"}]',
      map: '{"__proto__":"x","k":false}',
      ['__proto__']: 'plain data',
    });
    expect(spans[0]?.droppedAttributesCount).toBe(4);
  });

  it('bounds the attribute count, value length and array length', () => {
    const attributes = [
      ...Array.from({ length: SPAN_LIMITS.maxAttributes + 10 }, (_, i) => ({ key: `k${i}`, value: { intValue: i } })),
    ];
    attributes[0] = { key: 'long', value: { stringValue: 'x'.repeat(SPAN_LIMITS.maxValueLength + 5) } } as never;
    attributes[1] = {
      key: 'list',
      value: { arrayValue: { values: Array.from({ length: 1000 }, () => ({ boolValue: true })) } },
    } as never;
    const [span] = fromOtlpJson(body(otlpSpan({ attributes }))).spans;
    expect(span?.attributes.size).toBe(SPAN_LIMITS.maxAttributes);
    expect(span?.droppedAttributesCount).toBe(10);
    expect((span?.attributes.get('long') as string).length).toBe(SPAN_LIMITS.maxValueLength);
    expect((span?.attributes.get('list') as boolean[]).length).toBe(SPAN_LIMITS.maxArrayLength);
  });

  it('takes exception.type from the first exception event', () => {
    const events = [
      { name: 'log', attributes: [{ key: 'exception.type', value: { stringValue: 'NotThisOne' } }] },
      { name: 'exception', attributes: [{ key: 'exception.type', value: { stringValue: 'ValueError' } }] },
    ];
    expect(fromOtlpJson(body(otlpSpan({ events }))).spans[0]?.exceptionType).toBe('ValueError');
  });
});
