import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace, type Attributes, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { loadConfig, silentLogger, type Config } from '@aispm/core';
import { startRuntime, type Runtime } from '@aispm/cli';
import { startGateway, type RunningGateway } from '@aispm/gateway';
import { processorMetrics } from '@aispm/processor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * Trace assembly in the embedded runtime (`aispm up`'s: durable bus, chdb, every
 * stage), fed by the real OTel SDK's OTLP exporter through the gateway. Spans are
 * exported as they end, as SDKs do: children first, the agent span last. The
 * runtime is restarted while an event waits for its agent: the wait survives.
 */
const KEY = 'acme-key-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'aispm-attribution-'));
const config: Config = loadConfig({
  AISPM_DATA_DIR: dir,
  AISPM_GATEWAY_KEYS: `acme:${KEY}`,
  AISPM_GATEWAY_PORT: '0',
  AISPM_METRICS_PORT: '0',
  // Long enough for the first runtime to stop while the orphan still waits, even on a busy machine.
  AISPM_ATTRIBUTION_WAIT_MS: '6000',
});

const recorded = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'travel-app' }),
  spanProcessors: [new SimpleSpanProcessor(recorded)],
});
const tracer = provider.getTracer('attribution-test');

let runtime: Runtime;
let gateway: RunningGateway;

async function up(): Promise<void> {
  runtime = await startRuntime(config, silentLogger);
  const registries = [
    processorMetrics({ traces: runtime.traces, agents: runtime.processor, entities: runtime.entities }),
  ];
  gateway = await startGateway({ bus: runtime.bus, config, log: silentLogger, registries });
}

async function down(): Promise<void> {
  await gateway.close();
  await runtime.close();
}

/** Exports what has ended since the last call, as a stock OTLP exporter would. */
async function flush(): Promise<void> {
  const spans: ReadableSpan[] = recorded.getFinishedSpans();
  recorded.reset();
  const exporter = new OTLPTraceExporter({
    url: `${gateway.url}/v1/traces`,
    headers: { authorization: `Bearer ${KEY}` },
  });
  const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(spans, resolve));
  expect(result.error).toBeUndefined();
  await exporter.shutdown();
}

const child = (parent: Span, name: string, attributes: Attributes): Span =>
  tracer.startSpan(name, { attributes }, trace.setSpan(context.active(), parent));

const CHAT: Attributes = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.usage.input_tokens': 120,
  'gen_ai.usage.output_tokens': 30,
};

interface Row {
  span_id: string;
  kind: string;
  agent: string;
  user: string;
  attribution: string;
  destination: string;
  entity: string;
  [key: string]: unknown;
}

const rows = (): Promise<Row[]> =>
  runtime.store.query<Row>(
    `SELECT e.span_id AS span_id, e.kind AS kind, e.agent AS agent, e.user AS user, e.attribution AS attribution,
            e.destination AS destination, s.entity AS entity
     FROM (SELECT * FROM events FINAL) AS e LEFT JOIN (SELECT * FROM anomaly_scores FINAL) AS s USING (tenant, event_id)
     ORDER BY e.time`,
  );

const spanIds = new Map<string, string>();
const idOf = (span: Span): string => span.spanContext().spanId;

