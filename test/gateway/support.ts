import { createHash, randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  createEventCodec,
  loadConfig,
  RECORD_HEADER,
  silentLogger,
  SPAN_LINK_RECORD,
  type AiEvent,
  type Config,
} from '@aispm/core';
import { KafkaBus, type Subscription } from '@aispm/bus';
import { startGateway, type RunningGateway } from '@aispm/gateway';
import { KafkaChangelog, TraceStage } from '@aispm/processor';
import { until } from '../support/until.ts';

export const KEY_ACME = 'acme-key-0123456789abcdef';
export const KEY_GLOBEX = 'globex-key-0123456789abcdef';

export interface TestGateway {
  gateway: RunningGateway;
  bus: KafkaBus;
  config: Config;
  /** Events read back off the events topic so far; with `assemble`, off the attributed topic (after trace assembly). */
  events: AiEvent[];
  waitForEvents(predicate: (events: AiEvent[]) => boolean, what: string, timeoutMs?: number): Promise<AiEvent[]>;
  /** The traces stage, with `assemble`. */
  traces: TraceStage | null;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Run the processor's traces stage behind the gateway and read its output (attributed, merged events) instead. */
  assemble?: boolean;
}

/** A gateway on loopback (port 0) in front of a real broker, with a consumer reading its topic back. */
export async function startTestGateway(
  brokers: string[],
  env: Record<string, string> = {},
  options: TestGatewayOptions = {},
): Promise<TestGateway> {
  const run = randomUUID().slice(0, 8);
  const config = loadConfig({
    AISPM_MODE: 'distributed',
    KAFKA_BROKERS: brokers.join(','),
    AISPM_TOPIC_EVENTS: `gw.events.${run}`,
    AISPM_TOPIC_ATTRIBUTED: `gw.attributed.${run}`,
    AISPM_TOPIC_TRACE_STATE: `gw.trace-state.${run}`,
    AISPM_TOPIC_DEAD_LETTER: `gw.dlq.${run}`,
    AISPM_PARTITIONS: '3',
    AISPM_GATEWAY_PORT: '0',
    AISPM_METRICS_PORT: '0',
    AISPM_GATEWAY_KEYS: `acme:${KEY_ACME}\nglobex:sha256:${sha256Hex(KEY_GLOBEX)}`,
    ...env,
  });
  const bus = new KafkaBus({ brokers, log: () => undefined });
  const gateway = await startGateway({ bus, config, log: silentLogger });
  const traces = options.assemble ? await startTraceStage(bus, config) : null;
  const codec = createEventCodec();
  const events: AiEvent[] = [];
  const reader = new KafkaBus({ brokers, log: () => undefined, consumer: { maxWaitTimeMs: 100 } });
  // Without trace assembly: the gateway's own output, the events for it (events topic, span links
  // left out) and the events attributed from their span alone (attributed topic); with it, its output.
  const topics = options.assemble ? [config.topics.attributed] : [config.topics.events, config.topics.attributed];
  const subscriptions: Subscription[] = [];
  for (const topic of topics)
    subscriptions.push(
      await reader.subscribe({
        topic,
        group: `gw-reader-${run}-${topic}`,
        handler: (batch) => {
          for (const record of batch.records)
            if (record.headers[RECORD_HEADER] !== SPAN_LINK_RECORD) events.push(codec.decode(record.value));
          return Promise.resolve();
        },
      }),
    );
  return {
    gateway,
    bus,
    config,
    events,
    traces,
    async waitForEvents(predicate, what, timeoutMs = 30_000) {
      await until(() => predicate(events), what, { timeoutMs, context: () => `have ${events.length} events` });
      return events;
    },
    async close() {
      for (const subscription of subscriptions) await subscription.stop();
      await reader.close();
      await gateway.close();
      await traces?.stop();
      await bus.close();
    },
  };
}

/** The processor's traces stage on the test broker, as `aispm up` runs it in distributed mode. */
async function startTraceStage(bus: KafkaBus, config: Config): Promise<TraceStage> {
  const { topics } = config;
  await bus.ensureTopics([
    { topic: topics.attributed, partitions: config.partitions },
    { topic: topics.traceState, partitions: config.partitions, compacted: true },
    { topic: topics.deadLetter, partitions: 1 },
  ]);
  const state = new KafkaChangelog({
    bus,
    brokers: config.kafka.brokers,
    topic: topics.traceState,
    eventsTopic: topics.events,
  });
  const traces = new TraceStage({
    bus,
    topics,
    state,
    group: `gw-traces-${topics.events}`,
    ...config.processor.attribution,
    maxBatchSize: config.processor.maxBatchSize,
    concurrency: config.processor.concurrency,
    tickMs: 250,
  });
  await traces.start();
  return traces;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Finished spans recorded by the real OTel SDK. */
export function recordSpans(
  build: (tracer: ReturnType<BasicTracerProvider['getTracer']>) => void,
  resource: Attributes = { 'service.name': 'support-bot', 'deployment.environment.name': 'prod' },
): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  build(provider.getTracer('aispm-gateway-test', '1.0.0'));
  return memory.getFinishedSpans();
}

export const CHAT_ATTRIBUTES: Attributes = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.response.model': 'gpt-4o-2024-08-06',
  'gen_ai.usage.input_tokens': 42,
  'gen_ai.usage.output_tokens': 7,
  'gen_ai.agent.name': 'support-agent',
  'gen_ai.conversation.id': 'conv-1',
  'server.address': 'api.openai.com',
  'enduser.id': 'user-7',
  'gen_ai.input.messages': JSON.stringify([
    { role: 'user', parts: [{ type: 'text', content: 'My email is jane.doe@example.com, reset my password' }] },
  ]),
};

export const TOOL_ATTRIBUTES: Attributes = {
  'gen_ai.operation.name': 'execute_tool',
  'gen_ai.tool.name': 'send_email',
  'gen_ai.tool.call.id': 'call-1',
  'gen_ai.agent.name': 'support-agent',
  'aispm.tool.risk': 'write',
  'aispm.identity': 'svc-support',
};

/** A chat span, a tool span in its trace, and a plain HTTP span the gateway must ignore. */
export function conversationSpans(): ReadableSpan[] {
  return recordSpans((tracer) => {
    const chat = tracer.startSpan('chat gpt-4o', { attributes: CHAT_ATTRIBUTES });
    tracer
      .startSpan('execute_tool send_email', { attributes: TOOL_ATTRIBUTES }, trace.setSpan(ROOT_CONTEXT, chat))
      .end();
    chat.setStatus({ code: SpanStatusCode.OK });
    chat.end();
    tracer.startSpan('GET /health', { attributes: { 'http.request.method': 'GET' } }).end();
  });
}
