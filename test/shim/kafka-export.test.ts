import { createEventCodec } from '@aispm/core';
import { KafkaBus } from '@aispm/bus';
import OpenAI from 'openai';
import { describe, expect, inject, it } from 'vitest';
import { register } from '@aispm/shim';
import { readTopic } from '../support/read-topic.ts';
import { chatCompletion, fakeApi } from './fake-api.ts';

describe(`shim → Kafka (${inject('kafkaLabel')})`, () => {
  it('publishes GenAI-convention events from the real openai SDK, keyed tenant/app/agent, with content redacted', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `shim-events-${Date.now()}`;
    const attributed = `${topic}-attributed`;
    const bus = new KafkaBus({ brokers, retries: 2, log: () => undefined });
    await bus.ensureTopics([
      { topic, partitions: 2 },
      { topic: attributed, partitions: 2 },
    ]);
    await bus.close();
    const shim = register({
      service: 'billing-bot',
      tenant: 'acme',
      environment: 'prod',
      exporter: { kind: 'kafka', brokers, topic, attributedTopic: attributed },
      identity: 'svc-billing',
      scopes: ['invoices:read'],
      queue: { delayMs: 50 },
      warn: () => undefined,
    });
    const client = shim.instrument(new OpenAI({ apiKey: 'sk-x', fetch: fakeApi({ json: chatCompletion }).fetch }));
    await shim.withAgent({ name: 'collector' }, () =>
      client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'mail bob@example.com' }],
      }),
    );
    await shim.shutdown();
    expect(shim.stats()).toMatchObject({ exported: 2, dropped: 0, failed: 0, events: { published: 2, rejected: 0 } });

    const codec = createEventCodec();
    // Spans that name their agent go straight to the attributed topic, keyed by it, as the gateway sends them.
    const received = (await readTopic(brokers, attributed, 2)).map((r) => ({
      key: r.key,
      event: codec.decode(r.value),
    }));
    const llm = received.find((r) => r.event.kind === 'llm_call');
    expect(llm?.key).toBe('acme/billing-bot/collector');
    expect(llm?.event.attribution).toBe('own');
    expect(llm?.event).toMatchObject({
      tenant: 'acme',
      app: 'billing-bot',
      environment: 'prod',
      agent: 'collector',
      identity: 'svc-billing',
      scopes: ['invoices:read'],
      operation: 'chat',
      provider: 'openai',
      request_model: 'gpt-4o',
      response_model: 'gpt-4o-2024-08-06',
      destination: 'api.openai.com',
      input_tokens: 31,
      output_tokens: 9,
      status: 'ok',
      finish_reasons: ['stop'],
      content: {
        policy: 'redacted',
        prompt: 'user: mail [EMAIL]',
        completion: 'assistant: Your invoice total is $42.',
      },
    });
    expect(llm?.event.attributes['gen_ai.response.id']).toBe('chatcmpl-abc123');
    expect(received.find((r) => r.event.kind === 'agent_action')?.event.operation).toBe('invoke_agent');
  });

  it('never blocks the app when the broker is unreachable: calls return promptly, overflow is dropped and counted', async () => {
    const warnings: string[] = [];
    const shim = register({
      service: 'app',
      exporter: { kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 'nowhere' },
      queue: { maxSpans: 10, batchSize: 5, delayMs: 10, warnIntervalMs: 60_000 },
      shutdownTimeoutMs: 500,
      warn: (m) => warnings.push(m),
    });
    const client = shim.instrument(new OpenAI({ apiKey: 'sk-x', fetch: fakeApi({ json: chatCompletion }).fetch }));
    const started = performance.now();
    for (let i = 0; i < 200; i++) await client.chat.completions.create({ model: 'gpt-4o', messages: [] });
    const elapsedMs = performance.now() - started;
    expect(elapsedMs).toBeLessThan(2000);
    const stats = shim.stats();
    expect(stats.dropped).toBeGreaterThanOrEqual(200 - 10 - 5);
    expect(stats.exported).toBe(0);
    expect(warnings.filter((w) => w.includes('span queue is full'))).toHaveLength(1);
    const stopping = performance.now();
    await shim.shutdown();
    expect(performance.now() - stopping).toBeLessThan(1500);
  });
});
