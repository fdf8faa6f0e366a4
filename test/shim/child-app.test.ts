import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createEventCodec } from '@aispm/core';
import { KafkaBus } from '@aispm/bus';
import { describe, expect, inject, it } from 'vitest';
import { readTopic } from '../support/read-topic.ts';

const run = promisify(execFile);

describe(`a Node app with the real openai SDK and the shim (${inject('kafkaLabel')})`, () => {
  it('produces GenAI-convention events on the Kafka topic', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `shim-child-${Date.now()}`;
    const bus = new KafkaBus({ brokers, retries: 2, log: () => undefined });
    await bus.ensureTopics([{ topic, partitions: 1 }]);
    await bus.close();
    const { stdout } = await run(process.execPath, [join(import.meta.dirname, 'fixtures', 'openai-app.ts')], {
      env: { ...process.env, KAFKA_BROKERS: brokers.join(','), AISPM_TOPIC_EVENTS: topic, AISPM_TENANT: 'acme' },
      timeout: 30_000,
    });
    const [answer, stats] = stdout.trim().split('\n');
    expect(answer).toBe('Paid in full.');
    expect(JSON.parse(stats ?? '{}')).toMatchObject({ exported: 1, dropped: 0, failed: 0, events: { published: 1 } });

    const [record] = await readTopic(brokers, topic, 1);
    const event = { key: record!.key, event: createEventCodec().decode(record!.value) };
    expect(event.key).toBe(`acme/${event.event.trace_id}`);
    expect(event.event).toMatchObject({
      tenant: 'acme',
      kind: 'llm_call',
      operation: 'chat',
      app: 'invoice-app',
      environment: 'staging',
      provider: 'openai',
      request_model: 'gpt-4o-mini',
      response_model: 'gpt-4o-mini-2024-07-18',
      destination: 'api.openai.com',
      input_tokens: 21,
      output_tokens: 4,
      status: 'ok',
      error_type: null,
      finish_reasons: ['stop'],
      content: {
        policy: 'redacted',
        prompt: 'user: Has [EMAIL] paid invoice 77?',
        completion: 'assistant: Paid in full.',
      },
    });
    expect(event.event.attributes['gen_ai.response.id']).toBe('chatcmpl-child');
  });
});
