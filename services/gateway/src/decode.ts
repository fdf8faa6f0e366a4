import { isUtf8 } from 'node:buffer';
import type {
  AiEvent,
  AvroCodec,
  CaptureOptions,
  GenAiLogEvent,
  GenAiMetricPoint,
  OutgoingRecord,
  RejectedSpan,
} from '@aispm/core';
import { createGenAiLogCodec, createGenAiMetricCodec, fromOtlpJson, mapSpans } from '@aispm/core';
import { mapLogs, mapMetrics } from './otlp/genai.ts';
import { decodeTraceRequest, UndecodableBody } from './otlp/proto.ts';
import { decodeLogsRequest, decodeMetricsRequest, type Signal } from './otlp/signals.ts';

export type Encoding = 'protobuf' | 'json';

/** What a request body came to: the records to publish, and what was left out, by why. */
export interface Decoded {
  /** For the signal's topic (traces: the events topic, for trace assembly). */
  records: OutgoingRecord[];
  /** Traces: events whose attribution is known from the span, for the attributed topic (MappedSpans.direct). */
  direct: OutgoingRecord[];
  /** Spans that are not AI actions (each published as a span link). */
  ignored: number;
  /** Of `records`, the span links. */
  links: number;
  /** Calls reported twice in two traces of the request, merged into one event. */
  merged: number;
  rejected: {
    /** Spans with a string field that is not UTF-8 (protobuf). */
    utf8: RejectedSpan[];
    /** Spans that could not be read as spans. */
    unreadable: RejectedSpan[];
    /** AI spans no valid event could be made of. */
    invalid: RejectedSpan[];
  };
  /** Logs and metrics: items accepted and dropped on purpose (not GenAI), by reason. */
  dropped?: Record<string, number>;
}

export interface DecodeOptions {
  tenant: string;
  capture: CaptureOptions;
  codec: AvroCodec<AiEvent>;
  /** The clock spans are judged against, read once per request where it arrives (so a worker maps the same). */
  nowMs: number;
  /** What the body is (default traces): /v1/logs and /v1/metrics need their codec too. */
  signal?: Signal;
  logCodec?: AvroCodec<GenAiLogEvent>;
  metricCodec?: AvroCodec<GenAiMetricPoint>;
}

/**
 * An OTLP ExportTraceServiceRequest (protobuf or JSON) → the shim's span mapping, which
 * also runs the content detectors and the capture policy. The same code on the main
 * thread and on a decode worker; throws UndecodableBody when the body is not a request.
 * Core loads chdb's native addon only when a store opens, so a worker may import it.
 */
export function decodeAndMap(body: Uint8Array, encoding: Encoding, options: DecodeOptions): Decoded {
  const signal = options.signal ?? 'traces';
  if (signal !== 'traces') return decodeSignal(body, encoding, signal, options);
  const decoded =
    encoding === 'protobuf'
      ? decodeTraceRequest(body)
      : {
          json: parseJson(body, 'ExportTraceServiceRequest') as { resourceSpans: Record<string, unknown>[] },
          rejected: [],
        };
  const read = fromOtlpJson(decoded.json);
  const mapped = mapSpans(read.spans, options);
  return {
    records: mapped.records,
    direct: mapped.direct,
    ignored: mapped.ignored,
    links: mapped.links,
    merged: mapped.merged,
    rejected: { utf8: decoded.rejected, unreadable: read.rejected, invalid: mapped.rejected },
  };
}

/** /v1/logs or /v1/metrics: GenAI log events or histogram points; the rest dropped and counted. */
function decodeSignal(
  body: Uint8Array,
  encoding: Encoding,
  signal: 'logs' | 'metrics',
  options: DecodeOptions,
): Decoded {
  const what = signal === 'logs' ? 'ExportLogsServiceRequest' : 'ExportMetricsServiceRequest';
  const decoded =
    encoding === 'json'
      ? { json: parseJson(body, what), rejected: [] }
      : signal === 'logs'
        ? decodeLogsRequest(body)
        : decodeMetricsRequest(body);
  const signalOptions = { tenant: options.tenant, capture: options.capture, nowMs: options.nowMs };
  const mapped =
    signal === 'logs'
      ? mapLogs(decoded.json, signalOptions, options.logCodec ?? createGenAiLogCodec())
      : mapMetrics(decoded.json, signalOptions, options.metricCodec ?? createGenAiMetricCodec());
  return {
    records: mapped.records,
    direct: [],
    ignored: 0,
    links: 0,
    merged: 0,
    rejected: { utf8: decoded.rejected, unreadable: [], invalid: mapped.rejected },
    dropped: mapped.dropped,
  };
}

function parseJson(body: Uint8Array, what: string): Record<string, unknown> {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // JSON text must be UTF-8 (RFC 8259); one that is not cannot be parsed without guessing.
  if (!isUtf8(buffer)) throw new UndecodableBody('the JSON body is not valid UTF-8');
  let json: unknown;
  try {
    json = JSON.parse(buffer.toString('utf8'));
  } catch (err) {
    throw new UndecodableBody(`the body is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UndecodableBody(`the body is not a JSON object (expected an ${what})`);
  }
  return json as Record<string, unknown>;
}

/** Records as one transferable buffer: keys, each value's end offset in `values`, and headers where a record has them. */
export interface PackedRecords {
  keys: string[];
  values: ArrayBuffer;
  ends: Uint32Array;
  headers: (Record<string, string> | undefined)[];
}

/** Packs records to cross a thread boundary without a copy per record. */
export function packRecords(records: readonly OutgoingRecord[]): PackedRecords {
  let size = 0;
  for (const r of records) size += r.value.length;
  const values = new ArrayBuffer(size);
  const into = new Uint8Array(values);
  const ends = new Uint32Array(records.length);
  const keys = new Array<string>(records.length);
  const headers = new Array<Record<string, string> | undefined>(records.length);
  let at = 0;
  records.forEach((r, i) => {
    into.set(r.value, at);
    at += r.value.length;
    ends[i] = at;
    keys[i] = r.key;
    headers[i] = r.headers;
  });
  return { keys, values, ends, headers };
}

/** The records again, each value a view of the one buffer. */
export function unpackRecords(packed: PackedRecords): OutgoingRecord[] {
  const records = new Array<OutgoingRecord>(packed.keys.length);
  let start = 0;
  for (let i = 0; i < packed.keys.length; i++) {
    const end = packed.ends[i]!;
    const headers = packed.headers[i];
    const value = Buffer.from(packed.values, start, end - start);
    records[i] = headers ? { key: packed.keys[i]!, value, headers } : { key: packed.keys[i]!, value };
    start = end;
  }
  return records;
}
