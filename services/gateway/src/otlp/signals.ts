import type { RejectedSpan } from '@aispm/core';
import {
  anyValue,
  hex,
  InvalidUtf8,
  keyValues,
  root,
  text,
  UndecodableBody,
  type Int64,
  type OtlpJson,
  type PbAnyValue,
  type PbKeyValue,
} from './proto.ts';

/**
 * OTLP logs and metrics (logs-metrics.proto) decoded into their OTLP/JSON shape, so one
 * mapping (genai.ts) reads both encodings: ids as hex, 64-bit integers as decimal strings.
 * A record or point with a string that is not UTF-8 is left out and reported.
 */
const LogsRequest = root.lookupType('opentelemetry.proto.ExportLogsServiceRequest');
const LogsResponse = root.lookupType('opentelemetry.proto.ExportLogsServiceResponse');
const MetricsRequest = root.lookupType('opentelemetry.proto.ExportMetricsServiceRequest');
const MetricsResponse = root.lookupType('opentelemetry.proto.ExportMetricsServiceResponse');

export type Signal = 'traces' | 'logs' | 'metrics';

interface PbResource {
  resource?: { attributes: PbKeyValue[] } | null;
}
interface PbLogRecord {
  timeUnixNano?: Int64;
  observedTimeUnixNano?: Int64;
  body?: PbAnyValue | null;
  attributes: PbKeyValue[];
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: Uint8Array;
}
interface PbLogsRequest {
  resourceLogs: (PbResource & { scopeLogs: { logRecords: PbLogRecord[] }[] })[];
}
interface PbHistogramPoint {
  startTimeUnixNano?: Int64;
  timeUnixNano?: Int64;
  count?: Int64;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts: Int64[];
  explicitBounds: number[];
  attributes: PbKeyValue[];
}
interface PbExponentialPoint {
  startTimeUnixNano: Int64;
  timeUnixNano: Int64;
  count: Int64;
  sum?: number;
  min?: number;
  max?: number;
  scale: number;
  zeroCount: Int64;
  positive?: { offset: number; bucketCounts: Int64[] } | null;
  negative?: { offset: number; bucketCounts: Int64[] } | null;
  attributes: PbKeyValue[];
}
interface PbMetric {
  name?: Uint8Array;
  unit?: Uint8Array;
  gauge?: { dataPoints: unknown[] } | null;
  sum?: { dataPoints: unknown[] } | null;
  histogram?: { dataPoints: PbHistogramPoint[]; aggregationTemporality: number } | null;
  exponentialHistogram?: { dataPoints: PbExponentialPoint[]; aggregationTemporality: number } | null;
  summary?: { dataPoints: unknown[] } | null;
}
interface PbMetricsRequest {
  resourceMetrics: (PbResource & { scopeMetrics: { metrics: PbMetric[] }[] })[];
}

export interface DecodedSignal {
  /** The request in OTLP/JSON shape, items that could not be read left out. */
  json: OtlpJson;
  /** Items left out (invalid UTF-8), with where and why. */
  rejected: RejectedSpan[];
}

function decode<T>(type: typeof LogsRequest, body: Uint8Array, what: string): T {
  try {
    return type.decode(body) as unknown as T;
  } catch (err) {
    throw new UndecodableBody(`not an OTLP ${what}: ${(err as Error).message}`);
  }
}

/** The resource's attributes, or null when one is not UTF-8 (its items are then rejected). */
function resourceAttributes(r: PbResource): OtlpJson[] | null {
  try {
    return keyValues(r.resource?.attributes ?? []);
  } catch (err) {
    if (err instanceof InvalidUtf8) return null;
    throw err;
  }
}

const nanos = (value: Int64 | undefined): string | undefined => (value === undefined ? undefined : String(value));

/** Decodes an ExportLogsServiceRequest; throws UndecodableBody when the bytes are not one. */
export function decodeLogsRequest(body: Uint8Array): DecodedSignal {
  const message = decode<PbLogsRequest>(LogsRequest, body, 'ExportLogsServiceRequest');
  const rejected: RejectedSpan[] = [];
  const resourceLogs = message.resourceLogs.map((rl, r): OtlpJson => {
    const attributes = resourceAttributes(rl);
    const scopeLogs = rl.scopeLogs.map((sl, s): OtlpJson => {
      const logRecords: OtlpJson[] = [];
      sl.logRecords.forEach((record, i) => {
        const path = `resourceLogs[${r}].scopeLogs[${s}].logRecords[${i}]`;
        if (attributes === null) {
          rejected.push({ path, reason: 'a resource attribute is not valid UTF-8' });
          return;
        }
        try {
          logRecords.push({
            timeUnixNano: nanos(record.timeUnixNano),
            observedTimeUnixNano: nanos(record.observedTimeUnixNano),
            traceId: hex(record.traceId),
            spanId: hex(record.spanId),
            eventName: text(record.eventName, 'event_name'),
            attributes: keyValues(record.attributes),
            body: record.body ? anyValue(record.body, 'body') : undefined,
          });
        } catch (err) {
          if (!(err instanceof InvalidUtf8)) throw err;
          rejected.push({ path, reason: err.message });
        }
      });
      return { logRecords };
    });
    return { resource: { attributes: attributes ?? [] }, scopeLogs };
  });
  return { json: { resourceLogs }, rejected };
}

