import { createHash } from 'node:crypto';
import {
  captureContent,
  identifierProtectorFor,
  redact,
  truncateUtf8,
  type AvroCodec,
  type CaptureOptions,
  type GenAiLogEvent,
  type GenAiMetricPoint,
  type OutgoingRecord,
  type RejectedSpan,
} from '@aispm/core';

/**
 * OTLP logs and metrics (OTLP/JSON shape, as signals.ts decodes protobuf to) → GenAI records.
 *
 * Logs: a record is a GenAI event when its event_name field (or, for SDKs before that
 * field, its `event.name` attribute) starts with `gen_ai.`: the message events of the
 * GenAI semantic conventions (gen_ai.system.message, gen_ai.user.message,
 * gen_ai.assistant.message, gen_ai.tool.message, gen_ai.choice) and the newer
 * gen_ai.client.inference.operation.details. Its content (the body, or for operation
 * details the gen_ai.input.messages / gen_ai.output.messages / gen_ai.system_instructions
 * attributes) goes through the content detectors and the capture policy exactly as a
 * span's prompt does: only what the policy keeps travels on. Other records are dropped.
 *
 * Metrics: histogram points of `gen_ai.*` metrics (gen_ai.client.token.usage,
 * gen_ai.client.operation.duration, and the server ones) become one record each, exponential
 * histograms as the explicit histogram of their buckets (explicitBuckets); other metrics are
 * dropped, counted by reason. Attribute values other than the GenAI labels are identifiers
 * to the capture policy (an app may put a user id there): protected as a span's user is.
 */

export interface SignalOptions {
  tenant: string;
  capture: CaptureOptions;
  /** The clock a record without a time is stamped with. */
  nowMs: number;
}

export interface MappedSignal {
  records: OutgoingRecord[];
  /** Items accepted and dropped on purpose, by reason (not_genai, no_event_name, unsupported_type). */
  dropped: Record<string, number>;
  /** Items that claim to be GenAI but no valid record can be made of (partial_success). */
  rejected: RejectedSpan[];
}

type Json = Record<string, unknown>;

const HEX_TRACE = /^[0-9a-f]{32}$/;
const HEX_SPAN = /^[0-9a-f]{16}$/;
const MAX_NAME = 256;
const MAX_LABEL = 256;
const MAX_ATTRIBUTES = 32;
const ROLE_OF: Record<string, string> = {
  'gen_ai.system.message': 'system',
  'gen_ai.user.message': 'user',
  'gen_ai.assistant.message': 'assistant',
  'gen_ai.tool.message': 'tool',
  'gen_ai.choice': 'assistant',
};
const DETAILS_ATTRIBUTES = ['gen_ai.system_instructions', 'gen_ai.input.messages', 'gen_ai.output.messages'];

const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

/** An OTLP/JSON AnyValue as a plain value: int64 as a decimal string, bytes as base64. */
export function plainValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Json;
  if ('stringValue' in v) return typeof v.stringValue === 'string' ? v.stringValue : String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return String(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return list((v.arrayValue as Json | null)?.values).map(plainValue);
  if ('kvlistValue' in v) return plainAttributes((v.kvlistValue as Json | null)?.values);
  if ('bytesValue' in v) return String(v.bytesValue);
  return null;
}

function plainAttributes(values: unknown): Json {
  const out: Json = {};
  for (const kv of list(values)) if (typeof kv.key === 'string') out[kv.key] = plainValue(kv.value);
  return out;
}

function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Nanoseconds since the epoch (a decimal string or a number) → microseconds; null when absent or not a time. */
function micros(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  try {
    if (typeof value !== 'number' && typeof value !== 'string') return null;
    const n = BigInt(typeof value === 'number' ? Math.trunc(value) : value);
    return n > 0n ? Number(n / 1000n) : null;
  } catch {
    return null;
  }
}

/** A hex id in OTLP/JSON; empty (or all zeros) means none. */
function id(value: unknown, pattern: RegExp): string | null {
  const text = typeof value === 'string' ? value.toLowerCase() : '';
  if (text === '' || /^0+$/.test(text)) return '';
  return pattern.test(text) ? text : null;
}

const digest = (...parts: string[]): string =>
  createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);

function count(dropped: Record<string, number>, reason: string, n = 1): void {
  if (n > 0) dropped[reason] = (dropped[reason] ?? 0) + n;
}

function serviceName(resource: unknown): string {
  const name = plainAttributes((resource as Json | undefined)?.attributes)['service.name'];
  return typeof name === 'string' && name !== '' ? label(name) : 'unknown_service';
}

/** A label (app, model, attribute value): PII and secrets masked, then cut. */
function label(value: string): string {
  return truncateUtf8(redact(value.slice(0, 4 * MAX_LABEL)).text, MAX_LABEL);
}

