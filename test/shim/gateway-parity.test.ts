import { createEventCodec, type AiEvent } from '@aispm/core';
import { KafkaBus } from '@aispm/bus';
import { register, type Shim } from '@aispm/shim';
import OpenAI from 'openai';
import { describe, expect, inject, it } from 'vitest';
import { KEY_ACME, startTestGateway } from '../gateway/support.ts';
import { readTopic } from '../support/read-topic.ts';
import { chatCompletion, fakeApi, toolCallCompletion } from './fake-api.ts';

/**
 * Issue 3's promise: the same app produces the same events whether the shim
 * writes to Kafka itself or a stock OTLP exporter sends its spans to the gateway.
 */
const brokers = inject('kafkaBrokers');

/** The app: an agent that asks the model, which asks for a tool, then answers. */
async function runApp(shim: Shim): Promise<void> {
  const client = shim.instrument(
    new OpenAI({ apiKey: 'sk-x', fetch: fakeApi({ json: toolCallCompletion }, { json: chatCompletion }).fetch }),
  );
  await shim.withAgent({ name: 'collector', id: 'agent-7' }, async () => {
    await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'mail bob@example.com' }],
    });
    await shim.withTool({ name: 'send_email', risk: 'egress' }, () => Promise.resolve('sent'));
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'done?' }] });
  });
  await shim.shutdown();
}

const codec = createEventCodec();

async function readEvents(topic: string, count: number): Promise<AiEvent[]> {
  return (await readTopic(brokers, topic, count)).map((r) => codec.decode(r.value));
}

/** What must agree: everything but the ids and clock readings that differ between two runs. */
function comparable(events: AiEvent[]): unknown[] {
  return events
    .map(({ event_id, trace_id, span_id, parent_span_id, time, latency_ms, attributes, ...rest }) => {
      void [event_id, trace_id, span_id, time, latency_ms];
      const kept = Object.fromEntries(Object.entries(attributes).filter(([name]) => name !== 'otel.scope.name'));
      return { ...rest, attributes: kept, nested: parent_span_id !== null };
    })
    .sort((a, b) =>
      `${a.kind}${a.tool_name}${a.input_tokens}`.localeCompare(`${b.kind}${b.tool_name}${b.input_tokens}`),
    );
}

describe(`shim → Kafka and shim → OTLP → gateway give the same events (${inject('kafkaLabel')})`, () => {
  it('maps one app run to identical events on both paths', async () => {
    const direct = `parity-direct-${Date.now()}`;
    const attributed = `${direct}-attributed`;
    const admin = new KafkaBus({ brokers, log: () => undefined });
    await admin.ensureTopics([
      { topic: direct, partitions: 2 },
      { topic: attributed, partitions: 2 },
    ]);
    await admin.close();
    const common = {
      service: 'billing-bot',
      tenant: 'acme',
      environment: 'prod',
      identity: 'svc-billing',
      warn: () => undefined,
    };
    await runApp(
      register({ ...common, exporter: { kind: 'kafka', brokers, topic: direct, attributedTopic: attributed } }),
    );
    // Every span of the run names its agent: all four go straight to the attributed topic, as from the gateway.
    const viaKafka = await readEvents(attributed, 4);

    const gateway = await startTestGateway(brokers);
    try {
      await runApp(
        register({
          ...common,
          exporter: {
            kind: 'otlp',
            url: `${gateway.gateway.url}/v1/traces`,
            headers: { authorization: `Bearer ${KEY_ACME}` },
          },
        }),
      );
      const viaGateway = await gateway.waitForEvents((events) => events.length >= 4, 'four events via the gateway');
      expect(viaKafka).toHaveLength(4);
      expect(comparable(viaGateway)).toEqual(comparable(viaKafka));
      expect(viaKafka.map((e) => e.kind).sort()).toEqual(['agent_action', 'llm_call', 'llm_call', 'tool_call']);
      expect(viaKafka.find((e) => e.kind === 'llm_call')?.content.prompt).not.toContain('bob@example.com');
    } finally {
      await gateway.close();
    }
  });
});
