import type { Attributes, HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  boundAttributes,
  homogeneousArray,
  type AttributeValue,
  type SpanInput,
  type SpanInputStatus,
} from './span-input.ts';

// SpanStatusCode of @opentelemetry/api (0, 1, 2), by value: core takes no runtime dependency on the SDK.
const STATUS_CODES: readonly SpanInputStatus[] = ['unset', 'ok', 'error'];

/** A span finished by the OTel JS SDK 2.x (what a SpanProcessor or SpanExporter receives). */
export function fromReadableSpan(span: ReadableSpan): SpanInput {
  const context = span.spanContext();
  const attributes = boundAttributes(sdkEntries(span.attributes));
  const exception = span.events.find((event) => event.name === 'exception')?.attributes?.['exception.type'];
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    startTimeUnixMicros: hrTimeToMicros(span.startTime),
    endTimeUnixMicros: hrTimeToMicros(span.endTime),
    status: { code: STATUS_CODES[span.status.code] ?? 'unset', message: span.status.message ?? '' },
    attributes: attributes.attributes,
    resource: boundAttributes(sdkEntries(span.resource.attributes)).attributes,
    scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version ?? null },
    exceptionType: typeof exception === 'string' ? exception : null,
    droppedAttributesCount: span.droppedAttributesCount + attributes.dropped,
  };
}

function* sdkEntries(attributes: Attributes): Generator<[string, AttributeValue | null]> {
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    if (!Array.isArray(value)) yield [key, value];
    else yield [key, homogeneousArray(value.filter((item) => item !== null && item !== undefined))];
  }
}

/** HrTime is [seconds, nanoseconds]; microseconds since the epoch stay exact in a double until the year 2255. */
function hrTimeToMicros([seconds, nanos]: HrTime): number {
  return seconds * 1_000_000 + Math.floor(nanos / 1000);
}
