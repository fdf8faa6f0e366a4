import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAI } from '@ai-sdk/openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { generateText, stepCountIs, tool } from 'ai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fromReadableSpan, spanToEvent } from '@aispm/core';
import { register } from '@aispm/shim';
import { chatCompletion, fakeApi, toolCallCompletionFor } from './fake-api.ts';
import { recordingShim } from './support.ts';

const EMAIL = 'carol.secret@example.com';
const TOKEN = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

/** A local OTLP/HTTP receiver standing in for a third-party backend: it keeps the raw request bodies. */
async function otlpReceiver() {
  const bodies: Buffer[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('capture policy before export', () => {
  it.each(['redacted', 'hash', 'none'] as const)(
    'an OTLP exporter never receives raw prompt or secret under %s',
    async (policy) => {
      const receiver = await otlpReceiver();
      const shim = register({
        service: 'otlp-app',
        exporter: { kind: 'otlp', url: receiver.url },
        capture: { policy, hmacKey: 'a-test-key-of-16+chars' },
        queue: { delayMs: 10 },
        warn: () => undefined,
      });
      const client = shim.instrument(new OpenAI({ apiKey: 'sk-x', fetch: fakeApi({ json: chatCompletion }).fetch }));
      await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: `email ${EMAIL} the token ${TOKEN}` }],
      });
      shim.withTool({ name: 'notify', arguments: { to: EMAIL, auth: TOKEN } }, () => 'ok');
      await shim.shutdown();
      await receiver.close();
      expect(shim.stats()).toMatchObject({ exported: 2, dropped: 0, failed: 0 });
      const wire = Buffer.concat(receiver.bodies).toString('latin1');
      expect(wire).toContain('gen_ai.request.model');
      expect(wire).not.toContain(EMAIL);
      expect(wire).not.toContain(TOKEN);
      if (policy === 'redacted') expect(wire).toContain('[EMAIL]');
      if (policy === 'none') expect(wire).not.toContain('gen_ai.input.messages');
    },
  );
});

describe('MCP client tool calls', () => {
  it('records Client.callTool as execute_tool with the declared risk, arguments and result', async () => {
    const { shim, memory } = recordingShim({
      service: 'mcp-app',
      tools: { run_query: 'privileged' },
      capture: { policy: 'full' },
    });
    const server = new McpServer({ name: 'warehouse', version: '1.0.0' });
    server.registerTool('run_query', { inputSchema: { sql: z.string() } }, ({ sql }) => ({
      content: [{ type: 'text', text: `rows for ${sql}` }],
    }));
    server.registerTool('broken', {}, () => ({ content: [{ type: 'text', text: 'failed' }], isError: true }));
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = shim.instrument(new Client({ name: 'agent', version: '1.0.0' }));
    await client.connect(clientSide);
    const result = await client.callTool({ name: 'run_query', arguments: { sql: 'select 1' } });
    expect(result.content).toEqual([{ type: 'text', text: 'rows for select 1' }]);
    await client.callTool({ name: 'broken', arguments: {} });
    await client.close();
    // Read before shutdown: shutting an InMemorySpanExporter down empties it.
    const [query, broken] = memory.getFinishedSpans();
    await shim.shutdown();
    expect(query?.name).toBe('execute_tool run_query');
    expect(query?.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'run_query',
      'gen_ai.tool.type': 'extension',
      'aispm.tool.risk': 'privileged',
      'gen_ai.tool.call.arguments': '{"sql":"select 1"}',
      'gen_ai.tool.call.result': '[{"type":"text","text":"rows for select 1"}]',
    });
    expect(broken?.attributes).toMatchObject({ 'error.type': 'tool_error', 'aispm.tool.risk': 'unknown' });
    expect(broken?.status.code).toBe(2);
  });
});

describe('ai SDK', () => {
  it('maps generateText spans with a tool to GenAI chat and execute_tool spans, content under the policy', async () => {
    const { shim, memory } = recordingShim({ service: 'ai-app', tools: { weather: 'read' } });
    const api = fakeApi(
      { json: toolCallCompletionFor('weather', `{"city":"${EMAIL}"}`, 'call_w') },
      { json: chatCompletion },
    );
    const openai = createOpenAI({ apiKey: 'sk-x', fetch: api.fetch });
    const result = await generateText({
      model: openai.chat('gpt-4o'),
      prompt: `weather for ${EMAIL}?`,
      tools: {
        weather: tool({
          inputSchema: z.object({ city: z.string() }),
          execute: ({ city }) => Promise.resolve(`sunny in ${city}`),
        }),
      },
      stopWhen: stepCountIs(2),
      experimental_telemetry: shim.aiTelemetry({ agent: 'forecaster' }),
    });
    expect(result.text).toBe('Your invoice total is $42.');
    const spans = memory.getFinishedSpans();
    await shim.shutdown();
    const calls = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    const toolSpan = spans.find((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
    const top = spans.find((s) => s.name === 'ai.generateText');
    expect(calls).toHaveLength(2);
    expect(calls[0]?.attributes).toMatchObject({
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 31,
      'gen_ai.usage.output_tokens': 9,
      'gen_ai.agent.name': 'forecaster',
    });
    expect(toolSpan?.attributes).toMatchObject({
      'gen_ai.tool.name': 'weather',
      'gen_ai.tool.call.id': 'call_w',
      'aispm.tool.risk': 'read',
      'gen_ai.agent.name': 'forecaster',
    });
    expect(top?.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'forecaster',
    });
    // Nothing the ai SDK recorded carries the raw address: content is redacted, raw ai.* content keys dropped.
    for (const span of spans) {
      expect(JSON.stringify(span.attributes)).not.toContain(EMAIL);
      expect(
        Object.keys(span.attributes).filter((k) =>
          /^ai\.(prompt(\.messages)?|response\.text|toolCall\.(args|result))$/.test(k),
        ),
      ).toEqual([]);
    }
    expect(String(toolSpan?.attributes['gen_ai.tool.call.result'])).toContain('[EMAIL]');
    // Core maps the mapped spans to complete events, as the Kafka exporter and the gateway do.
    const capture = { policy: 'full' as const, hmacKey: null, maxContentBytes: 8192 };
    const toolEvent = toolSpan && spanToEvent(fromReadableSpan(toolSpan), { tenant: 't', capture });
    expect(toolEvent && 'event' in toolEvent ? toolEvent.event : toolEvent).toMatchObject({
      kind: 'tool_call',
      tool_name: 'weather',
      tool_risk: 'read',
      agent: 'forecaster',
      app: 'ai-app',
    });
    const callEvent = calls[0] && spanToEvent(fromReadableSpan(calls[0]), { tenant: 't', capture });
    expect(callEvent && 'event' in callEvent ? callEvent.event : callEvent).toMatchObject({
      kind: 'llm_call',
      provider: 'openai',
      request_model: 'gpt-4o',
      input_tokens: 31,
      output_tokens: 9,
    });
  });
});
