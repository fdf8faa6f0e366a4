import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createEventCodec } from '../event/event-codec.ts';
import type { AiEvent } from '../event/types.ts';
import { invalidReason } from '../event/validate.ts';
import { SPEC, recordSpans } from './fixtures/sdk-spans.ts';
import { fromOtlpJson } from './from-otlp-json.ts';
import { fromReadableSpan } from './from-readable-span.ts';
import type { AttributeValue, SpanInput } from './span-input.ts';
import { spanToEvent, type SpanToEventOptions } from './span-to-event.ts';

const NOW = Date.UTC(2026, 10, 20, 10, 5);
const OPTIONS: SpanToEventOptions = {
  tenant: 'acme',
  capture: { policy: 'redacted', hmacKey: null, maxContentBytes: 8192 },
  nowMs: NOW,
};

const fixture: unknown = JSON.parse(readFileSync(new URL('./fixtures/conventions.otlp.json', import.meta.url), 'utf8'));

function mapped(span: SpanInput, options = OPTIONS): AiEvent {
  const result = spanToEvent(span, options);
  if (!('event' in result)) throw new Error(`expected an event, got ${JSON.stringify(result)}`);
  return result.event;
}

/** The fields every fixture event shares; each case below spells out the rest. */
function expected(spec: { traceId: string; spanId: string; parentSpanId?: string }, fields: Partial<AiEvent>): AiEvent {
  return {
    event_id: spec.traceId + spec.spanId,
    trace_id: spec.traceId,
    span_id: spec.spanId,
    parent_span_id: spec.parentSpanId ?? null,
    tenant: 'acme',
    time: 0,
    kind: 'llm_call',
    operation: null,
    app: 'support-bot',
    environment: 'prod',
    agent: null,
    user: null,
    identity: null,
    scopes: [],
    conversation_id: null,
    provider: null,
    request_model: null,
    response_model: null,
    tool_name: null,
    tool_risk: null,
    destination: null,
    input_tokens: null,
    output_tokens: null,
    latency_ms: 0,
    status: 'ok',
    error_type: null,
    finish_reasons: [],
    content: { policy: 'redacted', prompt: null, completion: null, tool_arguments: null, tool_result: null },
    attributes: {},
    // The fixtures' texts are benign: no content detector fires on them.
    detections: [],
    ...fields,
  };
}

const T0 = 1_795_168_800_000_000; // 2026-11-20T10:00:00Z in microseconds

