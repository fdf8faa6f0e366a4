import type { AiEvent } from '@aispm/core';
import type { AvroColumns, Row } from './store.ts';

/** The table eventRow() writes, created by schemas/clickhouse/001_events.sql. */
export const EVENTS_TABLE = 'events';

/**
 * The JSONEachRow row of the `events` table for one event. Absent labels and
 * ids become '' and the content record is flattened to content_<field>, as the
 * table's header explains; ingested_at is left to the table's default.
 */
export function eventRow(event: AiEvent): Row {
  return {
    event_id: event.event_id,
    trace_id: event.trace_id,
    span_id: event.span_id,
    parent_span_id: event.parent_span_id ?? '',
    tenant: event.tenant,
    time: clickhouseTime(event.time),
    kind: event.kind,
    operation: event.operation ?? '',
    app: event.app,
    environment: event.environment,
    agent: event.agent ?? '',
    user: event.user ?? '',
    identity: event.identity ?? '',
    scopes: event.scopes,
    conversation_id: event.conversation_id ?? '',
    provider: event.provider ?? '',
    request_model: event.request_model ?? '',
    response_model: event.response_model ?? '',
    tool_name: event.tool_name ?? '',
    tool_risk: event.tool_risk ?? '',
    destination: event.destination ?? '',
    input_tokens: event.input_tokens,
    output_tokens: event.output_tokens,
    latency_ms: event.latency_ms,
    status: event.status,
    error_type: event.error_type ?? '',
    finish_reasons: event.finish_reasons,
    content_policy: event.content.policy,
    content_prompt: event.content.prompt,
    content_completion: event.content.completion,
    content_tool_arguments: event.content.tool_arguments,
    content_tool_result: event.content.tool_result,
    attributes: event.attributes,
    detections: event.detections ?? [],
    attribution: event.attribution ?? '',
  };
}

/** Event fields read as they are. */
const AS_IS = [
  'event_id',
  'trace_id',
  'span_id',
  'tenant',
  'time',
  'kind',
  'app',
  'environment',
  'scopes',
  'input_tokens',
  'output_tokens',
  'latency_ms',
  'status',
  'finish_reasons',
  'attributes',
  'detections',
] as const;
/** Optional labels and ids: null in the event, '' in the table. */
const OR_EMPTY = [
  'parent_span_id',
  'operation',
  'agent',
  'user',
  'identity',
  'conversation_id',
  'provider',
  'request_model',
  'response_model',
  'tool_name',
  'tool_risk',
  'destination',
  'error_type',
  'attribution',
] as const;
const CONTENT = ['policy', 'prompt', 'completion', 'tool_arguments', 'tool_result'] as const;

/**
 * The `events` rows of event records as they are on the events topic (the event
 * codec's schema, schemas/avro/ai-event.v3.avsc), for Store.insertAvro: the same
 * rows eventRow() makes. Enums read as their symbols, the timestamp-micros time as
 * DateTime64(6), the content record as a tuple.
 */
export const EVENTS_FROM_AVRO: AvroColumns = {
  structure: [
    "event_id String, trace_id String, span_id String, tenant String, time DateTime64(6, 'UTC'), kind String",
    'app String, environment String, scopes Array(String), input_tokens Nullable(Int64)',
    'output_tokens Nullable(Int64), latency_ms Float64, status String, finish_reasons Array(String)',
    'attributes Map(String, String)',
    'detections Array(Tuple(detector String, rule String, kind String, channel String, score Float64, ' +
      'severity String, excerpt String, start Int32, end Int32, via String))',
    ...OR_EMPTY.map((field) => `${field} Nullable(String)`),
    'content Tuple(policy String, prompt Nullable(String), completion Nullable(String), ' +
      'tool_arguments Nullable(String), tool_result Nullable(String))',
  ].join(', '),
  columns: Object.fromEntries<string>([
    ...AS_IS.map((field) => [field, field] as const),
    ...OR_EMPTY.map((field) => [field, `ifNull(${field}, '')`] as const),
    ...CONTENT.map((field) => [`content_${field}`, `content.${field}`] as const),
  ]),
};

/**
 * Microseconds since the epoch as 'YYYY-MM-DD hh:mm:ss.ffffff' in UTC: the form
 * DateTime64(6, 'UTC') parses exactly under any date_time_input_format, where a
 * JSON number would pass through a double and lose the last digits.
 */
export function clickhouseTime(micros: number): string {
  const whole = Math.floor(micros);
  const seconds = Math.floor(whole / 1_000_000);
  const fraction = whole - seconds * 1_000_000;
  const date = new Date(seconds * 1000).toISOString(); // 'YYYY-MM-DDThh:mm:ss.000Z'
  return `${date.slice(0, 10)} ${date.slice(11, 19)}.${String(fraction).padStart(6, '0')}`;
}
