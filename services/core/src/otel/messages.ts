import { asText } from './attribute-read.ts';
import type { AttributeValue, SpanAttributes } from './span-input.ts';

/**
 * Chat messages, whatever the convention, rendered to one plain text: one
 * `role: text` line per message, tool calls as `name(arguments)`. Plain text,
 * not JSON, because it is what detectors read and what survives truncation;
 * the role stays because a tool or system message is where injected
 * instructions hide.
 */
export interface Message {
  role: string | null;
  text: string;
}

export function renderMessages(messages: Message[]): string | null {
  const lines = messages.filter((m) => m.text !== '').map((m) => (m.role ? `${m.role}: ${m.text}` : m.text));
  return lines.length > 0 ? lines.join('\n') : null;
}

/** gen_ai.input.messages / gen_ai.output.messages: a JSON array of `{role, parts[], finish_reason}`. */
export function genAiMessages(json: string): { messages: Message[]; finishReasons: string[] } | null {
  const parsed = parseJson(json);
  if (!Array.isArray(parsed)) return null;
  const messages: Message[] = [];
  const finishReasons: string[] = [];
  for (const message of parsed) {
    if (!isRecord(message)) continue;
    const parts = Array.isArray(message.parts) ? message.parts : [];
    // Older instrumentations write OpenAI-style `{role, content}`.
    const texts = typeof message.content === 'string' ? [message.content] : parts.map(genAiPart);
    messages.push({ role: typeof message.role === 'string' ? message.role : null, text: joined(texts) });
    if (typeof message.finish_reason === 'string') finishReasons.push(message.finish_reason);
  }
  return { messages, finishReasons };
}

/** gen_ai.system_instructions: a JSON array of parts. */
export function genAiInstructions(json: string): Message | null {
  const parsed = parseJson(json);
  return Array.isArray(parsed) ? { role: 'system', text: joined(parsed.map(genAiPart)) } : null;
}

function genAiPart(part: unknown): string {
  if (!isRecord(part)) return '';
  switch (part.type) {
    case 'tool_call':
      return `${typeof part.name === 'string' ? part.name : 'tool'}(${jsonText(part.arguments)})`;
    case 'tool_call_response':
      return jsonText(part.response ?? part.result);
    default:
      return typeof part.content === 'string' ? part.content : '';
  }
}

/**
 * Flattened lists (`llm.input_messages.0.message.role`, `gen_ai.prompt.1.content`):
 * the fields under `prefix.N.`, one map per N, in index order.
 */
export function indexed(attributes: SpanAttributes, prefix: string): Map<string, AttributeValue>[] {
  const byIndex = new Map<number, Map<string, AttributeValue>>();
  const head = `${prefix}.`;
  // Keys only: most spans have no such list, and entries() would allocate a pair per attribute.
  for (const key of attributes.keys()) {
    if (!key.startsWith(head)) continue;
    const match = /^(\d{1,6})\.(.+)$/.exec(key.slice(head.length));
    if (!match) continue;
    const index = Number(match[1]);
    const fields = byIndex.get(index) ?? new Map<string, AttributeValue>();
    fields.set(match[2] ?? '', attributes.get(key) as AttributeValue);
    byIndex.set(index, fields);
  }
  if (byIndex.size === 0) return [];
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, fields]) => fields);
}

/** OpenInference `llm.input_messages` / `llm.output_messages`. */
export function openInferenceMessages(attributes: SpanAttributes, prefix: string): Message[] {
  return indexed(attributes, prefix).map((fields) => {
    const content = fields.get('message.content');
    const parts = indexed(fields, 'message.contents').map((part) => textOf(part.get('message_content.text')));
    const calls = indexed(fields, 'message.tool_calls').map((call) =>
      toolCall(call.get('tool_call.function.name'), call.get('tool_call.function.arguments')),
    );
    const texts = content === undefined ? parts : [textOf(content)];
    return { role: roleOf(fields.get('message.role')), text: joined([...texts, ...calls]) };
  });
}

/** OpenLLMetry `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`. */
export function openLlmetryMessages(attributes: SpanAttributes, prefix: string): Message[] {
  return indexed(attributes, prefix).map((fields) => {
    const calls = indexed(fields, 'tool_calls').map((call) => toolCall(call.get('name'), call.get('arguments')));
    return { role: roleOf(fields.get('role')), text: joined([textOf(fields.get('content')), ...calls]) };
  });
}

function toolCall(name: AttributeValue | undefined, args: AttributeValue | undefined): string {
  return name === undefined ? '' : `${asText(name)}(${textOf(args)})`;
}

function roleOf(value: AttributeValue | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function textOf(value: AttributeValue | undefined): string {
  return value === undefined ? '' : asText(value);
}

function joined(texts: string[]): string {
  return texts.filter((text) => text !== '').join('\n');
}

function jsonText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return ''; // nested deeper than the stack allows
  }
}

/** Content that is not JSON (or too deep to parse) is used as the raw string by the caller. */
function parseJson(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
