import { captureContent, type CaptureOptions } from '../content/capture.ts';
import { eventIdOf, TOOL_RISKS, type AiEvent, type EventKind, type ToolRisk } from '../event/types.ts';
import { EVENT_LIMITS, invalidReason } from '../event/validate.ts';
import { identifier, stringList, tokenCount } from './attribute-read.ts';
import { classify } from './classify.ts';
import { extractContent, finishReasons } from './content-attributes.ts';
import { eventAttributes } from './event-attributes.ts';
import type { SpanAttributes, SpanInput } from './span-input.ts';

export interface SpanToEventOptions {
  tenant: string;
  capture: CaptureOptions;
  /** The clock invalidReason judges the span's time against; defaults to now. */
  nowMs?: number;
}

/** An event; or a span that is not an AI action (not an error); or an AI span no valid event can be made of. */
export type SpanToEventResult = { event: AiEvent } | { ignored: string } | { rejected: string };

/**
 * OpenTelemetry service.name is required, and SDKs fill it in as
 * `unknown_service[:process]`. A sender without one gets the same default
 * instead of losing the span: security monitoring must see unnamed apps too.
 */
export const UNKNOWN_APP = 'unknown_service';

/**
 * Maps one span onto the AiEvent, reading the OTel GenAI (`gen_ai.*`),
 * OpenInference and OpenLLMetry conventions plus aispm's own `aispm.*`
 * attributes. Content goes through the capture policy and nowhere else.
 */
export function spanToEvent(span: SpanInput, options: SpanToEventOptions): SpanToEventResult {
  const classified = classify(span.attributes);
  if ('ignored' in classified) return classified;
  const { kind, operation } = classified;
  const attributes = span.attributes;
  const unusable: string[] = [];
  const errorType = identifier(attributes, 'error.type');
  const failed = span.status.code === 'error' || errorType !== null;
  const event: AiEvent = {
    event_id: eventIdOf(span.traceId, span.spanId),
    trace_id: span.traceId,
    span_id: span.spanId,
    parent_span_id: span.parentSpanId,
    tenant: options.tenant,
    time: span.startTimeUnixMicros,
    kind,
    operation,
    app: identifier(span.resource, 'service.name') ?? UNKNOWN_APP,
    environment: environment(span) ?? 'default',
    agent: agent(attributes),
    user: identifier(attributes, 'enduser.id', 'user.id', 'gen_ai.user.id', 'traceloop.association.properties.user_id'),
    identity: identifier(attributes, 'aispm.identity'),
    scopes: stringList(attributes, 'aispm.scopes', 64, EVENT_LIMITS.maxIdentifierLength),
    conversation_id: identifier(
      attributes,
      'gen_ai.conversation.id',
      'session.id',
      'traceloop.association.properties.session_id',
    ),
    provider: identifier(attributes, 'gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system'),
    request_model: identifier(
      attributes,
      'gen_ai.request.model',
      'llm.request.model_name',
      'llm.model_name',
      'embedding.model_name',
    ),
    response_model: identifier(attributes, 'gen_ai.response.model', 'llm.response.model_name', 'llm.model_name'),
    tool_name: identifier(attributes, 'gen_ai.tool.name', 'tool.name') ?? traceloopEntity(attributes, 'tool'),
    tool_risk: toolRisk(attributes, kind),
    destination: identifier(attributes, 'server.address'),
    input_tokens: tokenCount(
      attributes,
      ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.token_count.prompt'],
      unusable,
    ),
    output_tokens: tokenCount(
      attributes,
      ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.token_count.completion'],
      unusable,
    ),
    latency_ms: (span.endTimeUnixMicros - span.startTimeUnixMicros) / 1000,
    status: failed ? 'error' : 'ok',
    // `_OTHER` is the GenAI conventions' error.type for an error of no known class.
    error_type: failed
      ? (errorType ?? span.exceptionType?.slice(0, EVENT_LIMITS.maxIdentifierLength) ?? '_OTHER')
      : null,
    finish_reasons: finishReasons(attributes),
    content: captureContent(
      extractContent(attributes, kind),
      options.capture,
      identifier(attributes, 'aispm.capture.policy') ?? undefined,
    ),
    attributes: eventAttributes(span, unusable),
  };
  const reason = invalidReason(event, options.nowMs ?? Date.now());
  return reason === null ? { event } : { rejected: reason };
}

/** deployment.environment.name (current) or deployment.environment (older), on the resource or else the span. */
function environment(span: SpanInput): string | null {
  const keys = ['deployment.environment.name', 'deployment.environment'];
  return identifier(span.resource, ...keys) ?? identifier(span.attributes, ...keys);
}

/** The agent the span belongs to; aispm.agent (set by the shim on every span) is the fallback. */
function agent(attributes: SpanAttributes): string | null {
  return (
    identifier(attributes, 'gen_ai.agent.name', 'gen_ai.agent.id', 'agent.name') ??
    traceloopEntity(attributes, 'agent') ??
    identifier(attributes, 'aispm.agent')
  );
}

/** OpenLLMetry names its agent and tool spans' subject in traceloop.entity.name. */
function traceloopEntity(attributes: SpanAttributes, spanKind: 'agent' | 'tool'): string | null {
  return identifier(attributes, 'traceloop.span.kind')?.toLowerCase() === spanKind
    ? identifier(attributes, 'traceloop.entity.name')
    : null;
}

/** aispm.tool.risk when declared (an unknown class reads as 'unknown'); every tool call has a risk, 'unknown' by default. */
function toolRisk(attributes: SpanAttributes, kind: EventKind): ToolRisk | null {
  const declared = identifier(attributes, 'aispm.tool.risk')?.toLowerCase();
  if (declared !== undefined) return TOOL_RISKS.find((risk) => risk === declared) ?? 'unknown';
  return kind === 'tool_call' ? 'unknown' : null;
}
