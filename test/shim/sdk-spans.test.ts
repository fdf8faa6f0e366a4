import Anthropic from '@anthropic-ai/sdk';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { register, type RegisterOptions, type Shim } from '@aispm/shim';
import {
  anthropicEvents,
  anthropicMessage,
  chatChunks,
  chatCompletion,
  fakeApi,
  rateLimited,
  toolCallCompletion,
  type Reply,
} from './fake-api.ts';

let shim: Shim | undefined;
afterEach(async () => {
  await shim?.shutdown();
  shim = undefined;
});

function setup(options: Partial<RegisterOptions> = {}) {
  const memory = new InMemorySpanExporter();
  shim = register({
    service: 'billing-bot',
    tenant: 'acme',
    environment: 'test',
    exporter: { kind: 'custom', exporter: memory },
    identity: 'svc-billing',
    scopes: ['invoices:read'],
    warn: () => undefined,
    ...options,
  });
  const spans = async (): Promise<ReadableSpan[]> => {
    await shim?.forceFlush();
    return memory.getFinishedSpans();
  };
  return { shim, spans };
}

const openai = (shim: Shim, ...replies: Reply[]) => {
  const api = fakeApi(...replies);
  return { client: shim.instrument(new OpenAI({ apiKey: 'sk-test', fetch: api.fetch, maxRetries: 0 })), api };
};

describe('openai', () => {
  it('records a chat completion by the GenAI conventions, with redacted content by default', async () => {
    const { shim, spans } = setup();
    const { client } = openai(shim, { json: chatCompletion });
    const answer = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'What does bob@example.com owe? key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789' },
      ],
    });
    expect(answer.choices[0]?.message.content).toBe('Your invoice total is $42.');
    const [span] = await spans();
    expect(span?.name).toBe('chat gpt-4o');
    expect(span?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-abc123',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 31,
      'gen_ai.usage.output_tokens': 9,
      'gen_ai.usage.cache_read.input_tokens': 16,
      'gen_ai.usage.reasoning.output_tokens': 3,
      'server.address': 'api.openai.com',
      'server.port': 443,
      'aispm.identity': 'svc-billing',
      'aispm.scopes': ['invoices:read'],
      'aispm.capture.policy': 'redacted',
    });
    const input = String(span?.attributes['gen_ai.input.messages']);
    expect(input).not.toContain('bob@example.com');
    expect(input).not.toContain('sk-proj-abcdefghijklmnopqrstuvwxyz0123456789');
    expect(JSON.parse(input)).toEqual([
      { role: 'user', parts: [{ type: 'text', content: expect.stringContaining('[EMAIL]') as string }] },
    ]);
    expect(JSON.parse(String(span?.attributes['gen_ai.output.messages']))).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: 'Your invoice total is $42.' }], finish_reason: 'stop' },
    ]);
  });

  it('records tool calls the model asks for, and a streamed completion once the stream ends', async () => {
    const { shim, spans } = setup({ capture: { policy: 'full' } });
    const { client } = openai(shim, { json: toolCallCompletion }, { sse: chatChunks });
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'bill bob' }] });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello');
    const [tool, streamed] = await spans();
    expect(tool?.attributes['gen_ai.response.finish_reasons']).toEqual(['tool_calls']);
    expect(JSON.parse(String(tool?.attributes['gen_ai.output.messages']))).toEqual([
      {
        role: 'assistant',
        parts: [
          { type: 'tool_call', id: 'call_1', name: 'lookup_invoice', arguments: { customer: 'bob@example.com' } },
        ],
        finish_reason: 'tool_calls',
      },
    ]);
    expect(streamed?.attributes).toMatchObject({
      'gen_ai.response.id': 'chatcmpl-s1',
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 2,
      'aispm.capture.policy': 'full',
    });
    expect(String(streamed?.attributes['gen_ai.output.messages'])).toContain('"content":"Hello"');
  });

  it('marks a rate-limited call failed with error.type 429 and rethrows the SDK error', async () => {
    const { shim, spans } = setup();
    const { client } = openai(shim, rateLimited);
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
    const [span] = await spans();
    expect(span?.attributes['error.type']).toBe('429');
    expect(span?.status.code).toBe(2);
  });

  it('records responses.create, with hashed content under the hash policy', async () => {
    const { shim, spans } = setup({ capture: { policy: 'hash', hmacKey: 'a-test-key-of-16+chars' } });
    const response = {
      id: 'resp_1',
      object: 'response',
      model: 'gpt-5',
      status: 'completed',
      output: [
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'done', annotations: [] }] },
      ],
      usage: {
        input_tokens: 7,
        output_tokens: 2,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 1 },
      },
    };
    const { client } = openai(shim, { json: response });
    const out = await client.responses.create({ model: 'gpt-5', input: 'secret plan for alice@example.com' });
    expect(out.id).toBe('resp_1');
    const [span] = await spans();
    expect(span?.attributes).toMatchObject({
      'gen_ai.response.id': 'resp_1',
      'gen_ai.usage.input_tokens': 7,
      'gen_ai.usage.reasoning.output_tokens': 1,
      'gen_ai.response.finish_reasons': ['stop'],
      'aispm.capture.policy': 'hash',
    });
    expect(span?.attributes['gen_ai.input.messages']).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('openai responses streaming', () => {
  it('reads the terminal response.completed event of a streamed response', async () => {
    const { shim, spans } = setup({ capture: { policy: 'full' } });
    const completed = {
      id: 'resp_s',
      object: 'response',
      model: 'gpt-5-mini',
      status: 'completed',
      output: [{ type: 'function_call', call_id: 'call_z', name: 'refund', arguments: '{"amount":5}' }],
      usage: { input_tokens: 9, output_tokens: 3, output_tokens_details: { reasoning_tokens: 2 } },
    };
    const events = [
      { type: 'response.created', sequence_number: 0, response: { ...completed, status: 'in_progress', output: [] } },
      { type: 'response.completed', sequence_number: 1, response: completed },
    ];
    const { client } = openai(shim, { sse: events, named: true });
    const stream = await client.responses.create({ model: 'gpt-5-mini', input: 'refund order 5', stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toEqual(['response.created', 'response.completed']);
    const [span] = await spans();
    expect(span?.attributes).toMatchObject({
      'gen_ai.response.id': 'resp_s',
      'gen_ai.response.model': 'gpt-5-mini',
      'gen_ai.response.finish_reasons': ['tool_calls'],
      'gen_ai.usage.input_tokens': 9,
      'gen_ai.usage.output_tokens': 3,
      'gen_ai.usage.reasoning.output_tokens': 2,
    });
    expect(JSON.parse(String(span?.attributes['gen_ai.output.messages']))).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'tool_call', id: 'call_z', name: 'refund', arguments: { amount: 5 } }],
        finish_reason: 'tool_calls',
      },
    ]);
  });
});

