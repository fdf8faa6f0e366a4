import {
  context as otelContext,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';
import { AISPM, GEN_AI, OPERATIONS } from './attributes.ts';
import { guardOf } from './guard-hook.ts';
import { parseJsonText } from './json.ts';
import { principalAttributes, type ShimTracing } from './tracing.ts';

/**
 * The `ai` SDK (Vercel AI SDK) traces itself (`experimental_telemetry`), with
 * its own `ai.*` attributes and raw prompts, completions and tool arguments in
 * them. Wrapping generateText/streamText would duplicate its spans, so the shim
 * maps them instead, at the source: the SDK gets a tracer whose spans rename
 * `ai.*` attributes to the GenAI conventions as they are set, put content under
 * the capture policy, and drop `ai.*` attributes not known to be metadata. No
 * raw content ever reaches the span, whatever exporter follows.
 */
export interface AiTelemetryOptions {
  /** ai.telemetry.functionId, as the SDK records it. */
  functionId?: string;
  /** Makes the top span (ai.generateText, ai.streamText) an `invoke_agent` span of this agent. */
  agent?: string;
  metadata?: Record<string, AttributeValue>;
}

/** The SDK's TelemetrySettings, structurally (the shim does not depend on `ai`). */
export interface AiTelemetrySettings {
  isEnabled: true;
  recordInputs: boolean;
  recordOutputs: boolean;
  functionId?: string;
  metadata?: Record<string, AttributeValue>;
  tracer: Tracer;
}

export function aiTelemetry(tracing: ShimTracing, options: AiTelemetryOptions = {}): AiTelemetrySettings {
  // Under `none` the SDK is told not to compute content attributes at all.
  const record = tracing.capture.policy !== 'none';
  return {
    isEnabled: true,
    recordInputs: record,
    recordOutputs: record,
    ...(options.functionId === undefined ? {} : { functionId: options.functionId }),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    tracer: new MappingTracer(tracing, options),
  };
}

/**
 * Guard mode for the `ai` SDK, as a language model middleware (structurally the SDK's
 * LanguageModelV3Middleware): `wrapLanguageModel({ model, middleware: shim.aiGuard() })`. Its prompt is
 * checked before each model call: blocked, the call throws GuardBlockedError and the provider is never
 * called; redacted, the model gets the redacted prompt. The verdict goes on the SDK's model call span (when
 * `experimental_telemetry` is on), else on a span of its own.
 */
export interface AiGuardMiddleware {
  readonly specificationVersion: 'v3';
  transformParams<P extends { prompt: unknown }>(options: { type: string; params: P }): PromiseLike<P>;
}

export function aiGuard(tracing: ShimTracing): AiGuardMiddleware {
  return {
    specificationVersion: 'v3',
    async transformParams<P extends { prompt: unknown }>({ params }: { type: string; params: P }): Promise<P> {
      const hook = guardOf(tracing);
      if (hook === undefined) return params;
      await hook.ready;
      const guard = hook.now();
      const active = trace.getActiveSpan();
      const inner = active === undefined ? undefined : (innerSpans.get(active) ?? active);
      const span =
        inner?.isRecording() === true
          ? inner
          : tracing.tracer.startSpan('run_guardrail aispm', {
              attributes: { [GEN_AI.operation]: 'run_guardrail', ...principalAttributes(tracing.principal) },
            });
      try {
        const prompt = guard.aiPrompt(span, params.prompt);
        return prompt === params.prompt ? params : { ...params, prompt };
      } finally {
        if (span !== inner) span.end();
      }
    },
  };
}

/** The SDK's spans as the shim wraps them, to the spans underneath (the guard records events with attributes). */
const innerSpans = new WeakMap<Span, Span>();

/** Metadata the SDK sets that is safe to keep as is. */
const KEPT_PREFIXES = [
  'ai.model.',
  'ai.usage.',
  'ai.settings.',
  'ai.telemetry.',
  'ai.response.',
  'gen_ai.',
  'operation.',
  'resource.',
];
const KEPT_EXACT = new Set(['ai.operationId', 'ai.toolCall.name', 'ai.toolCall.id', 'ai.prompt.toolChoice']);
/** `ai.response.*` keys that hold model output, not metadata. */
const RESPONSE_CONTENT = new Set([
  'ai.response.text',
  'ai.response.object',
  'ai.response.toolCalls',
  'ai.response.reasoning',
  'ai.response.providerMetadata',
]);

class MappingTracer implements Tracer {
  readonly #tracing: ShimTracing;
  readonly #options: AiTelemetryOptions;

  constructor(tracing: ShimTracing, options: AiTelemetryOptions) {
    this.#tracing = tracing;
    this.#options = options;
  }

  startSpan(name: string, options: SpanOptions = {}, ctx?: Context): Span {
    const span = this.#tracing.tracer.startSpan(name, { ...options, attributes: {} }, ctx);
    const mapped = new MappingSpan(span, name, this.#tracing, this.#options);
    mapped.setAttributes({ ...principalAttributes(this.#tracing.principal), ...(options.attributes ?? {}) });
    return mapped;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args.at(-1) as F;
    const options = (args.length >= 2 ? args[0] : {}) as SpanOptions;
    const parent = (args.length >= 3 ? args[1] : otelContext.active()) as Context;
    const span = this.startSpan(name, options, parent);
    return otelContext.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}

/** A span that maps the ai SDK's attributes as they are set. */
class MappingSpan implements Span {
  readonly #span: Span;
  readonly #tracing: ShimTracing;
  readonly #kind: 'call' | 'tool' | 'top' | 'other';

  constructor(span: Span, name: string, tracing: ShimTracing, options: AiTelemetryOptions) {
    this.#span = span;
    this.#tracing = tracing;
    innerSpans.set(this, span);
    this.#kind =
      name === 'ai.toolCall'
        ? 'tool'
        : /\.(doGenerate|doStream)$/.test(name)
          ? 'call'
          : /^ai\.(generate|stream)Text$/.test(name)
            ? 'top'
            : 'other';
    if (this.#kind === 'call') span.setAttribute(GEN_AI.operation, OPERATIONS.chat);
    if (this.#kind === 'tool') {
      span.setAttributes({ [GEN_AI.operation]: OPERATIONS.executeTool, [GEN_AI.toolType]: 'function' });
    }
    // Every span of the run belongs to the agent (the event's partition key), the top one is its invocation.
    if (options.agent !== undefined) span.setAttribute(GEN_AI.agentName, options.agent);
    if (this.#kind === 'top' && options.agent !== undefined)
      span.setAttribute(GEN_AI.operation, OPERATIONS.invokeAgent);
  }

  spanContext() {
    return this.#span.spanContext();
  }

  setAttribute(key: string, value: AttributeValue): this {
    this.#map(key, value);
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const [key, value] of Object.entries(attributes)) if (value !== undefined) this.#map(key, value);
    return this;
  }

  addEvent(name: string, ...rest: unknown[]): this {
    // Events of the ai SDK carry content (first chunk text); only the name is kept.
    void rest;
    this.#span.addEvent(name);
    return this;
  }

  addLink(...args: Parameters<Span['addLink']>): this {
    this.#span.addLink(...args);
    return this;
  }

  addLinks(...args: Parameters<Span['addLinks']>): this {
    this.#span.addLinks(...args);
    return this;
  }

  setStatus(...args: Parameters<Span['setStatus']>): this {
    this.#span.setStatus(...args);
    return this;
  }

  updateName(name: string): this {
    this.#span.updateName(name);
    return this;
  }

  end(...args: Parameters<Span['end']>): void {
    this.#span.end(...args);
  }

  isRecording(): boolean {
    return this.#span.isRecording();
  }

  recordException(...args: Parameters<Span['recordException']>): void {
    this.#span.recordException(...args);
  }

  #map(key: string, value: AttributeValue): void {
    const span = this.#span;
    const capture = this.#tracing.capture;
    switch (key) {
      case 'ai.model.provider':
        // "openai.chat" → "openai": the provider, not the API surface.
        if (typeof value === 'string') span.setAttribute(GEN_AI.provider, value.split('.')[0] ?? value);
        break;
      case 'ai.model.id':
        if (this.#kind !== 'other') span.setAttribute(GEN_AI.requestModel, value);
        break;
      case 'ai.toolCall.name':
        span.setAttributes({
          [GEN_AI.toolName]: value,
          [AISPM.toolRisk]: this.#tracing.toolRisks.get(String(value)) ?? 'unknown',
        });
        return;
      case 'ai.toolCall.id':
        span.setAttribute(GEN_AI.toolCallId, value);
        return;
      case 'ai.toolCall.args':
        capture.setPayload(span, GEN_AI.toolArguments, parseJsonText(value));
        return;
      case 'ai.toolCall.result':
        capture.setPayload(span, GEN_AI.toolResult, parseJsonText(value));
        return;
      case 'ai.prompt.messages':
      case 'ai.prompt':
        if (this.#kind !== 'other') capture.setPayload(span, GEN_AI.inputMessages, value);
        return;
      case 'ai.response.text':
        capture.setMessages(span, GEN_AI.outputMessages, [
          { role: 'assistant', parts: [{ type: 'text', content: String(value) }] },
        ]);
        return;
      case 'ai.usage.cachedInputTokens':
      case 'ai.usage.inputTokenDetails.cacheReadTokens':
        span.setAttribute(GEN_AI.cacheReadTokens, value);
        break;
      case 'ai.usage.inputTokenDetails.cacheWriteTokens':
        span.setAttribute(GEN_AI.cacheCreationTokens, value);
        break;
      case 'ai.usage.reasoningTokens':
      case 'ai.usage.outputTokenDetails.reasoningTokens':
        span.setAttribute(GEN_AI.reasoningTokens, value);
        break;
      case 'ai.usage.inputTokens':
      case 'ai.usage.promptTokens':
        if (this.#kind === 'call') span.setAttribute(GEN_AI.inputTokens, value);
        break;
      case 'ai.usage.outputTokens':
      case 'ai.usage.completionTokens':
        if (this.#kind === 'call') span.setAttribute(GEN_AI.outputTokens, value);
        break;
    }
    if (
      key.startsWith('aispm.') ||
      KEPT_EXACT.has(key) ||
      (KEPT_PREFIXES.some((p) => key.startsWith(p)) && !RESPONSE_CONTENT.has(key))
    ) {
      // The ai SDK puts token counts of all steps on the top span under gen_ai.* too; keep them on model calls only.
      if (this.#kind === 'top' && key.startsWith('gen_ai.usage.')) return;
      span.setAttribute(key, value);
    }
  }
}
