import {
  boundAttributes,
  boundString,
  homogeneousArray,
  idProblem,
  SPAN_LIMITS,
  type AttributeValue,
  type SpanAttributes,
  type SpanInput,
  type SpanInputStatus,
} from './span-input.ts';

/** A span (or a whole resource or scope entry) that could not be read, and why. */
export interface RejectedSpan {
  /** Where in the request, e.g. `resourceSpans[0].scopeSpans[1].spans[3]`. */
  path: string;
  reason: string;
}

export interface OtlpJsonResult {
  spans: SpanInput[];
  rejected: RejectedSpan[];
}

type Json = Record<string, unknown>;

/**
 * Reads the OTLP/HTTP JSON encoding of an ExportTraceServiceRequest (already
 * parsed). Never throws: a malformed span is rejected with its path and reason
 * and the rest of the request is kept. Required fields (ids, times) must be
 * right; descriptive ones (name, status, malformed attributes) degrade to
 * defaults, with unusable attributes counted as dropped.
 */
export function fromOtlpJson(body: unknown): OtlpJsonResult {
  const result: OtlpJsonResult = { spans: [], rejected: [] };
  if (!isObject(body)) {
    result.rejected.push({ path: '', reason: 'the body is not a JSON object (expected an ExportTraceServiceRequest)' });
    return result;
  }
  for (const [r, resourceSpans] of list(body.resourceSpans, 'resourceSpans', result.rejected)) {
    const path = `resourceSpans[${r}]`;
    if (!isObject(resourceSpans)) {
      result.rejected.push({ path, reason: 'is not an object' });
      continue;
    }
    const resource = readAttributes(isObject(resourceSpans.resource) ? resourceSpans.resource.attributes : undefined);
    for (const [s, scopeSpans] of list(resourceSpans.scopeSpans, `${path}.scopeSpans`, result.rejected)) {
      const scopePath = `${path}.scopeSpans[${s}]`;
      if (!isObject(scopeSpans)) {
        result.rejected.push({ path: scopePath, reason: 'is not an object' });
        continue;
      }
      const scope = isObject(scopeSpans.scope) ? scopeSpans.scope : {};
      const scopeInfo = { name: stringOr(scope.name, ''), version: stringOr(scope.version, '') || null };
      for (const [i, span] of list(scopeSpans.spans, `${scopePath}.spans`, result.rejected)) {
        const read = readSpan(span, resource.attributes, scopeInfo);
        if (typeof read === 'string') result.rejected.push({ path: `${scopePath}.spans[${i}]`, reason: read });
        else result.spans.push(read);
      }
    }
  }
  return result;
}

/** The entries of an optional repeated field; a present non-array is rejected. */
function list(value: unknown, path: string, rejected: RejectedSpan[]): [number, unknown][] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return [...value.entries()];
  rejected.push({ path, reason: 'is not an array' });
  return [];
}

function readSpan(raw: unknown, resource: SpanAttributes, scope: SpanInput['scope']): SpanInput | string {
  if (!isObject(raw)) return 'is not an object';
  const traceId = typeof raw.traceId === 'string' ? raw.traceId.toLowerCase() : '';
  const spanId = typeof raw.spanId === 'string' ? raw.spanId.toLowerCase() : '';
  const parent = typeof raw.parentSpanId === 'string' ? raw.parentSpanId.toLowerCase() : '';
  const idError =
    idProblem('traceId', traceId, 'trace') ??
    idProblem('spanId', spanId, 'span') ??
    (parent === '' ? null : idProblem('parentSpanId', parent, 'span'));
  if (idError) return idError;
  const start = nanosToMicros(raw.startTimeUnixNano);
  const end = nanosToMicros(raw.endTimeUnixNano);
  if (start === null) return 'startTimeUnixNano is missing or not a non-negative integer (nanoseconds, as a string)';
  if (end === null) return 'endTimeUnixNano is missing or not a non-negative integer (nanoseconds, as a string)';
  if (end < start) return 'endTimeUnixNano is before startTimeUnixNano';
  const attributes = readAttributes(raw.attributes);
  const status = isObject(raw.status) ? raw.status : {};
  return {
    traceId,
    spanId,
    parentSpanId: parent === '' ? null : parent,
    name: boundString(stringOr(raw.name, '')),
    startTimeUnixMicros: start,
    endTimeUnixMicros: end,
    status: { code: statusCode(status.code), message: boundString(stringOr(status.message, '')) },
    attributes: attributes.attributes,
    resource,
    scope,
    exceptionType: exceptionType(raw.events),
    droppedAttributesCount: nonNegative(raw.droppedAttributesCount) + attributes.dropped,
  };
}

