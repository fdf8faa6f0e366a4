import type { OutgoingRecord } from '../publisher.ts';
import type { CaptureOptions } from '../content/capture.ts';
import type { AvroCodec } from '../event/codec.ts';
import { createSpanLinkCodec, RECORD_HEADER, SPAN_LINK_RECORD, type SpanLink } from '../event/genai-codecs.ts';
import { mergeInBatch } from '../event/merge.ts';
import { eventKey, traceKey, type AiEvent } from '../event/types.ts';
import type { RejectedSpan } from './from-otlp-json.ts';
import type { SpanInput } from './span-input.ts';
import { spanToEvent } from './span-to-event.ts';

/** What a batch of spans came to: records to publish, and what was left out and why. */
export interface MappedSpans {
  /** For the events topic, keyed by trace: events that wait for trace assembly, and span links. */
  records: OutgoingRecord[];
  /**
   * For the attributed topic, keyed by tenant, app and agent: events whose attribution
   * is known from the span alone (it names its agent, or it is a root span that no
   * other report of a call can join), which need not wait (routeOf).
   */
  direct: OutgoingRecord[];
  /** Spans that are not AI actions (HTTP, DB...): not events, by design; each is published as a span link. */
  ignored: number;
  /** Of `records`, the span links (the rest, and `direct`, are events). */
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
  const out: MappedSpans = { records: [], direct: [], ignored: 0, links: 0, merged: 0, rejected: [] };
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
  const routed = eventRecords(events, options.tenant, options.codec);
  out.records.push(...routed.records);
  out.direct = routed.direct;
  out.links += routed.links;
  out.merged = routed.merged;
  return out;
}

/** What events publish as (the gateway's and the shim's, after mapping): see MappedSpans. */
export type RoutedEvents = Pick<MappedSpans, 'records' | 'direct' | 'links' | 'merged'>;

/**
 * Events of one batch as the records to publish: reports of one call merged
 * (mergeInBatch), each event routed (routeOf), an agent span sent on directly
 * linked into its trace with what it hands down, a merged twin's span kept as a
 * link.
 */
export function eventRecords(events: readonly AiEvent[], tenant: string, codec: AvroCodec<AiEvent>): RoutedEvents {
  const out: RoutedEvents = { records: [], direct: [], links: 0, merged: 0 };
  const { kept, merged } = mergeInBatch(events);
  for (const event of kept) {
    const route = routeOf(event);
    if (route === 'assemble') {
      out.records.push({ key: traceKey(event), value: codec.encode(event) });
      continue;
    }
    out.direct.push({ key: eventKey(event), value: codec.encode({ ...event, attribution: route }) });
    if (event.kind === 'agent_action') {
      // Its descendants inherit from it: trace assembly gets its place and what it hands down.
      out.records.push(spanLink(spanOf(event), tenant, event));
      out.links++;
    }
  }
  for (const twin of merged) {
    // Its span stays in its trace's structure, as a link.
    out.records.push(spanLink(spanOf(twin), tenant));
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

/**
 * Where an event goes: straight to the attributed topic when its attribution is
 * known from the span alone — it names its agent ('own'), or it is a root span
 * ('none') that is no model call (a model call may be one of two reports of a
 * call, which trace assembly merges) — else to trace assembly.
 */
export function routeOf(event: AiEvent): 'own' | 'none' | 'assemble' {
  if (event.agent !== null) return 'own';
  if (event.parent_span_id === null && event.kind !== 'llm_call' && event.kind !== 'embedding') return 'none';
  return 'assemble';
}

function spanLink(
  span: Pick<SpanInput, 'traceId' | 'spanId' | 'parentSpanId'>,
  tenant: string,
  agent?: AiEvent,
): OutgoingRecord {
  linkCodec ??= createSpanLinkCodec();
  const link: SpanLink = { tenant, trace_id: span.traceId, span_id: span.spanId, parent_span_id: span.parentSpanId };
  if (agent) {
    link.agent = agent.agent;
    link.user = agent.user;
    link.conversation_id = agent.conversation_id;
    link.identity = agent.identity;
    link.scopes = agent.scopes;
  }
  return {
    key: traceKey(link),
    value: linkCodec.encode(link),
    headers: { [RECORD_HEADER]: SPAN_LINK_RECORD },
  };
}
