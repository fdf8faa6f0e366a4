import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the OpenAI and Anthropic HTTP APIs, enough for the real
 * SDKs and their instrumentations: OpenAI chat completions (plain, streamed as
 * SSE, with tool calls), embeddings, Anthropic messages, and a 500 error. The
 * request model picks the behaviour (see FAKE_MODELS); each answer names a
 * dated snapshot as the responded model, as the real APIs do.
 */
export const FAKE_MODELS = {
  /** OpenAI chat: answers text, finish_reason stop. */
  chat: { requested: 'gpt-4o-mini', responded: 'gpt-4o-mini-2024-07-18' },
  /** OpenAI chat with tools: answers a tool call, finish_reason tool_calls. */
  tools: { requested: 'gpt-4.1', responded: 'gpt-4.1-2025-04-14' },
  /** OpenAI chat, streamed (with usage in the last chunk when asked). */
  stream: { requested: 'gpt-4o', responded: 'gpt-4o-2024-08-06' },
  /** OpenAI chat answering 500. */
  error: { requested: 'o3-mini', responded: null },
  /** OpenAI embeddings. */
  embedding: { requested: 'text-embedding-3-small', responded: 'text-embedding-3-small' },
  /** Anthropic messages: end_turn. */
  claude: { requested: 'claude-sonnet-4-5', responded: 'claude-sonnet-4-5-20250929' },
  /** Anthropic messages with tools: tool_use. */
  claudeTools: { requested: 'claude-haiku-4-5', responded: 'claude-haiku-4-5-20251001' },
  /** Anthropic messages, streamed as SSE. */
  claudeStream: { requested: 'claude-3-5-haiku', responded: 'claude-3-5-haiku-20241022' },
  /** Anthropic messages answering 500 (api_error). */
  claudeError: { requested: 'claude-opus-4-1', responded: null },
} as const;

export const FAKE_USAGE = { input: 11, output: 7 } as const;

export interface FakeProvider {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Requests received, as `<path> <model>`. */
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeProvider(): Promise<FakeProvider> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    void readJson(req).then(
      (body) => {
        requests.push(`${req.url} ${String(body.model)}`);
        answer(req.url ?? '', body, res);
      },
      () => send(res, 400, { error: { message: 'bad json', type: 'invalid_request_error' } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(path: string, body: Record<string, unknown>, res: ServerResponse): void {
  const model = String(body.model);
  if (path.endsWith('/chat/completions')) return openAiChat(model, body, res);
  if (path.endsWith('/embeddings')) return openAiEmbeddings(model, body, res);
  if (path.endsWith('/messages')) return anthropicMessages(model, body, res);
  send(res, 404, { error: { message: `no route ${path}`, type: 'not_found' } });
}

function openAiChat(model: string, body: Record<string, unknown>, res: ServerResponse): void {
  if (model === FAKE_MODELS.error.requested) {
    send(res, 500, { error: { message: 'The server had an error', type: 'server_error', code: null } });
    return;
  }
  const responded = respondedModel(model);
  const usage = {
    prompt_tokens: FAKE_USAGE.input,
    completion_tokens: FAKE_USAGE.output,
    total_tokens: FAKE_USAGE.input + FAKE_USAGE.output,
  };
  const id = `chatcmpl-${model.replace(/\W/g, '')}${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  if (body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta: object, finish: string | null, extra: object = {}): string =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: responded,
        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
        ...extra,
      })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }, null));
    res.write(chunk({ content: 'Hello' }, null));
    res.write(chunk({ content: ' there' }, null));
    res.write(chunk({}, 'stop'));
    const options = body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage === true) {
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: responded, choices: [], usage })}\n\n`,
      );
    }
    res.end('data: [DONE]\n\n');
    return;
  }
  const toolCall = Array.isArray(body.tools) && body.tools.length > 0;
  send(res, 200, {
    id,
    object: 'chat.completion',
    created,
    model: responded,
    choices: [
      {
        index: 0,
        message: toolCall
          ? {
              role: 'assistant',
              content: null,
              tool_calls: [
                {
                  id: 'call_abc123',
                  type: 'function',
                  function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
                },
              ],
            }
          : { role: 'assistant', content: 'Hello there' },
        finish_reason: toolCall ? 'tool_calls' : 'stop',
        logprobs: null,
      },
    ],
    usage,
  });
}

function openAiEmbeddings(model: string, body: Record<string, unknown>, res: ServerResponse): void {
  const vector = [0.125, -0.25, 0.5];
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const embedding =
    body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
  send(res, 200, {
    object: 'list',
    data: inputs.map((_, index) => ({ object: 'embedding', index, embedding })),
    model: respondedModel(model),
    usage: { prompt_tokens: FAKE_USAGE.input, total_tokens: FAKE_USAGE.input },
  });
}

function anthropicMessages(model: string, body: Record<string, unknown>, res: ServerResponse): void {
  if (model === FAKE_MODELS.claudeError.requested) {
    send(res, 500, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } });
    return;
  }
  const id = `msg_${model.replace(/\W/g, '')}${Date.now().toString(36)}`;
  if (body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (type: string, data: object): string =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    res.write(
      event('message_start', {
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model: respondedModel(model),
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: FAKE_USAGE.input, output_tokens: 1 },
        },
      }),
    );
    res.write(event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    res.write(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }));
    res.write(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: ' there' } }));
    res.write(event('content_block_stop', { index: 0 }));
    res.write(
      event('message_delta', {
        delta: { stop_reason: 'max_tokens', stop_sequence: null },
        usage: { output_tokens: FAKE_USAGE.output },
      }),
    );
    res.end(event('message_stop', {}));
    return;
  }
  const tools = model === FAKE_MODELS.claudeTools.requested;
  send(res, 200, {
    id,
    type: 'message',
    role: 'assistant',
    model: respondedModel(model),
    content: tools
      ? [{ type: 'tool_use', id: 'toolu_01abc', name: 'get_weather', input: { city: 'Paris' } }]
      : [{ type: 'text', text: 'Hello there' }],
    stop_reason: tools ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: FAKE_USAGE.input, output_tokens: FAKE_USAGE.output },
  });
}

function respondedModel(requested: string): string {
  for (const model of Object.values(FAKE_MODELS)) {
    if (model.requested === requested && model.responded !== null) return model.responded;
  }
  return requested;
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
  return parsed as Record<string, unknown>;
}
