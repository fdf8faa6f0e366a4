/**
 * A local fake transport for the real SDK packages: a `fetch` that answers from
 * a script of recorded-shape API responses and records the requests.
 */
export type Reply =
  { json: unknown; status?: number; headers?: Record<string, string> } | { sse: unknown[]; named?: boolean };

export interface FakeApi {
  fetch: typeof fetch;
  requests: { url: string; body: unknown }[];
}

export function fakeApi(...replies: Reply[]): FakeApi {
  const requests: FakeApi['requests'] = [];
  let next = 0;
  const fake = ((input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    requests.push({ url, body: typeof init?.body === 'string' ? JSON.parse(init.body) : null });
    const reply = replies[Math.min(next++, replies.length - 1)];
    if (!reply) return Promise.reject(new Error('fake api: no reply scripted'));
    if ('json' in reply) {
      return Promise.resolve(
        new Response(JSON.stringify(reply.json), {
          status: reply.status ?? 200,
          headers: { 'content-type': 'application/json', ...reply.headers },
        }),
      );
    }
    const text = reply.sse
      .map((event) => {
        const type = (event as { type?: string }).type;
        return `${reply.named && type ? `event: ${type}\n` : ''}data: ${JSON.stringify(event)}\n\n`;
      })
      .join('');
    return Promise.resolve(
      new Response(`${text}${reply.named ? '' : 'data: [DONE]\n\n'}`, {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
      }),
    );
  }) as typeof fetch;
  return { fetch: fake, requests };
}

export const chatCompletion = {
  id: 'chatcmpl-abc123',
  object: 'chat.completion',
  created: 1_795_000_000,
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Your invoice total is $42.' }, finish_reason: 'stop' }],
  usage: {
    prompt_tokens: 31,
    completion_tokens: 9,
    total_tokens: 40,
    prompt_tokens_details: { cached_tokens: 16 },
    completion_tokens_details: { reasoning_tokens: 3 },
  },
};

/** A chat completion whose answer is one call of tool `name` with `args` (a JSON string), call id `id`. */
export function toolCallCompletionFor(name: string, args: string, id = 'call_1') {
  return {
    ...chatCompletion,
    id: 'chatcmpl-tool1',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          tool_calls: [{ id, type: 'function', function: { name, arguments: args } }],
        },
        finish_reason: 'tool_calls',
      },
    ],
  };
}

export const toolCallCompletion = toolCallCompletionFor('lookup_invoice', '{"customer":"bob@example.com"}');

export const chatChunks = [
  {
    id: 'chatcmpl-s1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }],
  },
  {
    id: 'chatcmpl-s1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }],
  },
  {
    id: 'chatcmpl-s1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [],
    usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 },
  },
];

export const rateLimited = {
  json: { error: { message: 'Rate limit reached for gpt-4o', type: 'requests', code: 'rate_limit_exceeded' } },
  status: 429,
  headers: { 'retry-after': '0' },
};

export const anthropicMessage = {
  id: 'msg_01',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [
    { type: 'text', text: 'Let me check.' },
    { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
  ],
  stop_reason: 'tool_use',
  usage: { input_tokens: 20, output_tokens: 15, cache_read_input_tokens: 100, cache_creation_input_tokens: 5 },
};

export const anthropicEvents = [
  {
    type: 'message_start',
    message: {
      id: 'msg_02',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [],
      stop_reason: null,
      usage: { input_tokens: 11, output_tokens: 1 },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Bonjour' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } },
  { type: 'message_stop' },
];