/** An ExportLogsServiceRequest in OTLP/JSON shape → GenAI log event records (Avro) for the genai-logs topic. */
export function mapLogs(request: Json, options: SignalOptions, codec: AvroCodec<GenAiLogEvent>): MappedSignal {
  const out: MappedSignal = { records: [], dropped: {}, rejected: [] };
  list(request.resourceLogs).forEach((rl, r) => {
    const app = serviceName(rl.resource);
    list(rl.scopeLogs).forEach((sl, s) => {
      list(sl.logRecords).forEach((record, i) => {
        const path = `resourceLogs[${r}].scopeLogs[${s}].logRecords[${i}]`;
        const attributes = plainAttributes(record.attributes);
        const named = typeof record.eventName === 'string' && record.eventName !== '' ? record.eventName : null;
        const eventName = named ?? (typeof attributes['event.name'] === 'string' ? attributes['event.name'] : null);
        if (eventName === null) return count(out.dropped, 'no_event_name');
        if (!eventName.startsWith('gen_ai.')) return count(out.dropped, 'not_genai');
        const result = logEvent(record, attributes, eventName, app, [r, s, i], options);
        if (typeof result === 'string') {
          out.rejected.push({ path, reason: result });
          return;
        }
        out.records.push({ key: `${result.tenant}/${result.trace_id || result.log_id}`, value: codec.encode(result) });
      });
    });
  });
  return out;
}

function logEvent(
  record: Json,
  attributes: Json,
  eventName: string,
  app: string,
  position: number[],
  options: SignalOptions,
): GenAiLogEvent | string {
  if (eventName.length > MAX_NAME) return `event name is over ${MAX_NAME} characters`;
  const traceId = id(record.traceId, HEX_TRACE);
  if (traceId === null) return 'traceId is not 32 hex digits';
  const spanId = id(record.spanId, HEX_SPAN);
  if (spanId === null) return 'spanId is not 16 hex digits';
  const time = micros(record.timeUnixNano) ?? micros(record.observedTimeUnixNano) ?? options.nowMs * 1000;
  const body = record.body === undefined ? null : plainValue(record.body);
  let raw: string | null;
  if (eventName === 'gen_ai.client.inference.operation.details') {
    const parts: Json = {};
    for (const key of DETAILS_ATTRIBUTES) if (attributes[key] !== undefined) parts[key] = attributes[key];
    if (body !== null) parts.body = body;
    raw = Object.keys(parts).length > 0 ? JSON.stringify(parts) : null;
  } else {
    raw = asText(body);
  }
  // The content detectors see the raw text whatever the policy keeps; only their verdicts travel on.
  const detected = raw === null ? [] : redact(raw).kinds;
  const content = captureContent(
    { prompt: raw, completion: null, tool_arguments: null, tool_result: null },
    options.capture,
  );
  const event: GenAiLogEvent = {
    tenant: options.tenant,
    log_id: '',
    trace_id: traceId,
    span_id: spanId,
    time,
    app,
    event_name: eventName,
    role: roleOf(eventName, body, attributes),
    content_policy: content.policy,
    content: content.prompt,
    detected,
  };
  // Computed from the stored record (never from raw text): a replay or a resent request gets the same id.
  event.log_id = digest(
    event.tenant,
    traceId,
    spanId,
    String(time),
    eventName,
    position.join('.'),
    event.role ?? '',
    event.content ?? '',
  );
  return event;
}

function roleOf(eventName: string, body: unknown, attributes: Json): string | null {
  const b = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Json) : {};
  const message = typeof b.message === 'object' && b.message !== null ? (b.message as Json) : {};
  const candidates = [attributes['gen_ai.role'], b.role, message.role, ROLE_OF[eventName]];
  for (const c of candidates) if (typeof c === 'string' && /^[A-Za-z_-]{1,32}$/.test(c)) return c.toLowerCase();
  return null;
}

const TEMPORALITY: Record<number, string> = { 1: 'delta', 2: 'cumulative' };
const KNOWN_POINT_ATTRIBUTES = new Set([
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.system',
  'gen_ai.request.model',
  'gen_ai.response.model',
  'gen_ai.token.type',
  'error.type',
]);