const CASES: [string, AiEvent][] = [
  [
    'GenAI invoke_agent',
    expected(SPEC.genAiAgent!, {
      time: T0,
      kind: 'agent_action',
      operation: 'invoke_agent',
      agent: 'support-agent',
      user: 'user-17',
      identity: 'svc-support',
      scopes: ['tickets:read', 'email:send'],
      conversation_id: 'conv_5j66',
      provider: 'openai',
      request_model: 'gpt-4o',
      latency_ms: 2500,
      finish_reasons: ['stop'],
      content: {
        policy: 'redacted',
        prompt: 'user: Reset my password, my email is [EMAIL]',
        completion: 'assistant: Done. A reset link was sent.',
        tool_arguments: null,
        tool_result: null,
      },
      attributes: { 'otel.scope.name': 'aispm-test-genai', 'service.version': '1.4.2', 'gen_ai.agent.id': 'asst_123' },
    }),
  ],
  [
    'GenAI chat',
    expected(SPEC.genAiChat!, {
      time: T0 + 100_000,
      kind: 'llm_call',
      operation: 'chat',
      agent: 'support-agent',
      user: 'user-17',
      identity: 'svc-support',
      scopes: ['tickets:read', 'email:send'],
      conversation_id: 'conv_5j66',
      provider: 'openai',
      request_model: 'gpt-4o',
      response_model: 'gpt-4o-2024-08-06',
      destination: 'api.openai.com',
      input_tokens: 42,
      output_tokens: 7,
      latency_ms: 1250,
      finish_reasons: ['tool_call'],
      content: {
        policy: 'redacted',
        prompt: 'system: You are a support agent.\nuser: Email me at [EMAIL]',
        completion: 'assistant: Sure, I will email you.\nsend_email({"to":"[EMAIL]"})',
        tool_arguments: null,
        tool_result: null,
      },
      attributes: {
        'otel.scope.name': 'aispm-test-genai',
        'service.version': '1.4.2',
        'gen_ai.response.id': 'chatcmpl-123',
        'server.port': '443',
        'gen_ai.request.temperature': '0.2',
      },
    }),
  ],
  [
    'GenAI execute_tool',
    expected(SPEC.genAiTool!, {
      time: T0 + 1_400_000,
      kind: 'tool_call',
      operation: 'execute_tool',
      agent: 'support-agent',
      tool_name: 'send_email',
      tool_risk: 'egress',
      destination: 'smtp.example.com',
      latency_ms: 12.345,
      status: 'error',
      error_type: 'smtp_timeout',
      content: {
        policy: 'redacted',
        prompt: null,
        completion: null,
        tool_arguments: '{"to":"[EMAIL]","body":"Your AWS key is [SECRET:aws_access_key]"}',
        tool_result: '{"error":"timeout"}',
      },
      attributes: {
        'otel.scope.name': 'aispm-test-genai',
        'otel.status_description': 'SMTP timeout after 10s',
        'service.version': '1.4.2',
        'gen_ai.tool.call.id': 'call_abc',
        'gen_ai.tool.type': 'function',
      },
    }),
  ],
  [
    'OpenInference LLM',
    expected(SPEC.openInferenceLlm!, {
      time: T0 + 10_000_000,
      kind: 'llm_call',
      operation: 'chat',
      user: 'u-42',
      conversation_id: 'sess-9',
      provider: 'anthropic',
      request_model: 'claude-sonnet-4-5',
      response_model: 'claude-sonnet-4-5',
      input_tokens: 120,
      output_tokens: 30,
      latency_ms: 800,
      content: {
        policy: 'redacted',
        prompt: 'system: Be brief.\nuser: Call me at [PHONE]',
        completion: 'assistant: Will do.',
        tool_arguments: null,
        tool_result: null,
      },
      attributes: {
        'otel.scope.name': 'openinference.instrumentation.openai',
        'service.version': '1.4.2',
        'input.mime_type': 'application/json',
        'llm.invocation_parameters': '{"max_tokens":256}',
        'llm.token_count.total': '150',
      },
    }),
  ],
  [
    'OpenInference TOOL',
    expected(SPEC.openInferenceTool!, {
      time: T0 + 11_000_000,
      kind: 'tool_call',
      operation: 'execute_tool',
      agent: 'analytics-agent',
      tool_name: 'sql_query',
      tool_risk: 'read',
      latency_ms: 50,
      status: 'error',
      // Normalised: the snake_case of the exception class, the raw spelling kept as exception.type.
      error_type: 'operational_error',
      content: {
        policy: 'redacted',
        prompt: null,
        completion: null,
        tool_arguments: `{"query":"select name from users where ssn = '[US_SSN]'"}`,
        tool_result: 'no rows',
      },
      attributes: {
        'exception.type': 'OperationalError',
        'otel.scope.name': 'openinference.instrumentation.openai',
        'service.version': '1.4.2',
        'tool.description': 'Run a read-only SQL query',
      },
    }),
  ],
  [
    'OpenLLMetry chat',
    expected(SPEC.openLlmetryChat!, {
      time: T0 + 20_000_000,
      kind: 'llm_call',
      operation: 'chat',
      user: 'cust-7',
      provider: 'openai',
      request_model: 'gpt-4o-mini',
      response_model: 'gpt-4o-mini-2024-07-18',
      input_tokens: 15,
      output_tokens: 5,
      latency_ms: 1000,
      finish_reasons: ['stop'],
      content: {
        policy: 'redacted',
        prompt: 'user: Pay with card [CREDIT_CARD] please',
        completion: 'assistant: Payment sent.',
        tool_arguments: null,
        tool_result: null,
      },
      attributes: {
        'otel.scope.name': 'opentelemetry.instrumentation.openai',
        'service.version': '1.4.2',
        'llm.is_streaming': 'false',
        'llm.usage.total_tokens': '20',
        'traceloop.workflow.name': 'checkout',
      },
    }),
  ],
  [
    'OpenLLMetry tool',
    expected(SPEC.openLlmetryTool!, {
      time: T0 + 21_100_000,
      kind: 'tool_call',
      operation: 'execute_tool',
      agent: 'shopper',
      tool_name: 'web_search',
      tool_risk: 'unknown',
      latency_ms: 200,
      content: {
        policy: 'redacted',
        prompt: null,
        completion: null,
        tool_arguments: '{"args":["weather in Paris"],"kwargs":{}}',
        tool_result: '"sunny, 18C"',
      },
      attributes: {
        'otel.scope.name': 'opentelemetry.instrumentation.openai',
        'service.version': '1.4.2',
        'traceloop.entity.name': 'web_search',
        'traceloop.workflow.name': 'checkout',
      },
    }),
  ],
];

