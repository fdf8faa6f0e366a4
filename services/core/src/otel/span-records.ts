import type { OutgoingRecord } from '../publisher.ts';
import type { CaptureOptions } from '../content/capture.ts';
import type { AvroCodec } from '../event/codec.ts';
import { eventKey, type AiEvent } from '../event/types.ts';
import type { RejectedSpan } from './from-otlp-json.ts';
import type { SpanInput } from './span-input.ts';
import { spanToEvent } from './span-to-event.ts';

/** What a batch of spans came to: records to publish, and what was left out and why. */
export interface MappedSpans {
  records: OutgoingRecord[];
  /** Spans that are not AI actions (HTTP, DB...): not events, by design. */
  ignored: number;
  /** AI spans no valid event could be made of. */
  rejected: RejectedSpan[];
}

export interface MapSpansOptions {
  tenant: string;
  capture: CaptureOptions;
  codec: AvroCodec<AiEvent>;
  /** The clock spanToEvent judges the spans' time against; defaults to now, read once per batch. */
  nowMs?: number;
  /** The `path` of a rejected span; `span {spanId}` by default. */
  locate?: (span: SpanInput) => string;
}

/**
 * spanToEvent over a batch (the gateway's and the shim's Kafka exporter's
 * mapping): each AI span becomes one Avro record keyed by eventKey.
 */
export function mapSpans(spans: readonly SpanInput[], options: MapSpansOptions): MappedSpans {
  const out: MappedSpans = { records: [], ignored: 0, rejected: [] };
  const mapOptions = { tenant: options.tenant, capture: options.capture, nowMs: options.nowMs ?? Date.now() };
  const locate = options.locate ?? ((span: SpanInput) => `span ${span.spanId}`);
  for (const span of spans) {
    const result = spanToEvent(span, mapOptions);
    if ('event' in result) {
      out.records.push({ key: eventKey(result.event), value: options.codec.encode(result.event) });
    } else if ('ignored' in result) {
      out.ignored++;
    } else {
      out.rejected.push({ path: locate(span), reason: result.rejected });
    }
  }
  return out;
}