describe('anthropic', () => {
  const anthropic = (shim: Shim, ...replies: Reply[]) =>
    shim.instrument(new Anthropic({ apiKey: 'sk-ant-test', fetch: fakeApi(...replies).fetch, maxRetries: 0 }));

  it('records messages.create with tool use and cache tokens', async () => {
    const { shim, spans } = setup({ capture: { policy: 'none' } });
    const client = anthropic(shim, { json: anthropicMessage });
    await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'weather?' }],
    });
    const all = await spans();
    // One span per call: the SDK's own tracing is switched off for an instrumented client.
    expect(all.map((s) => s.instrumentationScope.name)).toEqual(['@aispm/shim']);
    const [span] = all;
    expect(span?.attributes).toMatchObject({
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
      'gen_ai.response.id': 'msg_01',
      'gen_ai.response.finish_reasons': ['tool_use'],
      'gen_ai.usage.input_tokens': 125,
      'gen_ai.usage.output_tokens': 15,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'gen_ai.usage.cache_creation.input_tokens': 5,
      'server.address': 'api.anthropic.com',
    });
    // none: no content attribute at all.
    expect(span?.attributes['gen_ai.input.messages']).toBeUndefined();
    expect(span?.attributes['gen_ai.output.messages']).toBeUndefined();
  });

  it('records a streamed message', async () => {
    const { shim, spans } = setup({ capture: { policy: 'full' } });
    const client = anthropic(shim, { sse: anthropicEvents, named: true });
    const stream = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: 'salut' }],
    });
    for await (const event of stream) void event;
    const [span] = await spans();
    expect(span?.attributes).toMatchObject({
      'gen_ai.response.id': 'msg_02',
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 4,
    });
    expect(String(span?.attributes['gen_ai.output.messages'])).toContain('Bonjour');
  });
});

describe('helpers for home-grown agents', () => {
  it('nests LLM and tool spans under the agent, which they name, with the declared tool risk', async () => {
    const { shim, spans } = setup({ tools: { send_email: 'egress' }, capture: { policy: 'full' } });
    const result = await shim.withAgent(
      { name: 'mailer', id: 'agent-7', conversationId: 'conv-1', identity: 'svc-mail' },
      async () => {
        await shim.withLLMCall({ provider: 'openai', model: 'gpt-4o', input: 'draft it' }, async (call) => {
          await Promise.resolve();
          call.record({ id: 'r1', inputTokens: 5, outputTokens: 6, finishReasons: ['stop'], output: 'Dear Bob' });
        });
        return shim.withTool({ name: 'send_email', id: 'call_9', arguments: { to: 'bob' } }, () =>
          Promise.resolve({ sent: true }),
        );
      },
    );
    expect(result).toEqual({ sent: true });
    const all = await spans();
    const agent = all.find((s) => s.name === 'invoke_agent mailer');
    const llm = all.find((s) => s.name === 'chat gpt-4o');
    const tool = all.find((s) => s.name === 'execute_tool send_email');
    expect(agent?.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'mailer',
      'gen_ai.agent.id': 'agent-7',
    });
    expect(llm?.parentSpanContext?.spanId).toBe(agent?.spanContext().spanId);
    expect(tool?.parentSpanContext?.spanId).toBe(agent?.spanContext().spanId);
    expect(llm?.attributes).toMatchObject({
      'gen_ai.agent.name': 'mailer',
      'gen_ai.conversation.id': 'conv-1',
      'aispm.identity': 'svc-mail',
      'gen_ai.usage.output_tokens': 6,
    });
    expect(tool?.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'send_email',
      'gen_ai.tool.call.id': 'call_9',
      'gen_ai.tool.type': 'function',
      'aispm.tool.risk': 'egress',
      'gen_ai.tool.call.arguments': '{"to":"bob"}',
      'gen_ai.tool.call.result': '{"sent":true}',
    });
  });

  it('marks a failing tool and rethrows', async () => {
    const { shim, spans } = setup();
    expect(() =>
      shim.withTool({ name: 'rm' }, () => {
        throw new TypeError('nope');
      }),
    ).toThrow('nope');
    const [span] = await spans();
    expect(span?.attributes).toMatchObject({ 'error.type': 'TypeError', 'aispm.tool.risk': 'unknown' });
  });
});
