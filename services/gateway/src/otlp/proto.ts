import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RejectedSpan } from '@aispm/core';
import protobuf from 'protobufjs';

/**
 * OTLP protobuf through protobufjs, from the opentelemetry-proto subset in trace.proto.
 * The OpenTelemetry JS packages installed here no longer ship .proto files or generated
 * protobufjs code (otlp-transformer 0.2xx writes protobuf by hand and has no decoder), so
 * the definitions are kept next to this file and compiled by protobufjs at start-up; its
 * reflection decoders are generated code, fast enough for the gateway's hot path.
 */
export const root = protobuf.parse(readFileSync(join(import.meta.dirname, 'trace.proto'), 'utf8')).root;
// /v1/logs and /v1/metrics (otlp/signals.ts): their messages use trace.proto's common ones.
protobuf.parse(readFileSync(join(import.meta.dirname, 'logs-metrics.proto'), 'utf8'), root);
const RequestType = root.lookupType('opentelemetry.proto.ExportTraceServiceRequest');
const ResponseType = root.lookupType('opentelemetry.proto.ExportTraceServiceResponse');
const StatusType = root.lookupType('opentelemetry.proto.RpcStatus');

/** protobufjs yields int64/fixed64 as a Long (or a number without the long package); both print exactly. */
export type Int64 = number | { toString(): string };

export interface PbKeyValue {
  key?: Uint8Array;
  value?: PbAnyValue | null;
}
export interface PbAnyValue {
  stringValue?: Uint8Array;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values: PbAnyValue[] } | null;
  kvlistValue?: { values: PbKeyValue[] } | null;
  bytesValue?: Uint8Array;
}
/** Fields absent on the wire are absent here too (protobufjs leaves unset bytes undefined). */
interface PbSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  name?: Uint8Array;
  startTimeUnixNano?: Int64;
  endTimeUnixNano?: Int64;
  attributes: PbKeyValue[];
  droppedAttributesCount: number;
  events: { name?: Uint8Array; attributes: PbKeyValue[] }[];
  status?: { message?: Uint8Array; code?: number } | null;
}
interface PbRequest {
  resourceSpans: {
    resource?: { attributes: PbKeyValue[] } | null;
    scopeSpans: { scope?: { name?: Uint8Array; version?: Uint8Array } | null; spans: PbSpan[] }[];
  }[];
}

/** What `fromOtlpJson` reads: the OTLP/JSON shape, ids as hex. */
export type OtlpJson = Record<string, unknown>;

export interface DecodedRequest {
  /** The request in OTLP/JSON shape, spans that could not be read left out. */
  json: { resourceSpans: OtlpJson[] };
  /** Spans left out (invalid UTF-8), with where and why. */
  rejected: RejectedSpan[];
}

/** The body is not an ExportTraceServiceRequest at all (truncated, garbage); answered 400. */
export class UndecodableBody extends Error {}

export class InvalidUtf8 extends Error {}

/** Decodes an ExportTraceServiceRequest; throws UndecodableBody when the bytes are not one. */
export function decodeTraceRequest(body: Uint8Array): DecodedRequest {
  let message: PbRequest;
  try {
    message = RequestType.decode(body) as unknown as PbRequest;
  } catch (err) {
    throw new UndecodableBody(`not an OTLP ExportTraceServiceRequest: ${(err as Error).message}`);
  }
  const rejected: RejectedSpan[] = [];
  const resourceSpans = message.resourceSpans.map((rs, r): OtlpJson => {
    const path = `resourceSpans[${r}]`;
    let resourceAttributes: OtlpJson[] | null;
    try {
      resourceAttributes = keyValues(rs.resource?.attributes ?? []);
    } catch (err) {
      if (!(err instanceof InvalidUtf8)) throw err;
      resourceAttributes = null;
    }
    const scopeSpans = rs.scopeSpans.map((ss, s): OtlpJson => {
      const scopePath = `${path}.scopeSpans[${s}]`;
      if (resourceAttributes === null) {
        for (let i = 0; i < ss.spans.length; i++)
          rejected.push({ path: `${scopePath}.spans[${i}]`, reason: 'a resource attribute is not valid UTF-8' });
        return { spans: [] };
      }
      let scope: OtlpJson;
      try {
        scope = { name: text(ss.scope?.name), version: text(ss.scope?.version) };
      } catch {
        scope = { name: '', version: '' };
      }
      const spans: OtlpJson[] = [];
      ss.spans.forEach((span, i) => {
        try {
          spans.push(spanJson(span));
        } catch (err) {
          if (!(err instanceof InvalidUtf8)) throw err;
          rejected.push({ path: `${scopePath}.spans[${i}]`, reason: err.message });
        }
      });
      return { scope, spans };
    });
    return { resource: { attributes: resourceAttributes ?? [] }, scopeSpans };
  });
  return { json: { resourceSpans }, rejected };
}