const sdkSpans = recordSpans(Object.values(SPEC)).map(fromReadableSpan);
const otlp = fromOtlpJson(fixture);

function bySpanId(spans: SpanInput[], spanId: string): SpanInput {
  const span = spans.find((s) => s.spanId === spanId);
  if (!span) throw new Error(`no span ${spanId}`);
  return span;
}

describe('spanToEvent on the same spans from the OTel SDK and from OTLP/JSON', () => {
  it('reads every span of the OTLP/JSON fixture', () => {
    expect(otlp.rejected).toEqual([]);
    expect(otlp.spans.map((s) => s.spanId).sort()).toEqual(sdkSpans.map((s) => s.spanId).sort());
  });

  /**
   * What the content detectors find in each fixture's texts, before the capture
   * policy: the fixtures' prompts hold an email or a phone number. Checked
   * by rule and channel here; the detectors' own tests check the rest.
   */
  const DETECTED: Record<string, string[]> = {
    'GenAI invoke_agent': ['pii.email@user_prompt'],
    'GenAI chat': ['pii.email@completion', 'pii.email@user_prompt'],
    'GenAI execute_tool': ['pii.email@tool_arguments'],
    'OpenInference LLM': ['pii.phone@user_prompt'],
    'OpenInference TOOL': [],
    // 4111 1111 1111 1111 is a published test card: redacted, but no finding.
    'OpenLLMetry chat': [],
    'OpenLLMetry tool': [],
  };
  const withoutDetections = (e: AiEvent): AiEvent => ({ ...e, detections: [] });
  const detected = (e: AiEvent): string[] => (e.detections ?? []).map((d) => `${d.rule}@${d.channel}`).sort();

  describe.each(CASES)('%s', (name, event) => {
    it('maps the SDK span attribute by attribute', () => {
      const got = mapped(bySpanId(sdkSpans, event.span_id));
      expect(withoutDetections(got)).toEqual(event);
      expect(detected(got)).toEqual(DETECTED[name]);
      // Verdicts never quote what they found.
      for (const d of got.detections ?? [])
        expect(d.excerpt).not.toMatch(/jane\.doe@example\.com|415 555 0100|4111 1111/);
    });

    it('maps the OTLP/JSON span to the same event', () => {
      expect(mapped(bySpanId(otlp.spans, event.span_id))).toEqual(mapped(bySpanId(sdkSpans, event.span_id)));
    });

    it('is a valid event that survives the Avro codec', () => {
      const codec = createEventCodec();
      expect(codec.isValid(event)).toBe(true);
      expect(invalidReason(event, NOW)).toBeNull();
      // Attribution is trace assembly's (processor): absent from the mapping, null once on the wire.
      expect(codec.decode(codec.encode(event))).toEqual({ ...event, attribution: null });
    });
  });

  it.each([
    [
      'an HTTP span (even one the shim tagged with aispm.agent)',
      SPEC.health!.spanId,
      'no GenAI, OpenInference or OpenLLMetry attributes',
    ],
    [
      'an OpenInference CHAIN without an agent',
      SPEC.openInferenceChain!.spanId,
      'OpenInference CHAIN span without an agent',
    ],
  ])('ignores %s', (_, spanId, reason) => {
    expect(spanToEvent(bySpanId(sdkSpans, spanId), OPTIONS)).toEqual({ ignored: reason });
    expect(spanToEvent(bySpanId(otlp.spans, spanId), OPTIONS)).toEqual({ ignored: reason });
  });
});

/** A span built by hand, for the rules the fixture does not exercise. */
function span(attributes: Record<string, AttributeValue>, overrides: Partial<SpanInput> = {}): SpanInput {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b9c7c989f97918e1',
    parentSpanId: null,
    name: 'span',
    startTimeUnixMicros: T0,
    endTimeUnixMicros: T0 + 2_000,
    status: { code: 'unset', message: '' },
    attributes: new Map(Object.entries(attributes)),
    resource: new Map<string, AttributeValue>([['service.name', 'app']]),
    scope: { name: '', version: null },
    exceptionType: null,
    droppedAttributesCount: 0,
    ...overrides,
  };
}

const CHAT = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' };

