import { SpanKind, context, type Span } from '@opentelemetry/api';
import { GEN_AI, OPERATIONS } from './attributes.ts';
import type { ContentMessage } from './content.ts';
import { runInSpan, startToolSpan, type ToolCall } from './tools.ts';
import {
  principalAttributes,
  setCount,
  setText,
  startModelSpan,
  withAgentScope,
  type AgentScope,
  type ShimTracing,
} from './tracing.ts';

/**
 * Helpers for home-grown agents, whose model and tool calls no SDK
 * instrumentation sees. Each runs `fn` in a span (sync or async), records its
 * outcome, and rethrows its error after marking the span failed.
 */
export interface AgentHelpers {
  /** An `invoke_agent {name}` span; every span started inside carries the agent's name, id and principal. */
  withAgent<T>(agent: AgentScope, fn: (span: Span) => T): T;
  /** An `execute_tool {name}` span; the returned value is the tool result (captured under the policy). */
  withTool<T>(tool: ToolCall, fn: (span: Span) => T): T;
  /** A model call span; `fn` reports what the model answered through `call.record(...)`. */
  withLLMCall<T>(request: LLMRequest, fn: (call: LLMCall) => T): T;
}

export interface LLMRequest {
  provider: string;
  model: string;
  /** chat (default), text_completion, embeddings, ... */
  operation?: string;
  /** The endpoint, for server.address. */
  url?: string;
  /** The prompt: plain text (a user message) or messages. */
  input?: string | ContentMessage[];
}

export interface LLMResponse {
  id?: string;
  model?: string;
  finishReasons?: string[];
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheCreationTokens?: number;
  reasoningTokens?: number;
  /** The completion: plain text (an assistant message) or messages. */
  output?: string | ContentMessage[];
}

export interface LLMCall {
  readonly span: Span;
  record(response: LLMResponse): void;
}

export function agentHelpers(tracing: ShimTracing): AgentHelpers {
  return {
    withAgent(agent, fn) {
      return context.with(withAgentScope(context.active(), agent), () => {
        const span = tracing.tracer.startSpan(`${OPERATIONS.invokeAgent} ${agent.name}`, {
          kind: SpanKind.INTERNAL,
          attributes: { [GEN_AI.operation]: OPERATIONS.invokeAgent, ...principalAttributes(tracing.principal) },
        });
        return runInSpan(tracing, span, fn, () => undefined);
      });
    },
    withTool(tool, fn) {
      return runInSpan(tracing, startToolSpan(tracing, tool), fn, (span, result) =>
        tracing.capture.setPayload(span, GEN_AI.toolResult, result),
      );
    },
    withLLMCall(request, fn) {
      const span = startModelSpan(
        tracing,
        request.operation ?? OPERATIONS.chat,
        request.provider,
        request.model,
        request.url,
      );
      tracing.capture.setMessages(span, GEN_AI.inputMessages, messages(request.input, 'user'));
      const call: LLMCall = { span, record: (response) => recordResponse(tracing, span, response) };
      return runInSpan(
        tracing,
        span,
        () => fn(call),
        () => undefined,
      );
    },
  };
}

function recordResponse(tracing: ShimTracing, span: Span, response: LLMResponse): void {
  setText(span, GEN_AI.responseId, response.id);
  setText(span, GEN_AI.responseModel, response.model);
  if (response.finishReasons && response.finishReasons.length > 0)
    span.setAttribute(GEN_AI.finishReasons, response.finishReasons);
  setCount(span, GEN_AI.inputTokens, response.inputTokens);
  setCount(span, GEN_AI.outputTokens, response.outputTokens);
  setCount(span, GEN_AI.cacheReadTokens, response.cacheReadTokens);
  setCount(span, GEN_AI.cacheCreationTokens, response.cacheCreationTokens);
  setCount(span, GEN_AI.reasoningTokens, response.reasoningTokens);
  tracing.capture.setMessages(span, GEN_AI.outputMessages, messages(response.output, 'assistant'));
}

function messages(value: string | ContentMessage[] | undefined, role: string): ContentMessage[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [{ role, parts: [{ type: 'text', content: value }] }] : value;
}
