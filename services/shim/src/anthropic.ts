import type { Span } from '@opentelemetry/api';
import { GEN_AI } from './attributes.ts';
import { wrapCreate, type Create } from './call.ts';
import { toolCallPart, type ContentMessage, type ContentPart } from './content.ts';
import { num, obj, parseJsonText, str, type Json } from './json.ts';
import { setCount, setText, type ShimTracing } from './tracing.ts';

/** The @anthropic-ai/sdk package: messages.create, whole and streamed (messages.stream() goes through create too). */
const PROVIDER = 'anthropic';

export function wrapMessagesCreate(
  tracing: ShimTracing,
  original: Create,
  baseUrl: (self: unknown) => string | undefined,
): Create {
  return wrapCreate(tracing, PROVIDER, original, baseUrl, {
    guard: 'anthropic.messages',
    request: (span, body, self) => {
      tracing.capture.setMessages(span, GEN_AI.inputMessages, inputMessages(body));
      disableNativeTracing(self);
    },
    response: (s, message: Json) => readMessage(tracing, s, message),
    stream: () => streamAccumulator(tracing),
  });
}

/**
 * @anthropic-ai/sdk 1.x traces its own calls when a tracer provider is registered (metadata only, no
 * principal); the shim's span records the same and more, so the SDK's own span would be a second event.
 * An undefined `_tracer` is the SDK's own state for `openTelemetry: { traces: false }`.
 */
function disableNativeTracing(messages: unknown): void {
  const client = obj(obj(messages)._client);
  if (client._tracer !== undefined) client._tracer = undefined;
}

function readMessage(tracing: ShimTracing, span: Span, message: Json): void {
  setText(span, GEN_AI.responseId, message.id);
  setText(span, GEN_AI.responseModel, message.model);
  const reason = str(message.stop_reason);
  if (reason !== undefined) span.setAttribute(GEN_AI.finishReasons, [reason]);
  readUsage(span, obj(message.usage));
  tracing.capture.setMessages(span, GEN_AI.outputMessages, [
    { role: 'assistant', parts: blocks(message.content), ...(reason === undefined ? {} : { finish_reason: reason }) },
  ]);
}

/**
 * Anthropic's input_tokens leaves out cached tokens; the GenAI conventions count
 * them in gen_ai.usage.input_tokens, so the three are summed.
 */
function readUsage(span: Span, usage: Json): void {
  const input = num(usage.input_tokens);
  const cacheRead = num(usage.cache_read_input_tokens);
  const cacheCreation = num(usage.cache_creation_input_tokens);
  if (input !== undefined) span.setAttribute(GEN_AI.inputTokens, input + (cacheRead ?? 0) + (cacheCreation ?? 0));
  setCount(span, GEN_AI.outputTokens, usage.output_tokens);
  setCount(span, GEN_AI.cacheReadTokens, cacheRead);
  setCount(span, GEN_AI.cacheCreationTokens, cacheCreation);
}

/** Server-sent events: message_start, content_block_start/delta, message_delta (stop reason, final output tokens). */
function streamAccumulator(tracing: ShimTracing) {
  let start: Json = {};
  let reason: string | undefined;
  let usage: Json = {};
  const content = new Map<number, { type: string; text: string; id?: string; name?: string }>();
  return {
    chunk(_span: Span, event: Json): void {
      const index = num(event.index) ?? 0;
      switch (event.type) {
        case 'message_start':
          start = obj(event.message);
          usage = { ...obj(start.usage) };
          break;
        case 'content_block_start': {
          const block = obj(event.content_block);
          content.set(index, {
            type: str(block.type) ?? 'text',
            text: str(block.text) ?? '',
            id: str(block.id),
            name: str(block.name),
          });
          break;
        }
        case 'content_block_delta': {
          const delta = obj(event.delta);
          const block = content.get(index) ?? { type: 'text', text: '' };
          block.text += str(delta.text) ?? str(delta.partial_json) ?? '';
          content.set(index, block);
          break;
        }
        case 'message_delta':
          reason = str(obj(event.delta).stop_reason) ?? reason;
          // The final usage is cumulative; keep the start's input counts where it omits them.
          for (const [key, value] of Object.entries(obj(event.usage))) if (value !== null) usage[key] = value;
          break;
      }
    },
    finish(span: Span): void {
      setText(span, GEN_AI.responseId, start.id);
      setText(span, GEN_AI.responseModel, start.model);
      if (reason !== undefined) span.setAttribute(GEN_AI.finishReasons, [reason]);
      readUsage(span, usage);
      const parts = [...content.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, block]): ContentPart =>
          block.type === 'tool_use'
            ? // A tool call streamed without arguments called the tool with none: {}.
              toolCallPart(block.id, block.name ?? '', block.text === '' ? {} : parseJsonText(block.text))
            : { type: 'text', content: block.text },
        );
      tracing.capture.setMessages(span, GEN_AI.outputMessages, [
        { role: 'assistant', parts, ...(reason === undefined ? {} : { finish_reason: reason }) },
      ]);
    },
  };
}

function inputMessages(body: Json): ContentMessage[] {
  const messages: ContentMessage[] = [];
  const system = body?.system;
  const systemParts = blocks(system);
  if (systemParts.length > 0) messages.push({ role: 'system', parts: systemParts });
  for (const raw of Array.isArray(body?.messages) ? body.messages : []) {
    const message = obj(raw);
    messages.push({ role: str(message.role) ?? 'user', parts: blocks(message.content) });
  }
  return messages;
}

/** Content blocks: text, tool_use (a call), tool_result (its answer). */
function blocks(content: unknown): ContentPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', content }];
  if (!Array.isArray(content)) return [];
  const parts: ContentPart[] = [];
  for (const raw of content) {
    const block = obj(raw);
    if (block.type === 'text' && typeof block.text === 'string') parts.push({ type: 'text', content: block.text });
    if (block.type === 'tool_use') parts.push(toolCallPart(str(block.id), str(block.name) ?? '', block.input));
    if (block.type === 'tool_result') {
      parts.push({
        type: 'tool_call_response',
        ...(str(block.tool_use_id) ? { id: str(block.tool_use_id) } : {}),
        response: block.content,
      });
    }
  }
  return parts;
}