describe('spanToEvent rules', () => {
  it('names an app without service.name unknown_service, as OTel SDKs do, and defaults the environment', () => {
    const event = mapped(span(CHAT, { resource: new Map() }));
    expect(event.app).toBe('unknown_service');
    expect(event.environment).toBe('default');
  });

  it('reads the older deployment.environment, on the resource or the span', () => {
    expect(mapped(span(CHAT, { resource: new Map([['deployment.environment', 'staging']]) })).environment).toBe(
      'staging',
    );
    expect(mapped(span({ ...CHAT, 'deployment.environment.name': 'dev' })).environment).toBe('dev');
  });

  it('takes gen_ai.system when gen_ai.provider.name is absent, and the agent id when there is no name', () => {
    const event = mapped(span({ ...CHAT, 'gen_ai.system': 'mistral_ai', 'gen_ai.agent.id': 'asst_9' }));
    expect(event.provider).toBe('mistral_ai');
    expect(event.agent).toBe('asst_9');
  });

  it('reads an undeclared tool risk class as unknown, and leaves non-tool events without one', () => {
    const tool = { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'rm' };
    expect(mapped(span({ ...tool, 'aispm.tool.risk': 'catastrophic' })).tool_risk).toBe('unknown');
    expect(mapped(span({ ...tool, 'aispm.tool.risk': 'privileged' })).tool_risk).toBe('privileged');
    expect(mapped(span(CHAT)).tool_risk).toBeNull();
  });

  it('marks an error from error.type alone, and names an error of no known class _OTHER', () => {
    expect(mapped(span({ ...CHAT, 'error.type': 'rate_limited' }))).toMatchObject({
      status: 'error',
      error_type: 'rate_limited',
    });
    expect(mapped(span(CHAT, { status: { code: 'error', message: '' } }))).toMatchObject({
      status: 'error',
      error_type: '_OTHER',
    });
    expect(mapped(span(CHAT, { exceptionType: 'TypeError' })).error_type).toBeNull();
  });

  it('drops an unusable token count to null, names it, and falls back to another spelling', () => {
    const event = mapped(
      span({
        ...CHAT,
        'gen_ai.usage.input_tokens': -3,
        'llm.token_count.prompt': '12',
        'gen_ai.usage.output_tokens': 1.5,
      }),
    );
    expect(event.input_tokens).toBe(12);
    expect(event.output_tokens).toBeNull();
    expect(event.attributes['aispm.unusable_attributes']).toBe('gen_ai.usage.input_tokens,gen_ai.usage.output_tokens');
  });

  it('bounds, orders and redacts the kept attributes, and never keeps content', () => {
    const many = Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [`custom.${String(i).padStart(2, '0')}`, 'x'.repeat(400)]),
    );
    const event = mapped(
      span({
        ...CHAT,
        ...many,
        'gen_ai.response.id': 'resp-1',
        'a.url': 'https://api.example.com/v1?key=sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD',
        'gen_ai.input.messages': 'secret prompt',
        'llm.input_messages.0.message.content': 'secret prompt',
        'exception.stacktrace': 'at secret',
      }),
    );
    const keys = Object.keys(event.attributes);
    expect(keys).toHaveLength(32);
    expect(keys[0]).toBe('gen_ai.response.id');
    expect(keys[1]).toBe('a.url');
    expect(event.attributes['a.url']).toBe('https://api.example.com/v1?key=[SECRET:openai_api_key]');
    expect(Object.values(event.attributes).every((value) => value.length <= 256)).toBe(true);
    expect(keys.some((key) => key.includes('messages') || key.startsWith('exception'))).toBe(false);
  });

  it('rejects an AI span no valid event can be made of', () => {
    expect(spanToEvent(span(CHAT), { ...OPTIONS, nowMs: NOW + 500 * 24 * 3600 * 1000 })).toEqual({
      rejected: expect.stringMatching(/^time is .* in the past$/) as string,
    });
    expect(spanToEvent(span(CHAT, { endTimeUnixMicros: T0 + 25 * 3600 * 1_000_000 }), OPTIONS)).toEqual({
      rejected: expect.stringMatching(/^latency_ms above/) as string,
    });
  });

  it('applies the capture policy to the rendered texts', () => {
    const messages = JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'hi jane@example.com' }] }]);
    const attributes = { ...CHAT, 'gen_ai.input.messages': messages };
    const capture = (policy: 'none' | 'hash' | 'full') =>
      mapped(span(attributes), { ...OPTIONS, capture: { policy, hmacKey: 'k'.repeat(16), maxContentBytes: 10 } })
        .content;
    expect(capture('none')).toEqual({
      policy: 'none',
      prompt: null,
      completion: null,
      tool_arguments: null,
      tool_result: null,
    });
    expect(capture('full').prompt).toBe('user: hi j');
    expect(capture('hash').prompt).toMatch(/^[0-9a-f]{64}$/);
  });
});
