import type { ContentDetection } from '../detect/verdict.ts';

/**
 * The normalized AI event, one per AI span. Field names are those of
 * schemas/avro/ai-event.v3.avsc and of the ClickHouse `events` table, so a record
 * crosses Avro, TypeScript and SQL without renaming. `event.test.ts` checks that
 * this type and the Avro schema list the same fields.
 */
export const EVENT_KINDS = ['llm_call', 'tool_call', 'agent_action', 'retrieval', 'embedding', 'guardrail'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const TOOL_RISKS = ['unknown', 'read', 'write', 'execute', 'egress', 'privileged'] as const;
export type ToolRisk = (typeof TOOL_RISKS)[number];

export const CAPTURE_POLICIES = ['none', 'hash', 'redacted', 'full'] as const;
export type CapturePolicy = (typeof CAPTURE_POLICIES)[number];

export type EventStatus = 'ok' | 'error';

/** How an event's agent (and user, conversation, identity) was attributed, by trace assembly. */
export const ATTRIBUTIONS = ['own', 'inherited', 'none'] as const;
export type Attribution = (typeof ATTRIBUTIONS)[number];

export interface EventContent {
  policy: CapturePolicy;
  prompt: string | null;
  completion: string | null;
  tool_arguments: string | null;
  tool_result: string | null;
}

export interface AiEvent {
  event_id: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  tenant: string;
  /** Span start, microseconds since the Unix epoch. */
  time: number;
  kind: EventKind;
  operation: string | null;
  app: string;
  environment: string;
  agent: string | null;
  user: string | null;
  identity: string | null;
  scopes: string[];
  conversation_id: string | null;
  provider: string | null;
  request_model: string | null;
  response_model: string | null;
  tool_name: string | null;
  tool_risk: ToolRisk | null;
  destination: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  latency_ms: number;
  status: EventStatus;
  error_type: string | null;
  finish_reasons: string[];
  content: EventContent;
  attributes: Record<string, string>;
  /**
   * Verdicts of the content detectors, made on the raw text before the capture
   * policy applied (so present under policy `none`); strongest first, bounded.
   * Absent (empty on the wire) when no detector fired or none ran.
   */
  detections?: ContentDetection[];
  /** Set by trace assembly; absent (null on the wire) before it. */
  attribution?: Attribution | null;
}

/**
 * The events topic's key: every span of a trace lands on one partition, where
 * trace assembly (processor, traces stage) attributes and merges them.
 */
export function traceKey(event: Pick<AiEvent, 'tenant' | 'trace_id'>): string {
  return `${event.tenant}/${event.trace_id}`;
}

/** The attributed topic's key: all events of one agent (or app, when there is no agent) land on one partition, in order. */
export function eventKey(event: Pick<AiEvent, 'tenant' | 'app' | 'agent'>): string {
  return `${event.tenant}/${event.app}/${event.agent ?? '-'}`;
}

/** A deterministic event id from the span's identity, so a replayed span is recognised as the same event. */
export function eventIdOf(traceId: string, spanId: string): string {
  return `${traceId}${spanId}`;
}