/** An ExportMetricsServiceRequest in OTLP/JSON shape → GenAI histogram points (Avro) for the genai-metrics topic. */
export function mapMetrics(request: Json, options: SignalOptions, codec: AvroCodec<GenAiMetricPoint>): MappedSignal {
  const out: MappedSignal = { records: [], dropped: {}, rejected: [] };
  list(request.resourceMetrics).forEach((rm, r) => {
    const app = serviceName(rm.resource);
    list(rm.scopeMetrics).forEach((sm, s) => {
      list(sm.metrics).forEach((metric, m) => {
        const path = `resourceMetrics[${r}].scopeMetrics[${s}].metrics[${m}]`;
        const name = typeof metric.name === 'string' ? metric.name : '';
        const exponential = metric.exponentialHistogram as Json | undefined;
        const histogram =
          (metric.histogram as Json | undefined) ??
          (exponential && { ...exponential, dataPoints: list(exponential.dataPoints).map(explicitBuckets) });
        if (!name.startsWith('gen_ai.')) return count(out.dropped, 'not_genai', otherPoints(metric));
        if (!histogram) return count(out.dropped, 'unsupported_type', otherPoints(metric));
        const temporality = TEMPORALITY[Number(histogram.aggregationTemporality)] ?? 'unspecified';
        list(histogram.dataPoints).forEach((point, p) => {
          const result = metricPoint(
            point,
            name,
            typeof metric.unit === 'string' ? metric.unit : '',
            temporality,
            app,
            options,
          );
          if (typeof result === 'string') out.rejected.push({ path: `${path}.dataPoints[${p}]`, reason: result });
          else out.records.push({ key: `${result.tenant}/${name}`, value: codec.encode(result) });
        });
      });
    });
  });
  return out;
}

/**
 * An exponential histogram point as the explicit histogram of the same buckets: bucket
 * i of the positive range holds values in (base^(offset+i), base^(offset+i+1)], base =
 * 2^(2^-scale), so its upper bounds are explicit bounds; the zero bucket and any
 * negative values (GenAI token counts and durations have none) fall in the first.
 */
export function explicitBuckets(point: Json): Json {
  const scale = Number(point.scale ?? 0);
  const positive = (point.positive ?? {}) as Json;
  const offset = Number(positive.offset ?? 0);
  const counts = (Array.isArray(positive.bucketCounts) ? positive.bucketCounts : []).map(Number);
  const negative = (
    Array.isArray((point.negative as Json | undefined)?.bucketCounts)
      ? ((point.negative as Json).bucketCounts as unknown[])
      : []
  ).map(Number);
  const below = Number(point.zeroCount ?? 0) + negative.reduce((a, b) => a + b, 0);
  const base = 2 ** (2 ** -scale);
  const bounds = [...Array(counts.length + 1).keys()].map((i) => base ** (offset + i));
  return { ...point, explicitBounds: bounds, bucketCounts: [below, ...counts, 0] };
}

function otherPoints(metric: Json): number {
  for (const kind of ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']) {
    const data = metric[kind] as Json | undefined;
    if (data) return Math.max(1, list(data.dataPoints).length);
  }
  return 1;
}

function metricPoint(
  point: Json,
  metric: string,
  unit: string,
  temporality: string,
  app: string,
  options: SignalOptions,
): GenAiMetricPoint | string {
  if (metric.length > MAX_NAME) return `metric name is over ${MAX_NAME} characters`;
  const time = micros(point.timeUnixNano);
  if (time === null) return 'timeUnixNano is missing';
  const startTime = micros(point.startTimeUnixNano) ?? 0;
  const bounds = (Array.isArray(point.explicitBounds) ? point.explicitBounds : []).map(Number);
  const buckets = (Array.isArray(point.bucketCounts) ? point.bucketCounts : []).map(Number);
  const total = Number(point.count ?? 0);
  if (![...bounds, ...buckets, total].every(Number.isFinite)) return 'a count or bound is not a number';
  if (buckets.length !== 0 && buckets.length !== bounds.length + 1)
    return `bucketCounts has ${buckets.length} entries for ${bounds.length} explicitBounds (expected ${bounds.length + 1})`;
  const all = plainAttributes(point.attributes);
  const get = (...keys: string[]): string => {
    for (const key of keys) if (typeof all[key] === 'string' && all[key] !== '') return label(all[key]);
    return '';
  };
  const attributes: Record<string, string> = {};
  const protect = identifierProtectorFor(options.tenant, options.capture);
  for (const key of Object.keys(all).sort()) {
    if (KNOWN_POINT_ATTRIBUTES.has(key) || Object.keys(attributes).length >= MAX_ATTRIBUTES) continue;
    attributes[label(key)] = label(protect(asText(all[key]) ?? ''));
  }
  const number = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const value: GenAiMetricPoint = {
    tenant: options.tenant,
    point_id: '',
    time,
    start_time: startTime,
    metric: label(metric),
    unit: label(unit),
    temporality,
    app,
    operation: get('gen_ai.operation.name'),
    provider: get('gen_ai.provider.name', 'gen_ai.system'),
    request_model: get('gen_ai.request.model'),
    response_model: get('gen_ai.response.model'),
    token_type: get('gen_ai.token.type'),
    error_type: get('error.type'),
    attributes,
    count: total,
    sum: number(point.sum),
    min: number(point.min),
    max: number(point.max),
    bounds,
    bucket_counts: buckets,
  };
  const series = JSON.stringify([value.app, value.metric, value.operation, value.provider, value.request_model]);
  value.point_id = digest(
    value.tenant,
    series,
    JSON.stringify([value.response_model, value.token_type, value.error_type, attributes]),
    String(startTime),
    String(time),
  );
  return value;
}
