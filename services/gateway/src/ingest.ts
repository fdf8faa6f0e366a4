import {
  eventKey,
  spanToEvent,
  type AvroCodec,
  type AiEvent,
  type CaptureOptions,
  type OutgoingRecord,
  type RejectedSpan,
  type SpanInput,
} from '@aispm/core';

/** What one request's spans came to: records to publish, and what was left out and why. */
export interface MappedSpans {
  records: OutgoingRecord[];
  ignored: number;
  rejected: RejectedSpan[];
}

export interface MapOptions {
  tenant: string;
  capture: CaptureOptions;
  codec: AvroCodec<AiEvent>;
  nowMs?: number;
}

/** The shim's mapping (spanToEvent) with the tenant of the API key; each AI span becomes one Avro record. */
export function mapSpans(spans: readonly SpanInput[], options: MapOptions): MappedSpans {
  const out: MappedSpans = { records: [], ignored: 0, rejected: [] };
  const mapOptions = { tenant: options.tenant, capture: options.capture, nowMs: options.nowMs ?? Date.now() };
  for (const span of spans) {
    const result = spanToEvent(span, mapOptions);
    if ('event' in result) {
      out.records.push({ key: eventKey(result.event), value: options.codec.encode(result.event) });
    } else if ('ignored' in result) {
      out.ignored++;
    } else {
      out.rejected.push({ path: `span ${span.spanId}`, reason: result.rejected });
    }
  }
  return out;
}

const MAX_REASONS = 5;
const MAX_MESSAGE = 2048;

/** partial_success.error_message: how many, and the first few reasons with where they were. */
export function rejectionMessage(rejected: readonly RejectedSpan[]): string {
  const shown = rejected.slice(0, MAX_REASONS).map((r) => (r.path ? `${r.path}: ${r.reason}` : r.reason));
  const more = rejected.length > MAX_REASONS ? `; and ${rejected.length - MAX_REASONS} more` : '';
  const text = `${rejected.length} span(s) rejected: ${shown.join('; ')}${more}`;
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}
