import type { Span } from '@opentelemetry/api';
import {
  contentScannerFor,
  DETECTIONS_ATTRIBUTE,
  effectivePolicy,
  encodeDetections,
  hmacHex,
  mergeDetections,
  redact,
  truncateUtf8,
  type CapturePolicy,
  type ContentChannel,
  type ContentDetectOptions,
  type ContentDetection,
  type IdentifierOptions,
} from '@aispm/core';
import { AISPM } from './attributes.ts';

/** What the shim keeps of prompts, completions and tool payloads (AISPM_CAPTURE_* by default). */
export interface CaptureSettings {
  policy: CapturePolicy;
  /** Key of the `hash` policy; without one, `hash` keeps nothing (as core does). */
  hmacKey: string | null;
  /** UTF-8 bytes kept per text. */
  maxContentBytes: number;
  /**
   * PII and secrets in identifier fields (user, identity, scopes, …), applied where the
   * Kafka exporter maps spans to events. The shim never writes a key file into the app:
   * without AISPM_IDENTIFIER_HMAC_KEY (or AISPM_CAPTURE_HMAC_KEY) it masks instead of
   * pseudonymising.
   */
  identifiers?: IdentifierOptions;
  /** The content detectors, run on each text before the policy applies (AISPM_DETECT*); on when absent. */
  detect?: ContentDetectOptions;
}

/** One message of a prompt or completion, in the GenAI conventions' `{role, parts}` shape. */
export interface ContentMessage {
  role: string;
  parts: ContentPart[];
  finish_reason?: string;
}

export type ContentPart =
  | { type: 'text'; content: string }
  | { type: 'tool_call'; id?: string; name: string; arguments: unknown }
  | { type: 'tool_call_response'; id?: string; response: unknown };

/** A tool call the model asked for; `id` only when the provider gave one. */
export function toolCallPart(id: string | undefined, name: string, args: unknown): ContentPart {
  return { type: 'tool_call', ...(id === undefined ? {} : { id }), name, arguments: args };
}

/**
 * Applies the capture policy to content before it is set on a span, so no
 * exporter, including an OTLP exporter to a third party, ever sees more than
 * the policy allows. Redaction runs on each text part before the parts are
 * serialized, so a mask cannot break the JSON the conventions define.
 */
export class ContentCapture {
  readonly settings: CaptureSettings;
  readonly #policy: CapturePolicy;

  constructor(settings: CaptureSettings) {
    this.settings = settings;
    this.#policy = effectivePolicy(settings);
  }

  get policy(): CapturePolicy {
    return this.#policy;
  }

  /** Sets gen_ai.input.messages / gen_ai.output.messages under the policy. */
  setMessages(span: Span, key: string, messages: ContentMessage[]): void {
    if (messages.length === 0) return;
    this.#detect(span, messageTexts(messages, key === OUTPUT_MESSAGES));
    if (this.#policy === 'none') return;
    this.#set(span, key, () => JSON.stringify(messages.map((m) => this.#maskMessage(m))));
  }

  /** Sets a tool's arguments or result (any JSON value, or text) under the policy. */
  setPayload(span: Span, key: string, payload: unknown): void {
    if (payload === undefined) return;
    const channel: ContentChannel = key === TOOL_ARGUMENTS ? 'tool_arguments' : 'tool_output';
    this.#detect(span, [[typeof payload === 'string' ? payload : safeJson(payload), channel]]);
    if (this.#policy === 'none') return;
    this.#set(span, key, () => this.#mask(typeof payload === 'string' ? payload : safeJson(payload)));
  }

  /** A short free text (an error message) as the policy allows it in plain form: masked, whole, or not at all. */
  text(text: string): string {
    return this.#policy === 'redacted' || this.#policy === 'full' ? this.#mask(text) : '';
  }

  /**
   * The content detectors on the raw texts, before the policy: their verdicts go
   * on the span (DETECTIONS_ATTRIBUTE), merged with those already there, so they
   * reach aispm under every policy, `none` included. Never the text itself.
   */
  #detect(span: Span, texts: [string, ContentChannel][]): void {
    const scanner = contentScannerFor(this.settings.detect);
    let found: ContentDetection[] = [];
    for (const [text, channel] of texts)
      if (text !== '') found = mergeDetections(found, scanner.scanText(text, channel));
    if (found.length === 0) return;
    const all = mergeDetections(this.#detections.get(span) ?? [], found);
    this.#detections.set(span, all);
    span.setAttribute(DETECTIONS_ATTRIBUTE, encodeDetections(all));
  }

  /** Each span's verdicts so far (a span gets its input and its output at different times). */
  readonly #detections = new WeakMap<Span, ContentDetection[]>();

  #set(span: Span, key: string, serialize: () => string): void {
    span.setAttribute(AISPM.capturePolicy, this.#policy);
    const text = serialize().toWellFormed();
    span.setAttribute(
      key,
      this.#policy === 'hash'
        ? hmacHex(this.settings.hmacKey ?? '', text)
        : truncateUtf8(text, this.settings.maxContentBytes),
    );
  }

  #maskMessage(message: ContentMessage): ContentMessage {
    if (this.#policy !== 'redacted') return message;
    const parts = message.parts.map((part): ContentPart => {
      switch (part.type) {
        case 'text':
          return { ...part, content: this.#mask(part.content) };
        case 'tool_call':
          return { ...part, arguments: this.#mask(safeJson(part.arguments)) };
        case 'tool_call_response':
          return { ...part, response: this.#mask(safeJson(part.response)) };
      }
    });
    return { ...message, parts };
  }

  /** Redaction only under `redacted`; hashing and cutting happen once the whole value is serialized. */
  #mask(text: string): string {
    // The redaction input is capped: the kept text is at most maxContentBytes anyway.
    return this.#policy === 'redacted' ? redact(text.slice(0, this.settings.maxContentBytes * 2 + 1024)).text : text;
  }
}

const OUTPUT_MESSAGES = 'gen_ai.output.messages';
const TOOL_ARGUMENTS = 'gen_ai.tool.call.arguments';

/**
 * The texts of chat messages with the channel each is read as: the app's own
 * system instructions are not scanned; tool results are third-party content;
 * a model's output is a completion.
 */
function messageTexts(messages: ContentMessage[], output: boolean): [string, ContentChannel][] {
  const texts: [string, ContentChannel][] = [];
  for (const m of messages) {
    if (!output && (m.role === 'system' || m.role === 'developer')) continue;
    for (const part of m.parts) {
      if (part.type === 'text')
        texts.push([
          part.content,
          output || m.role === 'assistant' ? 'completion' : m.role === 'tool' ? 'tool_output' : 'user_prompt',
        ]);
      else if (part.type === 'tool_call') texts.push([safeJson(part.arguments), 'tool_arguments']);
      else texts.push([safeJson(part.response), 'tool_output']);
    }
  }
  return texts;
}

function safeJson(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
