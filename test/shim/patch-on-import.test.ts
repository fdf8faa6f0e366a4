import { createRequire } from 'node:module';
import type OpenAI from 'openai';
import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { anthropicMessage, chatCompletion, fakeApi } from './fake-api.ts';
import { recordingShim } from './support.ts';

const require = createRequire(import.meta.url);

describe('patch on import (CommonJS require)', () => {
  it('instruments clients of SDK classes loaded after register(), once, and stops at shutdown', async () => {
    const { shim, memory } = recordingShim({ service: 'cjs-app' });
    const { OpenAI: OpenAICjs } = require('openai') as { OpenAI: typeof OpenAI };
    const { Anthropic: AnthropicCjs } = require('@anthropic-ai/sdk') as { Anthropic: typeof Anthropic };
    const openai = new OpenAICjs({ apiKey: 'sk-x', fetch: fakeApi({ json: chatCompletion }).fetch });
    const anthropic = new AnthropicCjs({ apiKey: 'sk-x', fetch: fakeApi({ json: anthropicMessage }).fetch });
    // Patched on the prototype: the client has no wrapper of its own, and instrument() adds none (no second span).
    shim.instrument(openai);
    expect(Object.getOwnPropertyNames(openai.chat.completions)).not.toContain('create');
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [] });
    const spans = memory.getFinishedSpans();
    expect(spans.map((s) => [s.instrumentationScope.name, s.name])).toEqual([
      ['@aispm/shim', 'chat gpt-4o'],
      ['@aispm/shim', 'chat claude-sonnet-4-5'],
    ]);
    expect(spans[0]?.attributes['gen_ai.response.id']).toBe('chatcmpl-abc123');
    expect(spans[1]?.attributes['gen_ai.response.id']).toBe('msg_01');
    await shim.shutdown();
    // Unpatched at shutdown: the prototype method is the SDK's own again.
    const proto = Object.getPrototypeOf(openai.chat.completions) as Record<symbol, unknown>;
    expect(proto[Symbol.for('aispm.shim.wrapped')]).toBeUndefined();
    expect(
      (openai.chat.completions.create as unknown as Record<symbol, unknown>)[Symbol.for('aispm.shim.wrapped')],
    ).toBeUndefined();
  });
});
