import { createCodec, type AvroCodec } from './codec.ts';

/** A GenAI log event (schemas/avro/genai-log-event.v*.avsc): content already under the capture policy. */
export interface GenAiLogEvent {
  tenant: string;
  log_id: string;
  trace_id: string;
  span_id: string;
  /** Microseconds since the epoch. */
  time: number;
  app: string;
  event_name: string;
  role: string | null;
  content_policy: string;
  content: string | null;
  detected: string[];
}

/** One data point of a GenAI histogram (schemas/avro/genai-metric-point.v*.avsc). */
export interface GenAiMetricPoint {
  tenant: string;
  point_id: string;
  /** Microseconds since the epoch. */
  time: number;
  start_time: number;
  metric: string;
  unit: string;
  temporality: string;
  app: string;
  operation: string;
  provider: string;
  request_model: string;
  response_model: string;
  token_type: string;
  error_type: string;
  attributes: Record<string, string>;
  count: number;
  sum: number | null;
  min: number | null;
  max: number | null;
  bounds: number[];
  bucket_counts: number[];
}

export const createGenAiLogCodec = (schemaDir?: string): AvroCodec<GenAiLogEvent> =>
  createCodec<GenAiLogEvent>('genai-log-event', schemaDir);

export const createGenAiMetricCodec = (schemaDir?: string): AvroCodec<GenAiMetricPoint> =>
  createCodec<GenAiMetricPoint>('genai-metric-point', schemaDir);

/**
 * A span that is no AI action, kept as a link of its trace (schemas/avro/span-link.v*.avsc):
 * AI spans below it reach their agent ancestor through it.
 */
export interface SpanLink {
  tenant: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  /** An agent span's link: what its descendants inherit (absent: null, []). */
  agent?: string | null;
  user?: string | null;
  conversation_id?: string | null;
  identity?: string | null;
  scopes?: string[];
}

/** The header that tells a span link from an event on the events topic. */
export const RECORD_HEADER = 'aispm.record';
export const SPAN_LINK_RECORD = 'span-link';

export const createSpanLinkCodec = (): AvroCodec<SpanLink> => createCodec<SpanLink>('span-link');