/** Decodes an ExportMetricsServiceRequest; throws UndecodableBody when the bytes are not one. */
export function decodeMetricsRequest(body: Uint8Array): DecodedSignal {
  const message = decode<PbMetricsRequest>(MetricsRequest, body, 'ExportMetricsServiceRequest');
  const rejected: RejectedSpan[] = [];
  const resourceMetrics = message.resourceMetrics.map((rm, r): OtlpJson => {
    const attributes = resourceAttributes(rm);
    const scopeMetrics = rm.scopeMetrics.map((sm, s): OtlpJson => {
      const metrics: OtlpJson[] = [];
      sm.metrics.forEach((metric, m) => {
        const path = `resourceMetrics[${r}].scopeMetrics[${s}].metrics[${m}]`;
        const points = pointCount(metric);
        try {
          if (attributes === null) throw new InvalidUtf8('a resource attribute is not valid UTF-8');
          metrics.push(metricJson(metric));
        } catch (err) {
          if (!(err instanceof InvalidUtf8)) throw err;
          for (let i = 0; i < Math.max(1, points); i++) rejected.push({ path, reason: err.message });
        }
      });
      return { metrics };
    });
    return { resource: { attributes: attributes ?? [] }, scopeMetrics };
  });
  return { json: { resourceMetrics }, rejected };
}

function pointCount(metric: PbMetric): number {
  const data = metric.histogram ?? metric.gauge ?? metric.sum ?? metric.exponentialHistogram ?? metric.summary;
  return data?.dataPoints.length ?? 0;
}

/** Histograms in full; the other kinds as their points' number (`{}` each), which is all the mapping counts. */
function metricJson(metric: PbMetric): OtlpJson {
  const out: OtlpJson = { name: text(metric.name, 'metric name'), unit: text(metric.unit, 'metric unit') };
  const has = (field: keyof PbMetric): boolean => Object.hasOwn(metric, field) && metric[field] != null;
  if (has('histogram')) {
    const h = metric.histogram!;
    out.histogram = {
      aggregationTemporality: h.aggregationTemporality,
      dataPoints: h.dataPoints.map((p) => ({
        ...pointJson(p),
        bucketCounts: p.bucketCounts.map(String),
        explicitBounds: [...p.explicitBounds],
      })),
    };
    return out;
  }
  if (has('exponentialHistogram')) {
    const h = metric.exponentialHistogram!;
    out.exponentialHistogram = {
      aggregationTemporality: h.aggregationTemporality,
      dataPoints: h.dataPoints.map((p) => ({
        ...pointJson(p),
        scale: p.scale,
        zeroCount: nanos(p.zeroCount),
        positive: { offset: p.positive?.offset ?? 0, bucketCounts: (p.positive?.bucketCounts ?? []).map(String) },
        negative: { offset: p.negative?.offset ?? 0, bucketCounts: (p.negative?.bucketCounts ?? []).map(String) },
      })),
    };
    return out;
  }
  for (const kind of ['gauge', 'sum', 'summary'] as const) {
    if (has(kind)) out[kind] = { dataPoints: metric[kind]!.dataPoints.map(() => ({})) };
  }
  return out;
}

/** What histogram and exponential histogram points share: times, count, sum, min, max, attributes. */
function pointJson(p: PbHistogramPoint | PbExponentialPoint): OtlpJson {
  return {
    startTimeUnixNano: nanos(p.startTimeUnixNano),
    timeUnixNano: nanos(p.timeUnixNano),
    count: nanos(p.count),
    sum: Object.hasOwn(p, 'sum') ? p.sum : undefined,
    min: Object.hasOwn(p, 'min') ? p.min : undefined,
    max: Object.hasOwn(p, 'max') ? p.max : undefined,
    attributes: keyValues(p.attributes),
  };
}

/** ExportLogsServiceResponse / ExportMetricsServiceResponse; partial_success only when something was rejected. */
export function encodeSignalResponse(
  signal: 'logs' | 'metrics',
  partial: { rejected: number; errorMessage: string } | null,
): Buffer {
  const type = signal === 'logs' ? LogsResponse : MetricsResponse;
  const field = signal === 'logs' ? 'rejectedLogRecords' : 'rejectedDataPoints';
  const message = partial ? { partialSuccess: { [field]: partial.rejected, errorMessage: partial.errorMessage } } : {};
  return Buffer.from(type.encode(type.fromObject(message)).finish());
}

/** For tests: decodes what encodeSignalResponse wrote. */
export function decodeSignalResponse(signal: 'logs' | 'metrics', body: Uint8Array): Record<string, unknown> {
  const type = signal === 'logs' ? LogsResponse : MetricsResponse;
  return type.toObject(type.decode(body), { longs: String });
}
