import { mkdtempSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { loadConfig, silentLogger } from '@aispm/core';
import { startRuntime, type Runtime } from '@aispm/cli';
import { startGateway, type RunningGateway } from '@aispm/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';
import { CHAT_ATTRIBUTES, KEY_ACME } from './support.ts';

/**
 * /v1/logs and /v1/metrics, sent by the stock OTel JS exporters to the gateway of an
 * embedded runtime: GenAI log events land in genai_log_events under the default capture
 * policy (redacted) and join their span's event through events_with_content; GenAI
 * histogram points land in genai_metrics; everything else is accepted, counted, dropped.
 */
const dir = mkdtempSync(join(tmpdir(), 'aispm-signals-'));
const secret = `sk-proj-${'xY7'.repeat(20)}`;
let runtime: Runtime;
let gateway: RunningGateway;

beforeAll(async () => {
  const config = loadConfig({
    AISPM_DATA_DIR: dir,
    AISPM_GATEWAY_PORT: '0',
    AISPM_METRICS_PORT: '0',
    AISPM_PARTITIONS: '2',
    AISPM_GATEWAY_KEYS: `acme:${KEY_ACME}`,
    // The exporters' protobuf bodies are decoded on the worker thread, the small JSON ones on the main thread.
    AISPM_GATEWAY_OFFLOAD_BYTES: '400',
  });
  runtime = await startRuntime(config, silentLogger);
  gateway = await startGateway({ bus: runtime.bus, config, log: silentLogger });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

const headers = { authorization: `Bearer ${KEY_ACME}` };
const resource = resourceFromAttributes({ 'service.name': 'support-bot' });

async function rows<T>(sql: string): Promise<T[]> {
  return runtime.store.query<T & Record<string, unknown>>(sql, { tenant: 'acme' });
}

async function drained(): Promise<void> {
  await runtime.drain();
}

describe('gateway /v1/logs and /v1/metrics', () => {
  it('stores GenAI log events under the capture policy, joined with their span event, whichever arrives first', async () => {
    const logs = new LoggerProvider({
      resource,
      processors: [
        new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${gateway.url}/v1/logs`, headers }) }),
      ],
    });
    const spans = new BasicTracerProvider({
      resource,
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${gateway.url}/v1/traces`, headers }))],
    });
    const logger = logs.getLogger('opentelemetry.instrumentation.openai_v2', '2.1b0');
    const span = spans.getTracer('test').startSpan('chat gpt-4o', { attributes: CHAT_ATTRIBUTES });
    const context = trace.setSpan(ROOT_CONTEXT, span);
    // Before the span: the message events of the official instrumentation.
    logger.emit({
      eventName: 'gen_ai.user.message',
      attributes: { 'gen_ai.provider.name': 'openai' },
      body: { content: `mail bob.smith@example.org, my key is ${secret}` },
      context,
    });
    logger.emit({ eventName: 'gen_ai.system.message', body: { content: 'You are helpful.' }, context });
    logger.emit({ body: 'an ordinary log line', severityText: 'INFO', context });
    await logs.forceFlush();
    span.end();
    await spans.forceFlush();
    // After the span: the choice, in the older form (event.name attribute).
    logger.emit({
      attributes: { 'event.name': 'gen_ai.choice', 'gen_ai.provider.name': 'openai' },
      body: { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Done, bob.smith@example.org' } },
      context,
    });
    await logs.forceFlush();
    await logs.shutdown();
    await spans.shutdown();

    const { traceId, spanId } = span.spanContext();
    interface Joined {
      event_id: string;
      kind: string;
      event_name: string;
      role: string;
      content_policy: string;
      content: string | null;
      detected: string[];
    }
    let joined: Joined[] = [];
    await until(
      async () => {
        await drained();
        joined = await rows<Joined>(
          `SELECT event_id, kind, event_name, role, content_policy, content, detected FROM events_with_content
           WHERE tenant = {tenant:String} AND trace_id = '${traceId}' AND span_id = '${spanId}' ORDER BY log_time, event_name`,
        );
        return joined.length === 3 && joined.every((j) => j.event_id !== '');
      },
      'three GenAI log events joined with their span event',
      { timeoutMs: 30_000, context: () => JSON.stringify(joined) },
    );
    const byName = Object.fromEntries(joined.map((j) => [j.event_name, j]));
    const user = byName['gen_ai.user.message']!;
    expect(user.kind).toBe('llm_call');
    expect(user.role).toBe('user');
    expect(user.content_policy).toBe('redacted');
    expect(user.content).toContain('[EMAIL]');
    expect(user.content).toContain('[SECRET:openai_api_key]');
    expect(user.content).not.toContain('bob.smith');
    expect(user.content).not.toContain(secret);
    expect(user.detected).toEqual(expect.arrayContaining(['email', 'openai_api_key']));
    expect(byName['gen_ai.system.message']!.role).toBe('system');
    expect(byName['gen_ai.choice']!.role).toBe('assistant');
    expect(byName['gen_ai.choice']!.content).not.toContain('bob.smith');

    // The plain log line is counted and dropped.
    const text = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/aispm_gateway_signal_items_total\{signal="logs",result="dropped",reason="no_event_name"\} 1/);
    expect(text).toMatch(/aispm_gateway_signal_items_total\{signal="logs",result="stored",reason="genai"\} 3/);
    const all = await rows<{ n: string }>(
      `SELECT count() AS n FROM genai_log_events FINAL WHERE tenant = {tenant:String}`,
    );
    expect(Number(all[0]!.n)).toBe(3);
  }, 60_000);

  it('stores GenAI histogram points and drops other metrics', async () => {
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({
        url: `${gateway.url}/v1/metrics`,
        headers,
        temporalityPreference: AggregationTemporality.DELTA,
      }),
      exportIntervalMillis: 3_600_000,
    });
    const meters = new MeterProvider({ resource, readers: [reader] });
    const meter = meters.getMeter('opentelemetry.instrumentation.openai_v2');
    const tokens = meter.createHistogram('gen_ai.client.token.usage', {
      unit: '{token}',
      advice: { explicitBucketBoundaries: [1, 4, 16, 64, 256, 1024] },
    });
    const duration = meter.createHistogram('gen_ai.client.operation.duration', { unit: 's' });
    const common = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
    };
    tokens.record(42, { ...common, 'gen_ai.token.type': 'input' });
    tokens.record(100, { ...common, 'gen_ai.token.type': 'input' });
    tokens.record(7, { ...common, 'gen_ai.token.type': 'output' });
    duration.record(0.8, common);
    meter.createCounter('http.server.requests').add(3);
    await meters.forceFlush();
    await meters.shutdown();

    interface Point {
      metric: string;
      token_type: string;
      request_model: string;
      provider: string;
      app: string;
      count: string;
      sum: number;
      bounds: number[];
      bucket_counts: string[];
      temporality: string;
    }
    let points: Point[] = [];
    await until(
      async () => {
        await drained();
        points = await rows<Point>(
          `SELECT metric, token_type, request_model, provider, app, count, sum, bounds, bucket_counts, temporality
           FROM genai_metrics FINAL WHERE tenant = {tenant:String} ORDER BY metric, token_type`,
        );
        return points.length === 3;
      },
      'three GenAI histogram points',
      { timeoutMs: 30_000, context: () => JSON.stringify(points) },
    );
    const [duration0, input, output] = points;
    expect(duration0).toMatchObject({ metric: 'gen_ai.client.operation.duration', count: '1', app: 'support-bot' });
    expect(input).toMatchObject({
      metric: 'gen_ai.client.token.usage',
      token_type: 'input',
      request_model: 'gpt-4o',
      provider: 'openai',
      count: '2',
      sum: 142,
      bounds: [1, 4, 16, 64, 256, 1024],
      temporality: 'delta',
    });
    expect(input!.bucket_counts.map(Number)).toEqual([0, 0, 0, 1, 1, 0, 0]);
    expect(output).toMatchObject({ token_type: 'output', count: '1', sum: 7 });

    const text = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/aispm_gateway_signal_items_total\{signal="metrics",result="dropped",reason="not_genai"\} 1/);
    expect(text).toMatch(/aispm_gateway_offloaded_requests_total [1-9]/);
  }, 60_000);

  it('stores exponential histograms as the explicit histogram of their buckets; attribute values are identifiers', async () => {
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({
        url: `${gateway.url}/v1/metrics`,
        headers,
        temporalityPreference: AggregationTemporality.DELTA,
      }),
      exportIntervalMillis: 3_600_000,
    });
    // The SDK's exponential aggregation, as an app configures it with a view (the .NET and Python SDKs offer the same).
    const meters = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'exp-app' }),
      readers: [reader],
      views: [
        {
          instrumentName: 'gen_ai.client.operation.duration',
          aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160 } },
        },
      ],
    });
    const duration = meters.getMeter('genai').createHistogram('gen_ai.client.operation.duration', { unit: 's' });
    const values = [0.25, 0.5, 0.8, 1.6, 3.2];
    for (const value of values)
      duration.record(value, { 'gen_ai.operation.name': 'chat', 'enduser.id': 'alice@example.com' });
    await meters.forceFlush();
    await meters.shutdown();

    let points: {
      count: string;
      sum: number;
      bounds: number[];
      bucket_counts: string[];
      attributes: Record<string, string>;
    }[] = [];
    await until(
      async () => {
        await drained();
        points = await rows(
          `SELECT count, sum, bounds, bucket_counts, attributes FROM genai_metrics FINAL
           WHERE tenant = {tenant:String} AND app = 'exp-app'`,
        );
        return points.length === 1;
      },
      'the exponential histogram point',
      { timeoutMs: 30_000, context: () => JSON.stringify(points) },
    );
    const [point] = points;
    expect(point).toMatchObject({ count: String(values.length), sum: values.reduce((a, b) => a + b, 0) });
    const counts = point!.bucket_counts.map(Number);
    expect(counts.length).toBe(point!.bounds.length + 1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    // Each value counted in the explicit bucket whose bounds hold it: (bounds[k-1], bounds[k]].
    for (const value of values) {
      const k = point!.bounds.findIndex((bound) => value <= bound);
      expect(k, `bucket of ${value}`).toBeGreaterThan(0);
      expect(counts[k]!, `bucket of ${value}`).toBeGreaterThan(0);
    }
    expect(Object.values(point!.attributes).join(' ')).not.toContain('alice@example.com');
    expect(point!.attributes['enduser.id']).toMatch(/^\[EMAIL:[0-9a-f]{16}\]$/);
  }, 60_000);

  it('takes OTLP/JSON with gzip, and answers partial success, 400, 401 and 415 as for traces', async () => {
    const post = (path: string, body: Buffer | string, extra: Record<string, string> = {}): Promise<Response> =>
      fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers, ...extra },
        body,
      });
    const now = `${Date.now()}000000`;
    const request = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-app' } }] },
          scopeLogs: [
            {
              scope: { name: 'x' },
              logRecords: [
                {
                  timeUnixNano: now,
                  eventName: 'gen_ai.user.message',
                  traceId: '0af7651916cd43dd8448eb211c80319c',
                  spanId: 'b7ad6b7169203331',
                  body: { kvlistValue: { values: [{ key: 'content', value: { stringValue: 'hi' } }] } },
                },
                { timeUnixNano: now, eventName: 'gen_ai.user.message', traceId: 'not-hex', body: { stringValue: 'x' } },
              ],
            },
          ],
        },
      ],
    };
    // Sent twice (an exporter's retry): stored once.
    for (let i = 0; i < 2; i++) {
      const ok = await post('/v1/logs', gzipSync(JSON.stringify(request)), { 'content-encoding': 'gzip' });
      expect(ok.status).toBe(200);
      const answer = (await ok.json()) as { partialSuccess?: { rejectedLogRecords: string; errorMessage: string } };
      expect(answer.partialSuccess?.rejectedLogRecords).toBe('1');
      expect(answer.partialSuccess?.errorMessage).toMatch(/log record\(s\) rejected: .*traceId/);
    }
    let stored: { n: string; ids: string; content: string | null }[] = [];
    await until(
      async () => {
        await drained();
        stored = await rows(
          `SELECT count() AS n, uniqExact(log_id) AS ids, any(content) AS content FROM genai_log_events FINAL
           WHERE tenant = {tenant:String} AND trace_id = '0af7651916cd43dd8448eb211c80319c'`,
        );
        return Number(stored[0]?.n) > 0;
      },
      'the JSON log event stored',
      { timeoutMs: 30_000 },
    );
    expect(stored[0]).toMatchObject({ n: '1', ids: '1', content: '{"content":"hi"}' });

    const metrics = await post('/v1/metrics', JSON.stringify({ resourceMetrics: [] }));
    expect(metrics.status).toBe(200);
    expect(await metrics.json()).toEqual({});

    expect((await post('/v1/logs', 'not json')).status).toBe(400);
    expect((await post('/v1/metrics', '[1]')).status).toBe(400);
    const garbage = await fetch(`${gateway.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', ...headers },
      body: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]),
    });
    expect(garbage.status).toBe(400);
    expect((await post('/v1/logs', '{}', { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await post('/v1/metrics', '{}', { 'content-type': 'text/plain' })).status).toBe(415);
  }, 30_000);
});
