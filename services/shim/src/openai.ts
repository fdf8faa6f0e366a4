import type { Span } from '@opentelemetry/api';
import { GEN_AI } from './attributes.ts';
import { wrapCreate, type Create } from './call.ts';
import { toolCallPart, type ContentMessage, type ContentPart } from './content.ts';
import { obj, parseJsonText, str, type Json } from './json.ts';
import { setCount, setText, type ShimTracing } from './tracing.ts';

/**
 * The openai package (v4 to v6): chat.completions.create and responses.create,
 * whole and streamed. Shapes are read defensively: a field the API drops is
 * simply not recorded. Tool-call arguments arrive as a JSON string; they are
 * kept parsed when they parse (parseJsonText), as the conventions show them.
 */
const PROVIDER = 'openai';

/** Wraps a `create` method; `baseUrl` tells which endpoint the client talks to (server.address). */
export function wrapChatCreate(
  tracing: ShimTracing,
  original: Create,
  baseUrl: (self: unknown) => string | undefined,
): Create {
  return wrapCreate(tracing, PROVIDER, original, baseUrl, {
    guard: 'openai.chat',
    request: (span, body) => {
      if (Array.isArray(body?.messages)) {
        tracing.capture.setMessages(span, GEN_AI.inputMessages, body.messages.map(chatMessage));
      }
    },
    response: (s, completion: Json) => readChatCompletion(tracing, s, completion),
    stream: () => chatStreamAccumulator(tracing),
  });
}

export function wrapResponsesCreate(
  tracing: ShimTracing,
  original: Create,
  baseUrl: (self: unknown) => string | undefined,
): Create {
  return wrapCreate(tracing, PROVIDER, original, baseUrl, {
    guard: 'openai.responses',
    request: (span, body) => {
      setText(span, GEN_AI.conversationId, str(body?.conversation) ?? str(body?.previous_response_id));
      tracing.capture.setMessages(span, GEN_AI.inputMessages, responsesInput(body));
    },
    response: (s, response: Json) => readResponse(tracing, s, response),
    stream: () => {
      let final: Json | undefined;
      return {
        chunk: (_s, event: Json) => {
          // The terminal event carries the whole response: id, model, output, usage.
          if (/^response\.(completed|incomplete|failed)$/.test(str(event?.type) ?? '')) final = obj(event.response);
        },
        finish: (s) => {
          if (final) readResponse(tracing, s, final);
        },
      };
    },
  });
}

function readChatCompletion(tracing: ShimTracing, span: Span, completion: Json): void {
  setText(span, GEN_AI.responseId, completion.id);
  setText(span, GEN_AI.responseModel, completion.model);
  const choices = Array.isArray(completion.choices) ? completion.choices.map(obj) : [];
  const reasons = choices.map((c) => str(c.finish_reason)).filter((r): r is string => r !== undefined);
  if (reasons.length > 0) span.setAttribute(GEN_AI.finishReasons, reasons);
  readChatUsage(span, obj(completion.usage));
  tracing.capture.setMessages(
    span,
    GEN_AI.outputMessages,
    choices.map((c) => ({ ...chatMessage(c.message), finish_reason: str(c.finish_reason) ?? 'stop' })),
  );
}

function readChatUsage(span: Span, usage: Json): void {
  setCount(span, GEN_AI.inputTokens, usage.prompt_tokens);
  setCount(span, GEN_AI.outputTokens, usage.completion_tokens);
  setCount(span, GEN_AI.cacheReadTokens, obj(usage.prompt_tokens_details).cached_tokens);
  setCount(span, GEN_AI.reasoningTokens, obj(usage.completion_tokens_details).reasoning_tokens);
}

interface ChoiceState {
  text: string;
  reason?: string;
  calls: Map<number, { id?: string; name: string; args: string }>;
}