function spanJson(span: PbSpan): OtlpJson {
  return {
    traceId: hex(span.traceId),
    spanId: hex(span.spanId),
    parentSpanId: hex(span.parentSpanId),
    name: text(span.name, 'name'),
    startTimeUnixNano: span.startTimeUnixNano === undefined ? undefined : String(span.startTimeUnixNano),
    endTimeUnixNano: span.endTimeUnixNano === undefined ? undefined : String(span.endTimeUnixNano),
    attributes: keyValues(span.attributes),
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map((event) => ({
      name: text(event.name, 'event name'),
      attributes: keyValues(event.attributes),
    })),
    status: span.status ? { code: span.status.code, message: text(span.status.message, 'status message') } : {},
  };
}

export function keyValues(list: readonly PbKeyValue[]): OtlpJson[] {
  return list.map((kv) => {
    const key = text(kv.key, 'attribute key');
    return { key, value: anyValue(kv.value, key) };
  });
}

/**
 * An AnyValue in OTLP/JSON form: int64 as a decimal string, bytes as base64. The oneof's
 * member is the one own property: protobufjs puts every member's default on the prototype.
 */
export function anyValue(value: PbAnyValue | null | undefined, key: string): OtlpJson {
  if (!value) return {};
  const has = (field: keyof PbAnyValue): boolean => Object.hasOwn(value, field);
  if (has('stringValue')) return { stringValue: text(value.stringValue, `attribute ${key}`) };
  if (has('boolValue')) return { boolValue: value.boolValue };
  if (has('intValue')) return { intValue: String(value.intValue) };
  if (has('doubleValue')) return { doubleValue: value.doubleValue };
  if (value.arrayValue) return { arrayValue: { values: value.arrayValue.values.map((item) => anyValue(item, key)) } };
  if (value.kvlistValue) return { kvlistValue: { values: keyValues(value.kvlistValue.values) } };
  if (has('bytesValue'))
    return { bytesValue: value.bytesValue?.length ? asBuffer(value.bytesValue).toString('base64') : '' };
  return {};
}

/** Proto3 strings must be UTF-8; one that is not rejects its span, naming the field. */
export function text(bytes: Uint8Array | undefined, field = 'scope'): string {
  if (bytes === undefined || bytes.length === 0) return '';
  const buffer = asBuffer(bytes);
  if (!isUtf8(buffer)) throw new InvalidUtf8(`${field} is not valid UTF-8`);
  return buffer.toString('utf8');
}

/** Unset bytes decode as undefined or as protobufjs's shared empty default (a plain array). */
export function hex(bytes: Uint8Array | undefined): string {
  return bytes === undefined || bytes.length === 0 ? '' : asBuffer(bytes).toString('hex');
}

/** protobufjs hands out Buffer views when decoding a Buffer; anything else is wrapped without a copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** ExportTraceServiceResponse; partial_success only when something was rejected, as the specification asks. */
export function encodeTraceResponse(partial: { rejectedSpans: number; errorMessage: string } | null): Buffer {
  const message = partial
    ? { partialSuccess: { rejectedSpans: partial.rejectedSpans, errorMessage: partial.errorMessage } }
    : {};
  return Buffer.from(ResponseType.encode(ResponseType.fromObject(message)).finish());
}

/** google.rpc.Status, the protobuf body of a failed OTLP/HTTP request. */
export function encodeStatus(code: number, message: string): Buffer {
  return Buffer.from(StatusType.encode(StatusType.fromObject({ code, message })).finish());
}

/** For tests and the benchmark: decodes what encodeTraceResponse wrote. */
export function decodeTraceResponse(body: Uint8Array): {
  partialSuccess?: { rejectedSpans: string; errorMessage: string };
} {
  return ResponseType.toObject(ResponseType.decode(body), { longs: String });
}