function readAttributes(raw: unknown): ReturnType<typeof boundAttributes> {
  const entries = Array.isArray(raw) ? raw : [];
  return boundAttributes(
    entries.map((entry): [string, AttributeValue | null] =>
      isObject(entry) && typeof entry.key === 'string' ? [entry.key, attributeValue(entry.value)] : ['', null],
    ),
  );
}

/** An AnyValue as an attribute: scalars as they are, arrays of scalars as arrays, anything nested as JSON text. */
function attributeValue(raw: unknown): AttributeValue | null {
  const value = plain(raw, 0);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value) && value.every((item) => ['string', 'number', 'boolean'].includes(typeof item))) {
    return homogeneousArray(value as (string | number | boolean)[]);
  }
  return boundString(JSON.stringify(value));
}

type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

const MAX_DEPTH = 16;

/** An AnyValue as plain JSON data, bounded in depth and width. */
function plain(raw: unknown, depth: number): Plain {
  if (!isObject(raw) || depth > MAX_DEPTH) return null;
  if (typeof raw.stringValue === 'string') return raw.stringValue;
  if (typeof raw.boolValue === 'boolean') return raw.boolValue;
  if (raw.intValue !== undefined) return integer(raw.intValue);
  if (raw.doubleValue !== undefined) return double(raw.doubleValue);
  if (typeof raw.bytesValue === 'string') return raw.bytesValue;
  if (isObject(raw.arrayValue)) {
    const values = Array.isArray(raw.arrayValue.values) ? raw.arrayValue.values : [];
    return values.slice(0, SPAN_LIMITS.maxArrayLength).map((item) => plain(item, depth + 1));
  }
  if (isObject(raw.kvlistValue)) {
    const values = Array.isArray(raw.kvlistValue.values) ? raw.kvlistValue.values : [];
    const entries = values
      .slice(0, SPAN_LIMITS.maxAttributes)
      .filter((kv): kv is Json & { key: string } => isObject(kv) && typeof kv.key === 'string')
      .map((kv) => [kv.key, plain(kv.value, depth + 1)] as const);
    // fromEntries defines own properties, so a `__proto__` key stays data.
    return Object.fromEntries(entries);
  }
  return null;
}

/** int64 is a decimal string in OTLP/JSON; numbers are accepted too. */
function integer(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isInteger(raw) ? raw : null;
  return typeof raw === 'string' && /^-?\d{1,20}$/.test(raw) ? Number(raw) : null;
}

function double(raw: unknown): number | null {
  if (typeof raw === 'number') return raw;
  if (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity') return Number(raw);
  return typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : null;
}

/** fixed64 nanoseconds, as a string (exact through BigInt) or a number; 0 means unset. */
function nanosToMicros(raw: unknown): number | null {
  let micros: number | null = null;
  if (typeof raw === 'string' && /^\d{1,20}$/.test(raw)) micros = Number(BigInt(raw) / 1000n);
  else if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) micros = Math.floor(raw / 1000);
  return micros === null || micros === 0 ? null : micros;
}

/** Enums may be written as numbers or as their names. */
function statusCode(raw: unknown): SpanInputStatus {
  if (raw === 2 || raw === 'STATUS_CODE_ERROR') return 'error';
  if (raw === 1 || raw === 'STATUS_CODE_OK') return 'ok';
  return 'unset';
}

function exceptionType(events: unknown): string | null {
  if (!Array.isArray(events)) return null;
  const exception = events.find((event) => isObject(event) && event.name === 'exception') as Json | undefined;
  const type = exception ? readAttributes(exception.attributes).attributes.get('exception.type') : undefined;
  return typeof type === 'string' ? type : null;
}

function nonNegative(raw: unknown): number {
  return typeof raw === 'number' && Number.isInteger(raw) && raw > 0 ? raw : 0;
}

function stringOr(raw: unknown, fallback: string): string {
  return typeof raw === 'string' ? raw : fallback;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