/** Streamed chat: text and tool-call fragments are joined per choice; usage arrives in the last chunk when asked for. */
function chatStreamAccumulator(tracing: ShimTracing) {
  const choices = new Map<number, ChoiceState>();
  let id: string | undefined;
  let model: string | undefined;
  let usage: Json | undefined;
  return {
    chunk(_span: Span, chunk: Json): void {
      id ??= str(chunk.id);
      model ??= str(chunk.model);
      if (chunk.usage) usage = obj(chunk.usage);
      for (const raw of Array.isArray(chunk.choices) ? chunk.choices : []) {
        const choice = obj(raw);
        const index = typeof choice.index === 'number' ? choice.index : 0;
        const state: ChoiceState = choices.get(index) ?? { text: '', calls: new Map() };
        choices.set(index, state);
        const delta = obj(choice.delta);
        if (typeof delta.content === 'string') state.text += delta.content;
        for (const rawCall of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
          const call = obj(rawCall);
          const callIndex = typeof call.index === 'number' ? call.index : 0;
          const fn = obj(call.function);
          const acc = state.calls.get(callIndex) ?? { name: '', args: '' };
          acc.id ??= str(call.id);
          acc.name += str(fn.name) ?? '';
          acc.args += str(fn.arguments) ?? '';
          state.calls.set(callIndex, acc);
        }
        state.reason = str(choice.finish_reason) ?? state.reason;
      }
    },
    finish(span: Span): void {
      setText(span, GEN_AI.responseId, id);
      setText(span, GEN_AI.responseModel, model);
      const ordered = [...choices.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
      const reasons = ordered.map((c) => c.reason).filter((r): r is string => r !== undefined);
      if (reasons.length > 0) span.setAttribute(GEN_AI.finishReasons, reasons);
      if (usage) readChatUsage(span, usage);
      tracing.capture.setMessages(
        span,
        GEN_AI.outputMessages,
        ordered.map((c) => ({
          role: 'assistant',
          parts: [
            ...(c.text === '' ? [] : [{ type: 'text' as const, content: c.text }]),
            ...[...c.calls.values()].map((call) => toolCallPart(call.id, call.name, parseJsonText(call.args))),
          ],
          finish_reason: c.reason ?? 'stop',
        })),
      );
    },
  };
}

function readResponse(tracing: ShimTracing, span: Span, response: Json): void {
  setText(span, GEN_AI.responseId, response.id);
  setText(span, GEN_AI.responseModel, response.model);
  const usage = obj(response.usage);
  setCount(span, GEN_AI.inputTokens, usage.input_tokens);
  setCount(span, GEN_AI.outputTokens, usage.output_tokens);
  setCount(span, GEN_AI.cacheReadTokens, obj(usage.input_tokens_details).cached_tokens);
  setCount(span, GEN_AI.reasoningTokens, obj(usage.output_tokens_details).reasoning_tokens);
  const output = Array.isArray(response.output) ? response.output.map(obj) : [];
  const parts: ContentPart[] = [];
  for (const item of output) {
    if (item.type === 'function_call')
      parts.push(toolCallPart(str(item.call_id), str(item.name) ?? '', parseJsonText(item.arguments)));
    if (item.type === 'message') parts.push(...contentParts(item.content));
  }
  const called = parts.some((p) => p.type === 'tool_call');
  const status = str(response.status);
  const reason =
    status === 'incomplete'
      ? (str(obj(response.incomplete_details).reason) ?? 'incomplete')
      : status === 'completed'
        ? called
          ? 'tool_calls'
          : 'stop'
        : status;
  if (reason !== undefined) span.setAttribute(GEN_AI.finishReasons, [reason]);
  tracing.capture.setMessages(span, GEN_AI.outputMessages, [
    { role: 'assistant', parts, ...(reason === undefined ? {} : { finish_reason: reason }) },
  ]);
}

/** The Responses API input: instructions, then a string or a list of items. */
function responsesInput(body: Json): ContentMessage[] {
  const messages: ContentMessage[] = [];
  const instructions = str(body?.instructions);
  if (instructions !== undefined) messages.push({ role: 'system', parts: [{ type: 'text', content: instructions }] });
  const input = body?.input;
  if (typeof input === 'string') messages.push({ role: 'user', parts: [{ type: 'text', content: input }] });
  for (const raw of Array.isArray(input) ? input : []) {
    const item = obj(raw);
    if (item.type === 'function_call_output') {
      messages.push({
        role: 'tool',
        parts: [{ type: 'tool_call_response', id: str(item.call_id), response: item.output }],
      });
    } else if (item.type === 'function_call') {
      messages.push({
        role: 'assistant',
        parts: [toolCallPart(str(item.call_id), str(item.name) ?? '', parseJsonText(item.arguments))],
      });
    } else {
      messages.push({ role: str(item.role) ?? 'user', parts: contentParts(item.content) });
    }
  }
  return messages;
}

/** A Chat Completions message: string or parts content, assistant tool calls, tool results. */
function chatMessage(raw: unknown): ContentMessage {
  const message = obj(raw);
  const role = str(message.role) ?? 'user';
  if (role === 'tool') {
    return { role, parts: [{ type: 'tool_call_response', id: str(message.tool_call_id), response: message.content }] };
  }
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls.map(obj) : [];
  return {
    role,
    parts: [
      ...contentParts(message.content),
      ...calls.map((call) =>
        toolCallPart(str(call.id), str(obj(call.function).name) ?? '', parseJsonText(obj(call.function).arguments)),
      ),
    ],
  };
}

function contentParts(content: unknown): ContentPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', content }];
  if (!Array.isArray(content)) return [];
  return content
    .map(obj)
    .map((part) => str(part.text) ?? str(part.refusal))
    .filter((text): text is string => text !== undefined)
    .map((text) => ({ type: 'text', content: text }));
}
