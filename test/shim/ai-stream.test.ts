import { createOpenAI } from '@ai-sdk/openai';
import { stepCountIs, streamText, tool } from 'ai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatChunks, fakeApi } from './fake-api.ts';
import { recordingShim } from './support.ts';

const EMAIL = 'dave.secret@example.com';

/** A streamed answer that asks for one tool call, in OpenAI's chunk format. */
const toolCallChunks = [
  {
    id: 'chatcmpl-st',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [
      {
        index: 0,
        delta: {
          role: 'assistant',
          tool_calls: [
            { index: 0, id: 'call_s', type: 'function', function: { name: 'lookup', arguments: `{"who":"${EMAIL}"}` } },
          ],
        },
        finish_reason: null,
      },
    ],
  },
  {
    id: 'chatcmpl-st',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }],
  },
  {
    id: 'chatcmpl-st',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [],
    usage: { prompt_tokens: 40, completion_tokens: 7, total_tokens: 47 },
  },
];

describe('ai SDK streaming', () => {
  it('maps streamText with a tool to an agent span, two chat spans and an execute_tool span, content redacted', async () => {
    const { shim, memory } = recordingShim({ service: 'ai-stream-app', tools: { lookup: 'read' } });
    const openai = createOpenAI({ apiKey: 'sk-x', fetch: fakeApi({ sse: toolCallChunks }, { sse: chatChunks }).fetch });
    const result = streamText({
      model: openai.chat('gpt-4o-mini'),
      prompt: `who is ${EMAIL}?`,
      tools: {
        lookup: tool({
          inputSchema: z.object({ who: z.string() }),
          execute: ({ who }) => Promise.resolve(`${who} is a customer`),
        }),
      },
      stopWhen: stepCountIs(2),
      experimental_telemetry: shim.aiTelemetry({ agent: 'concierge' }),
    });
    expect(await result.text).toBe('Hello');
    await shim.forceFlush();
    const spans = memory.getFinishedSpans();
    await shim.shutdown();
    const chats = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    const toolSpan = spans.find((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
    const top = spans.find((s) => s.name === 'ai.streamText');
    expect(top?.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'concierge',
    });
    expect(chats).toHaveLength(2);
    expect(chats.map((s) => s.attributes['gen_ai.usage.input_tokens'])).toEqual([40, 12]);
    expect(chats.map((s) => s.attributes['gen_ai.usage.output_tokens'])).toEqual([7, 2]);
    expect(toolSpan?.attributes).toMatchObject({
      'gen_ai.tool.name': 'lookup',
      'gen_ai.tool.call.id': 'call_s',
      'aispm.tool.risk': 'read',
    });
    for (const span of spans) expect(JSON.stringify(span.attributes)).not.toContain(EMAIL);
  });
});
