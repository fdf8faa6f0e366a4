import type { RawContent } from '../content/capture.ts';
import type { EventKind } from '../event/types.ts';
import { asText, MAX_RAW_IDENTIFIER, stringList } from './attribute-read.ts';
import {
  genAiInstructions,
  genAiMessages,
  indexed,
  openInferenceMessages,
  openLlmetryMessages,
  renderMessages,
  type Message,
} from './messages.ts';
import type { SpanAttributes } from './span-input.ts';

/**
 * Attributes that carry prompts, completions, tool payloads, documents or free
 * text. They reach the event only through the capture policy, never as plain
 * attributes.
 */
const CONTENT_KEYS = new Set([
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
  'gen_ai.tool.definitions',
  'gen_ai.prompt',
  'gen_ai.completion',
  'input.value',
  'output.value',
  'tool.parameters',
  'llm.function_call',
  'reranker.query',
  'traceloop.entity.input',
  'traceloop.entity.output',
  'exception.message',
  'exception.stacktrace',
]);

const CONTENT_PREFIXES = [
  'gen_ai.prompt.',
  'gen_ai.completion.',
  'llm.input_messages.',
  'llm.output_messages.',
  'llm.prompts.',
  'llm.choices.',
  'llm.tools.',
  'llm.prompt_template.',
  'llm.request.functions.',
  'embedding.embeddings.',
  'retrieval.documents.',
  'reranker.input_documents.',
  'reranker.output_documents.',
  'message.',
  'tool_call.',
];

export function isContentKey(key: string): boolean {
  return CONTENT_KEYS.has(key) || CONTENT_PREFIXES.some((prefix) => key.startsWith(prefix));
}

/**
 * The span's texts, before any capture policy. Tool calls carry arguments and
 * a result; every other kind a prompt and a completion. OpenInference defines
 * `tool.parameters` as the tool's parameter schema, but some instrumentations
 * put the call's arguments there, so it is used when `input.value` is absent.
 */
export function extractContent(attributes: SpanAttributes, kind: EventKind): RawContent {
  const raw = (...keys: string[]): string | null => {
    for (const key of keys) {
      const value = attributes.get(key);
      if (value !== undefined) return asText(value);
    }
    return null;
  };
  if (kind === 'tool_call') {
    return {
      prompt: null,
      completion: null,
      tool_arguments: raw('gen_ai.tool.call.arguments', 'input.value', 'tool.parameters', 'traceloop.entity.input'),
      tool_result: raw('gen_ai.tool.call.result', 'output.value', 'traceloop.entity.output'),
    };
  }
  if (kind === 'embedding') {
    // An embedding's response is vectors, not text: output.value and embedding vectors are never a completion.
    return {
      prompt:
        listed(attributes, 'embedding.embeddings', 'embedding.text') ??
        genAiPrompt(attributes) ??
        raw('input.value', 'traceloop.entity.input', 'gen_ai.prompt'),
      completion: null,
      tool_arguments: null,
      tool_result: null,
    };
  }
  return {
    prompt:
      genAiPrompt(attributes) ??
      renderMessages(openInferenceMessages(attributes, 'llm.input_messages')) ??
      listed(attributes, 'llm.prompts', 'prompt.text') ??
      renderMessages(openLlmetryMessages(attributes, 'gen_ai.prompt')) ??
      listed(attributes, 'embedding.embeddings', 'embedding.text') ??
      raw('input.value', 'traceloop.entity.input', 'gen_ai.prompt', 'reranker.query'),
    completion:
      genAiText(attributes, 'gen_ai.output.messages') ??
      renderMessages(openInferenceMessages(attributes, 'llm.output_messages')) ??
      listed(attributes, 'llm.choices', 'completion.text') ??
      renderMessages(openLlmetryMessages(attributes, 'gen_ai.completion')) ??
      raw('output.value', 'traceloop.entity.output', 'gen_ai.completion') ??
      listed(attributes, 'retrieval.documents', 'document.content'),
    tool_arguments: null,
    tool_result: null,
  };
}

/**
 * Why the model stopped: gen_ai.response.finish_reasons (an array, a JSON
 * array in a string, or a comma-separated string), else the finish_reason of
 * each GenAI output message, else OpenInference's llm.finish_reason, else the
 * Anthropic SDK's anthropic.message.stop_reason, else OpenLLMetry's
 * gen_ai.completion.N.finish_reason. Spelled as sent: spanToEvent normalises.
 * Raw (at most 16, each cut generously): spanToEvent cleans, redacts and only
 * then cuts them to 64 characters, so a cut never hides a secret from redaction.
 */
export function finishReasons(attributes: SpanAttributes): string[] {
  const max = MAX_RAW_IDENTIFIER;
  const bound = (reasons: string[]): string[] => reasons.slice(0, 16).map((reason) => reason.slice(0, max));
  const declared =
    jsonList(attributes, 'gen_ai.response.finish_reasons') ??
    stringList(attributes, 'gen_ai.response.finish_reasons', 16, max);
  if (declared.length > 0) return bound(declared);
  const output = attributes.get('gen_ai.output.messages');
  const fromMessages = typeof output === 'string' ? (genAiMessages(output)?.finishReasons ?? []) : [];
  if (fromMessages.length > 0) return bound(fromMessages);
  const openInference = stringList(attributes, 'llm.finish_reason', 16, max);
  if (openInference.length > 0) return openInference;
  const anthropic = stringList(attributes, 'anthropic.message.stop_reason', 16, max);
  if (anthropic.length > 0) return anthropic;
  return bound(
    indexed(attributes, 'gen_ai.completion')
      .map((fields) => fields.get('finish_reason'))
      .filter((reason): reason is string => typeof reason === 'string' && reason !== ''),
  );
}

/** A list sent as a JSON array in a string (some instrumentations serialise arrays so); null when it is not one. */
function jsonList(attributes: SpanAttributes, key: string): string[] | null {
  const value = attributes.get(key);
  if (typeof value !== 'string' || !value.trimStart().startsWith('[')) return null;
  try {
    const parsed: unknown = JSON.parse(value);
    if (!Array.isArray(parsed)) return null;
    return parsed
      .filter((item): item is string => typeof item === 'string' && item.trim() !== '')
      .map((item) => item.trim());
  } catch {
    return null;
  }
}

/** System instructions, then the input messages; a value that is not the JSON the convention defines is kept as is. */
function genAiPrompt(attributes: SpanAttributes): string | null {
  const instructions = attributes.get('gen_ai.system_instructions');
  const system: Message[] = [];
  if (instructions !== undefined) {
    const text = asText(instructions);
    system.push(genAiInstructions(text) ?? { role: 'system', text });
  }
  const input = genAiText(attributes, 'gen_ai.input.messages');
  return renderMessages([...system, ...(input === null ? [] : [{ role: null, text: input }])]);
}

function genAiText(attributes: SpanAttributes, key: string): string | null {
  const value = attributes.get(key);
  if (value === undefined) return null;
  const text = asText(value);
  const parsed = genAiMessages(text);
  return parsed ? renderMessages(parsed.messages) : text;
}

/** `prefix.N.field` texts joined by newlines (legacy prompts and choices, embedded texts, documents). */
function listed(attributes: SpanAttributes, prefix: string, field: string): string | null {
  const texts = indexed(attributes, prefix)
    .map((fields) => fields.get(field))
    .filter((value) => value !== undefined)
    .map(asText);
  return texts.length > 0 ? texts.join('\n') : null;
}
