export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];

/** A Map, not an object: attribute keys come from the wire and `__proto__` is a valid key. */
export type SpanAttributes = ReadonlyMap<string, AttributeValue>;

export type SpanInputStatus = 'unset' | 'ok' | 'error';

/**
 * One finished span, independent of where it came from (the OTel JS SDK, or an
 * OTLP/JSON request) and of the semantic convention its attributes follow.
 */
export interface SpanInput {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** Microseconds since the Unix epoch. */
  startTimeUnixMicros: number;
  endTimeUnixMicros: number;
  status: { code: SpanInputStatus; message: string };
  attributes: SpanAttributes;
  resource: SpanAttributes;
  scope: { name: string; version: string | null };
  /** `exception.type` of the first `exception` event, the SDK's usual record of a thrown error. */
  exceptionType: string | null;
  /** Attributes dropped by the sender or by the bounds below. */
  droppedAttributesCount: number;
}

/**
 * Bounds on what one span may bring in. The value bound equals the largest
 * AISPM_CAPTURE_MAX_BYTES, so the capture policy, not the adapter, decides how
 * much content is kept; 128 is the OTel SDK's default attribute count limit.
 */
export const SPAN_LIMITS = {
  maxAttributes: 128,
  maxKeyLength: 256,
  maxValueLength: 1_048_576,
  maxArrayLength: 128,
} as const;

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/** Why a trace or span id cannot identify a span, or null when it can (all zeros is the W3C "invalid" id). */
export function idProblem(field: string, id: string, kind: 'trace' | 'span'): string | null {
  const pattern = kind === 'trace' ? TRACE_ID : SPAN_ID;
  const length = kind === 'trace' ? 32 : 16;
  if (!pattern.test(id)) return `${field} must be ${length} hex characters (OTLP/JSON encodes ids as hex, not base64)`;
  if (/^0+$/.test(id)) return `${field} is all zeros`;
  return null;
}

/** Keeps the attributes within SPAN_LIMITS; null values (unusable on the wire) count as dropped. */
export function boundAttributes(entries: Iterable<readonly [string, AttributeValue | null]>): {
  attributes: Map<string, AttributeValue>;
  dropped: number;
} {
  const attributes = new Map<string, AttributeValue>();
  let dropped = 0;
  for (const [key, value] of entries) {
    const fits = key.length > 0 && key.length <= SPAN_LIMITS.maxKeyLength;
    if (value === null || !fits || (attributes.size >= SPAN_LIMITS.maxAttributes && !attributes.has(key))) dropped++;
    else attributes.set(key, boundValue(value));
  }
  return { attributes, dropped };
}

function boundValue(value: AttributeValue): AttributeValue {
  if (typeof value === 'string') return boundString(value);
  if (!Array.isArray(value)) return value;
  const kept = value.slice(0, SPAN_LIMITS.maxArrayLength);
  return kept.every((item) => typeof item === 'string') ? kept.map(boundString) : kept;
}

/** Cuts at maxValueLength UTF-16 units without leaving half a surrogate pair. */
export function boundString(value: string): string {
  if (value.length <= SPAN_LIMITS.maxValueLength) return value;
  const cut = value.slice(0, SPAN_LIMITS.maxValueLength);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** OTel attribute arrays are homogeneous; a mixed one (possible on the wire) is kept as strings. */
export function homogeneousArray(items: readonly (string | number | boolean)[]): AttributeValue {
  if (items.every((item) => typeof item === 'string')) return [...items];
  if (items.every((item) => typeof item === 'number')) return [...items];
  if (items.every((item) => typeof item === 'boolean')) return [...items];
  return items.map(String);
}
