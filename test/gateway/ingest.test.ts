import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { decodeTraceResponse } from '@aispm/gateway';
import type { AiEvent } from '@aispm/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CHAT_ATTRIBUTES,
  KEY_ACME,
  KEY_GLOBEX,
  conversationSpans,
  recordSpans,
  startTestGateway,
  type TestGateway,
} from './support.ts';

/**
 * The gateway behind stock OTel exporters, on a real Kafka broker: what goes in over
 * OTLP/HTTP is read back off the events topic, attribute by attribute.
 */
let gw: TestGateway;
let traces: string;

beforeAll(async () => {
  gw = await startTestGateway(inject('kafkaBrokers'));
  traces = `${gw.gateway.url}/v1/traces`;
});
afterAll(() => gw?.close());

function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

const byTrace = (traceId: string) => (events: AiEvent[]) => events.filter((e) => e.trace_id === traceId);

async function post(
  body: Uint8Array | string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const response = await fetch(traces, { method: 'POST', body, headers });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

const protobufHeaders = { 'content-type': 'application/x-protobuf', authorization: `Bearer ${KEY_ACME}` };
const jsonHeaders = { 'content-type': 'application/json', 'x-aispm-key': KEY_ACME };

function checkConversation(events: AiEvent[], spans: ReadableSpan[], tenant: string): void {
  const chatSpan = spans.find((s) => s.name.startsWith('chat'));
  const toolSpan = spans.find((s) => s.name.startsWith('execute_tool'));
  const chat = events.find((e) => e.span_id === chatSpan!.spanContext().spanId);
  const tool = events.find((e) => e.span_id === toolSpan!.spanContext().spanId);
  expect(chat).toBeDefined();
  expect(tool).toBeDefined();
  expect(chat!.tenant).toBe(tenant);
  expect(chat!.trace_id).toBe(chatSpan!.spanContext().traceId);
  expect(chat!.kind).toBe('llm_call');
  expect(chat!.operation).toBe('chat');
  expect(chat!.app).toBe('support-bot');
  expect(chat!.environment).toBe('prod');
  expect(chat!.agent).toBe('support-agent');
  expect(chat!.user).toBe('user-7');
  expect(chat!.conversation_id).toBe('conv-1');
  expect(chat!.provider).toBe('openai');
  expect(chat!.request_model).toBe('gpt-4o');
  expect(chat!.response_model).toBe('gpt-4o-2024-08-06');
  expect(chat!.destination).toBe('api.openai.com');
  expect(chat!.input_tokens).toBe(42);
  expect(chat!.output_tokens).toBe(7);
  expect(chat!.status).toBe('ok');
  expect(chat!.time).toBe(Math.floor(chatSpan!.startTime[0] * 1e6 + chatSpan!.startTime[1] / 1e3));
  // The default capture policy (redacted) masks the e-mail address before it reaches Kafka.
  expect(chat!.content.policy).toBe('redacted');
  expect(chat!.content.prompt).toContain('reset my password');
  expect(chat!.content.prompt).not.toContain('jane.doe@example.com');
  expect(tool!.kind).toBe('tool_call');
  expect(tool!.tool_name).toBe('send_email');
  expect(tool!.tool_risk).toBe('write');
  expect(tool!.identity).toBe('svc-support');
  expect(tool!.tenant).toBe(tenant);
  expect(events).toHaveLength(2); // the HTTP span is ignored
}

describe(`gateway on ${inject('kafkaLabel')}`, () => {
  it('takes gzip protobuf from the stock OTLP proto exporter, tenant from the key', async () => {
    const spans = conversationSpans();
    const exporter = new ProtoExporter({
      url: traces,
      headers: { authorization: `Bearer ${KEY_GLOBEX}` },
      compression: 'gzip' as never,
    });
    expect(await exportWith(exporter, spans)).toMatchObject({ code: 0 });
    const traceId = spans.find((s) => s.name.startsWith('chat'))!.spanContext().traceId;
    await gw.waitForEvents((all) => byTrace(traceId)(all).length >= 2, 'the proto exporter events');
    checkConversation(byTrace(traceId)(gw.events), spans, 'globex');
    await exporter.shutdown();
  });

  it('takes JSON from the stock OTLP http exporter, mapped to the same events', async () => {
    const spans = conversationSpans();
    const exporter = new JsonExporter({ url: traces, headers: { 'x-aispm-key': KEY_ACME } });
    expect(await exportWith(exporter, spans)).toMatchObject({ code: 0 });
    const traceId = spans.find((s) => s.name.startsWith('chat'))!.spanContext().traceId;
    await gw.waitForEvents((all) => byTrace(traceId)(all).length >= 2, 'the JSON exporter events');
    checkConversation(byTrace(traceId)(gw.events), spans, 'acme');
    await exporter.shutdown();
  });

  it('answers 401 to a wrong or missing key, and the exporter reports the failure', async () => {
    const spans = conversationSpans();
    const exporter = new ProtoExporter({ url: traces, headers: { authorization: 'Bearer not-a-key-0123456789' } });
    const result = await exportWith(exporter, spans);
    expect(result.code).toBe(1);
    await exporter.shutdown();
    const body = ProtobufTraceSerializer.serializeRequest(spans)!;
    const wrong = await post(body, { 'content-type': 'application/x-protobuf', authorization: `Bearer ${KEY_ACME}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post(body, { 'content-type': 'application/x-protobuf' })).status).toBe(401);
  });

  it('answers 415 to an unknown content type or content encoding', async () => {
    const body = ProtobufTraceSerializer.serializeRequest(conversationSpans())!;
    const text = await post(body, { ...protobufHeaders, 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect((JSON.parse(text.body.toString()) as { message: string }).message).toContain('application/x-protobuf');
    expect((await post(body, { ...protobufHeaders, 'content-encoding': 'br' })).status).toBe(415);
  });

  it('answers 400 with a google.rpc.Status to a truncated protobuf body, and to broken JSON', async () => {
    const body = ProtobufTraceSerializer.serializeRequest(conversationSpans())!;
    const truncated = await post(body.subarray(0, body.length - 7), protobufHeaders);
    expect(truncated.status).toBe(400);
    expect(truncated.headers.get('content-type')).toContain('application/x-protobuf');
    expect(truncated.body.toString('latin1')).toContain('not an OTLP ExportTraceServiceRequest');
    expect((await post('{"resourceSpans": [', jsonHeaders)).status).toBe(400);
    expect(
      (await post(gzipSync(body).subarray(0, 20), { ...protobufHeaders, 'content-encoding': 'gzip' })).status,
    ).toBe(400);
  });

  it('rejects only the span with invalid UTF-8 (partial_success) and keeps the rest', async () => {
    const spans = recordSpans((tracer) => {
      tracer.startSpan('chat good', { attributes: { ...CHAT_ATTRIBUTES, 'gen_ai.agent.name': 'good-agent' } }).end();
      tracer.startSpan('chat bad', { attributes: { ...CHAT_ATTRIBUTES, 'gen_ai.agent.name': 'BADUTF8' } }).end();
    });
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    const at = body.indexOf('BADUTF8');
    expect(at).toBeGreaterThan(0);
    body[at + 3] = 0xff; // not a UTF-8 byte anywhere
    const response = await post(body, protobufHeaders);
    expect(response.status).toBe(200);
    const answer = decodeTraceResponse(response.body);
    expect(answer.partialSuccess?.rejectedSpans).toBe('1');
    expect(answer.partialSuccess?.errorMessage).toContain('gen_ai.agent.name is not valid UTF-8');
    const traceId = spans[0]!.spanContext().traceId;
    await gw.waitForEvents((all) => byTrace(traceId)(all).length >= 1, 'the valid span');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(byTrace(traceId)(gw.events).map((e) => e.agent)).toEqual(['good-agent']);
    // A JSON body must be UTF-8 as a whole: it cannot be parsed without guessing.
    expect((await post(Buffer.from([0x7b, 0xff, 0x7d]), jsonHeaders)).status).toBe(400);
  });

  it('answers 200 with partial_success in JSON when some spans are invalid, publishing the valid ones', async () => {
    const [span] = conversationSpans();
    const traceId = span!.spanContext().traceId;
    const now = BigInt(Date.now()) * 1_000_000n;
    const otlpSpan = (spanId: string, trace: string) => ({
      traceId: trace,
      spanId,
      name: 'chat',
      startTimeUnixNano: String(now),
      endTimeUnixNano: String(now + 5_000_000n),
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.provider.name', value: { stringValue: 'anthropic' } },
      ],
    });
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-app' } }] },
          scopeSpans: [{ spans: [otlpSpan('1111111111111111', traceId), otlpSpan('2222222222222222', 'not-hex')] }],
        },
      ],
    });
    const response = await post(body, jsonHeaders);
    expect(response.status).toBe(200);
    const answer = JSON.parse(response.body.toString()) as {
      partialSuccess: { rejectedSpans: string; errorMessage: string };
    };
    expect(answer.partialSuccess.rejectedSpans).toBe('1');
    expect(answer.partialSuccess.errorMessage).toContain('spans[1]: traceId must be 32 hex characters');
    const [event] = await gw.waitForEvents((all) => byTrace(traceId)(all).length >= 1, 'the valid JSON span');
    expect(byTrace(traceId)(gw.events)).toMatchObject([
      { span_id: '1111111111111111', provider: 'anthropic', app: 'json-app', tenant: 'acme' },
    ]);
    expect(event).toBeDefined();
  });

  it('keeps a span with a 5 MB attribute, its content cut by the capture policy', async () => {
    const prompt = `secret plan: ${'x'.repeat(5 * 1024 * 1024)}`;
    const spans = recordSpans((tracer) => {
      tracer
        .startSpan('chat big', {
          attributes: { ...CHAT_ATTRIBUTES, 'gen_ai.prompt': prompt, 'gen_ai.input.messages': prompt },
        })
        .end();
    });
    const exporter = new ProtoExporter({
      url: traces,
      headers: { 'x-aispm-key': KEY_ACME },
      compression: 'gzip' as never,
    });
    expect(await exportWith(exporter, spans)).toMatchObject({ code: 0 });
    await exporter.shutdown();
    const traceId = spans[0]!.spanContext().traceId;
    const [event] = byTrace(traceId)(
      await gw.waitForEvents((all) => byTrace(traceId)(all).length >= 1, 'the big span'),
    );
    expect(event!.content.prompt!.startsWith('secret plan: xxx')).toBe(true);
    expect(Buffer.byteLength(event!.content.prompt!)).toBeLessThanOrEqual(gw.config.capture.maxContentBytes);
  });

  it('answers 413 to a gzip bomb, stopping at the limit instead of inflating it all', async () => {
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const started = Date.now();
    const response = await post(bomb, { ...protobufHeaders, 'content-encoding': 'gzip' });
    expect(response.status).toBe(413);
    expect(response.body.toString('latin1')).toContain('after decompression');
    // Inflating 256 MiB takes far longer than inflating the 16 MiB limit.
    expect(Date.now() - started).toBeLessThan(3000);
    const plain = await post(Buffer.alloc(gw.config.gateway.maxBodyBytes + 1), protobufHeaders);
    expect(plain.status).toBe(413);
  });

  it('carries 10,000 spans of one request onto the topic, none lost', async () => {
    const spans = recordSpans((tracer) => {
      for (let i = 0; i < 10_000; i++)
        tracer.startSpan(`chat ${i}`, { attributes: { ...CHAT_ATTRIBUTES, 'gen_ai.request.seed': i } }).end();
    });
    const exporter = new ProtoExporter({
      url: traces,
      headers: { 'x-aispm-key': KEY_ACME },
      compression: 'gzip' as never,
      timeoutMillis: 30_000,
    });
    expect(await exportWith(exporter, spans)).toMatchObject({ code: 0 });
    await exporter.shutdown();
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    await gw.waitForEvents((all) => all.filter((e) => ids.has(e.span_id)).length >= 10_000, '10,000 events', 60_000);
    expect(new Set(gw.events.filter((e) => ids.has(e.span_id)).map((e) => e.event_id)).size).toBe(10_000);
  });

  it('answers 429 with Retry-After when its in-flight bound is taken', async () => {
    const small = await startTestGateway(inject('kafkaBrokers'), { AISPM_GATEWAY_MAX_IN_FLIGHT: '1' });
    try {
      const url = new URL(`${small.gateway.url}/v1/traces`);
      // A request whose body never finishes holds the only slot.
      const held = httpRequest(url, { method: 'POST', headers: { ...protobufHeaders, 'content-length': '1000' } });
      held.on('error', () => undefined);
      held.write(Buffer.alloc(10));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const response = await fetch(url, { method: 'POST', headers: protobufHeaders, body: new Uint8Array() });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('1');
      held.destroy();
    } finally {
      await small.close();
    }
  });

  it('serves /healthz and /readyz, and Prometheus /metrics only on its loopback listener', async () => {
    expect((await fetch(`${gw.gateway.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gw.gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    // The metrics name tenants and need no key: never on the public listener.
    const refused = await fetch(`${gw.gateway.url}/metrics`);
    expect(refused.status).toBe(404);
    expect(await refused.text()).not.toContain('aispm_gateway');
    expect(new URL(gw.gateway.metricsUrl).hostname).toBe('127.0.0.1');
    expect(gw.gateway.metricsUrl).not.toBe(gw.gateway.url);
    const metrics = await (await fetch(`${gw.gateway.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/aispm_gateway_spans_accepted_total\{tenant="acme"\} \d+/);
    expect(metrics).toMatch(/aispm_gateway_spans_accepted_total\{tenant="globex"\} 2/);
    expect(metrics).toMatch(/aispm_gateway_spans_ignored_total\{tenant="globex"\} 1/);
    expect(metrics).toMatch(/aispm_gateway_spans_rejected_total\{reason="invalid_utf8"\} 1/);
    expect(metrics).toMatch(/aispm_gateway_spans_rejected_total\{reason="too_large"\} 2/);
    expect(metrics).toMatch(/aispm_gateway_requests_total\{status="401"\} [1-9]/);
    expect(metrics).toMatch(/aispm_gateway_request_duration_seconds_bucket\{le="0.1",status="200"\} [1-9]/);
    expect(metrics).toMatch(/aispm_gateway_in_flight 0/);
  });
});
