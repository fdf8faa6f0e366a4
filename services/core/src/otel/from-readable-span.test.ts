import { describe, expect, it } from 'vitest';
import { RESOURCE, SPEC, recordSpans } from './fixtures/sdk-spans.ts';
import { fromReadableSpan } from './from-readable-span.ts';

describe('fromReadableSpan', () => {
  const [agent, tool] = recordSpans([SPEC.genAiAgent!, SPEC.openInferenceTool!]).map(fromReadableSpan);

  it('reads ids, parent (2.x parentSpanContext), HrTime in microseconds, scope and resource', () => {
    expect(agent).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      parentSpanId: null,
      name: 'invoke_agent support-agent',
      startTimeUnixMicros: 1_795_168_800_000_000,
      endTimeUnixMicros: 1_795_168_802_500_000,
      status: { code: 'unset', message: '' },
      scope: { name: 'aispm-test-genai', version: '1.0.0' },
      exceptionType: null,
      droppedAttributesCount: 0,
    });
    expect(agent?.resource.get('service.name')).toBe(RESOURCE['service.name']);
    expect(agent?.attributes.get('gen_ai.agent.name')).toBe('support-agent');
    expect(tool?.parentSpanId).toBe('0102030405060708');
  });

  it('reads the status and the exception event', () => {
    expect(tool?.status).toEqual({ code: 'error', message: '' });
    expect(tool?.exceptionType).toBe('OperationalError');
  });

  it('keeps array attributes without their null holes', () => {
    const [span] = recordSpans([
      { ...SPEC.genAiChat!, attributes: { 'gen_ai.response.finish_reasons': ['stop', null, 'length'] } },
    ]).map(fromReadableSpan);
    expect(span?.attributes.get('gen_ai.response.finish_reasons')).toEqual(['stop', 'length']);
  });
});
