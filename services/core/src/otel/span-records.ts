import type { OutgoingRecord } from '../publisher.ts';
import type { CaptureOptions } from '../content/capture.ts';
import type { AvroCodec } from '../event/codec.ts';
import { createSpanLinkCodec, RECORD_HEADER, SPAN_LINK_RECORD, type SpanLink } from '../event/genai-codecs.ts';
import { mergeAcrossTraces } from '../event/merge.ts';
import { traceKey, type AiEvent } from '../event/types.ts';
import type { RejectedSpan } from './from-otlp-json.ts';
import type { SpanInput } from './span-input.ts';
import { spanToEvent } from './span-to-event.ts';

/** What a batch of spans came to: records to publish, and what was left out and why. */
export interface MappedSpans {
  records: OutgoingRecord[];
  /** Spans that are not AI actions (HTTP, DB...): not events, by design; each is published as a span link. */
  ignored: number;
  /** Of `records`, the span links (the rest are events). */
  links: number;
  /** Calls reported twice in two traces of this batch, merged into one event (event/merge.ts). */
  merged: number;
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

let linkCodec: AvroCodec<SpanLink> | undefined;

/**
 * spanToEvent over a batch (the gateway's and the shim's Kafka exporter's
 * mapping): each AI span becomes one Avro record, and every other span a span
 * link (header aispm.record=span-link) so that trace assembly can walk from an AI
 * span through HTTP or framework spans up to its agent. All are keyed by
 * traceKey: a trace's spans land on one partition, whatever their app or agent.
 */
export function mapSpans(spans: readonly SpanInput[], options: MapSpansOptions): MappedSpans {
  const out: MappedSpans = { records: [], ignored: 0, links: 0, merged: 0, rejected: [] };
  const events: AiEvent[] = [];
  const mapOptions = { tenant: options.tenant, capture: options.capture, nowMs: options.nowMs ?? Date.now() };
  const locate = options.locate ?? ((span: SpanInput) => `span ${span.spanId}`);
  for (const span of spans) {
    const result = spanToEvent(span, mapOptions);
    if ('event' in result) {
      events.push(result.event);
    } else if ('ignored' in result) {
      out.ignored++;
      if (span.traceId !== '' && span.spanId !== '') {
        out.records.push(spanLink(span, options.tenant));
        out.links++;
      }
    } else {
      out.rejected.push({ path: locate(span), reason: result.rejected });
    }
  }
  const { kept, merged } = mergeAcrossTraces(events);
  for (const event of kept) out.records.push({ key: traceKey(event), value: options.codec.encode(event) });
  for (const twin of merged) {
    // Its span stays in its trace's structure, as a link.
    out.records.push(spanLink(spanOf(twin), options.tenant));
    out.links++;
    out.merged++;
  }
  return out;
}

const spanOf = (event: AiEvent): Pick<SpanInput, 'traceId' | 'spanId' | 'parentSpanId'> => ({
  traceId: event.trace_id,
  spanId: event.span_id,
  parentSpanId: event.parent_span_id,
});

function spanLink(span: Pick<SpanInput, 'traceId' | 'spanId' | 'parentSpanId'>, tenant: string): OutgoingRecord {
  linkCodec ??= createSpanLinkCodec();
  const link = { tenant, trace_id: span.traceId, span_id: span.spanId, parent_span_id: span.parentSpanId };
  return {
    key: traceKey(link),
    value: linkCodec.encode(link),
    headers: { [RECORD_HEADER]: SPAN_LINK_RECORD },
  };
}