beforeAll(async () => {
  await up();
  // Trace 1, an agent run: agent → step (no AI attributes) → a call reported twice (the SDK's span inside
  // the instrumentation's), and a tool; the agent span ends last.
  const agent = tracer.startSpan('invoke_agent planner', {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner', 'enduser.id': 'u-1' },
  });
  const step = child(agent, 'plan step', {});
  const call = child(step, 'chat gpt-4o', { ...CHAT, 'gen_ai.response.id': 'chatcmpl-1' });
  const sdk = child(call, 'chat', { ...CHAT, 'gen_ai.response.id': 'chatcmpl-1', 'server.address': 'api.openai.com' });
  sdk.end();
  call.end();
  const tool = child(step, 'execute_tool search', {
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': 'search',
  });
  tool.end();
  await flush();
  step.end();
  agent.end();
  await flush();
  spanIds.set('call', idOf(call)).set('sdk', idOf(sdk)).set('tool', idOf(tool)).set('agent', idOf(agent));

  // Trace 2: a call whose parent never arrives; trace 3: a call with no parent at all.
  const lost = tracer.startSpan('lost parent');
  const orphan = child(lost, 'chat gpt-4o', { ...CHAT, 'gen_ai.response.id': 'chatcmpl-2' });
  orphan.end();
  const root = tracer.startSpan('chat gpt-4o', { attributes: { ...CHAT, 'gen_ai.response.id': 'chatcmpl-3' } });
  root.end();
  spanIds.set('orphan', idOf(orphan)).set('root', idOf(root));

  // Trace 4: a child waits for its agent across a restart.
  const later = tracer.startSpan('invoke_agent booker', {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'booker' },
  });
  const waiting = child(later, 'chat gpt-4o', { ...CHAT, 'gen_ai.response.id': 'chatcmpl-4' });
  waiting.end();
  spanIds.set('waiting', idOf(waiting));
  await flush();
  // Before the restart: the agent run and the root call stored, the orphan and the restart child waiting.
  await until(
    async () => (await rows()).length === 4 && runtime.traces.stats().waiting === 2,
    'four events stored, two waiting',
    { timeoutMs: 30_000 },
  );
  await down();
  await up();
  later.end();
  await flush();
  // Seven events of eight spans reporting AI actions: the call reported twice is one.
  await until(async () => (await rows()).length === 7, 'seven events stored', { timeoutMs: 30_000 });
}, 90_000);

afterAll(async () => {
  await down();
  rmSync(dir, { recursive: true, force: true });
});

describe('trace assembly, embedded', () => {
  it('attributes the calls and tools of an agent run to its agent, merging the call reported twice', async () => {
    const byId = new Map((await rows()).map((row) => [row.span_id, row]));
    expect(byId.get(spanIds.get('agent')!)).toMatchObject({ attribution: 'own', agent: 'planner' });
    // One event for the call (kept under the span of the report that knew more), with both reports' fields.
    const reports = [spanIds.get('call')!, spanIds.get('sdk')!].filter((id) => byId.has(id));
    expect(reports).toHaveLength(1);
    expect(byId.get(reports[0]!)).toMatchObject({
      kind: 'llm_call',
      agent: 'planner',
      user: 'u-1',
      attribution: 'inherited',
      destination: 'api.openai.com',
      entity: 'acme/travel-app/planner',
    });
    expect(byId.get(spanIds.get('tool')!)).toMatchObject({
      attribution: 'inherited',
      entity: 'acme/travel-app/planner',
    });
  });

  it('scores a call whose parent never arrives after the wait, and a root call at once, with no agent', async () => {
    const byId = new Map((await rows()).map((row) => [row.span_id, row]));
    expect(byId.get(spanIds.get('orphan')!)).toMatchObject({
      attribution: 'none',
      agent: '',
      entity: 'acme/travel-app/-',
    });
    expect(byId.get(spanIds.get('root')!)).toMatchObject({ attribution: 'none', agent: '' });
  });

  it('keeps a waiting event across a restart: it inherits the agent that arrives after', async () => {
    const byId = new Map((await rows()).map((row) => [row.span_id, row]));
    expect(byId.get(spanIds.get('waiting')!)).toMatchObject({ attribution: 'inherited', agent: 'booker' });
  });

  it('counts attribution, merges and cuts in the Prometheus metrics', async () => {
    const text = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
    // Counters of this process (started after the restart): the booker run, whose agent span went straight on.
    expect(text).toMatch(/aispm_traces_events_total\{attribution="inherited"\} 1\b/);
    expect(text).toMatch(/aispm_traces_events_total\{attribution="own"\} 0\b/);
    expect(text).toMatch(/aispm_traces_waiting_events 0\b/);
    // The orphan, restored after the restart, left when its wait ran out.
    expect(text).toMatch(/aispm_traces_cut_total\{reason="timeout"\} 1\b/);
    expect(text).toContain('aispm_traces_merged_total');
  });
});
