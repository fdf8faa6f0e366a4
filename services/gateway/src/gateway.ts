import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import {
  createEventCodec,
  describeError,
  fromOtlpJson,
  mapSpans,
  type Bus,
  type Config,
  type Logger,
  type RejectedSpan,
} from '@aispm/core';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Admission, PublishUnavailable } from './admission.ts';
import type { ApiKeys } from './api-keys.ts';
import { BodyError, readBody } from './body.ts';
import { rejectionMessage } from './ingest.ts';
import { createMetrics } from './metrics.ts';
import { decodeTraceRequest, encodeStatus, encodeTraceResponse, UndecodableBody } from './otlp/proto.ts';

export interface GatewayOptions {
  bus: Bus;
  config: Pick<Config, 'capture' | 'topics' | 'gateway' | 'partitions'>;
  keys: ApiKeys;
  log: Logger;
}

type Encoding = 'protobuf' | 'json';

/** gRPC status codes for the google.rpc.Status body of a failed request, by HTTP status. */
const RPC_CODE: Record<number, number> = { 400: 3, 401: 16, 413: 8, 415: 3, 429: 8, 503: 14 };
/** Seconds a sender should wait: short when only busy, longer when Kafka is out. */
const RETRY_AFTER_BUSY = 1;
const RETRY_AFTER_OUTAGE = 5;
/** How long /readyz waits for Kafka's metadata answer. */
const READY_TIMEOUT_MS = 2000;

/**
 * The OTLP/HTTP gateway: `POST /v1/traces` (protobuf or JSON, gzip or not) → the shim's
 * span mapping with the API key's tenant → Avro events on the events topic; answered
 * 200 only once Kafka has acknowledged them. Status codes follow the OTLP/HTTP
 * specification. Also `/healthz`, `/readyz` (Kafka answers) and `/metrics` (Prometheus).
 */
export function buildGateway(options: GatewayOptions): FastifyInstance {
  const { bus, config, keys, log } = options;
  const metrics = createMetrics();
  const codec = createEventCodec();
  const admission = new Admission({
    bus,
    topic: config.topics.events,
    maxInFlight: config.gateway.maxInFlight,
    publishTimeoutMs: config.gateway.publishTimeoutMs,
    onChange: (n) => metrics.inFlight.set(n),
  });
  const ready = readiness(bus, config);
  const app = Fastify({ logger: false });

  // The body is read by the route itself, bounded after decompression; no parser buffers it first.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const problem = await ready();
    if (problem === null) return { status: 'ready' };
    return reply.code(503).send({ status: 'not ready', reason: problem });
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  app.post('/v1/traces', async (request, reply) => {
    const started = process.hrtime.bigint();
    const answer = (status: number): void => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requests.inc({ status: String(status) });
      metrics.latency.observe({ status: String(status) }, seconds);
    };
    const encoding = encodingOf(request.headers['content-type']);
    const fail = (status: number, message: string, retryAfter?: number): FastifyReply => {
      answer(status);
      drain(request);
      if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
      if (status === 401) void reply.header('www-authenticate', 'Bearer');
      return failure(reply, status, message, encoding ?? 'json');
    };

    const tenant = keys.tenantOf(apiKeyOf(request));
    if (tenant === null) {
      return fail(401, 'unknown or missing API key; send it as "Authorization: Bearer <key>" or "x-aispm-key: <key>"');
    }
    if (encoding === null) {
      return fail(415, 'Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)');
    }
    const slot = admission.tryAcquire();
    if (slot === null) {
      const outage = admission.kafkaDown;
      return outage
        ? fail(503, 'Kafka is unavailable; retry later', RETRY_AFTER_OUTAGE)
        : fail(
            429,
            `the gateway is at its in-flight bound (${config.gateway.maxInFlight}); retry later`,
            RETRY_AFTER_BUSY,
          );
    }
    try {
      const body = await readBody(
        request.body as Readable,
        header(request.headers['content-encoding']),
        config.gateway.maxBodyBytes,
      );
      const decoded = decode(body, encoding);
      const read = fromOtlpJson(decoded.json);
      const mapped = mapSpans(read.spans, { tenant, capture: config.capture, codec });
      const rejected = [...decoded.rejected, ...read.rejected, ...mapped.rejected];
      if (mapped.records.length > 0) await slot.publish(mapped.records);

      metrics.accepted.inc({ tenant }, mapped.records.length);
      if (mapped.ignored > 0) metrics.ignored.inc({ tenant }, mapped.ignored);
      countRejected(metrics.rejected, decoded.rejected, read.rejected, mapped.rejected);
      answer(200);
      const partial =
        rejected.length > 0 ? { rejectedSpans: rejected.length, errorMessage: rejectionMessage(rejected) } : null;
      return success(reply, partial, encoding);
    } catch (err) {
      if (err instanceof BodyError) {
        metrics.rejected.inc({ reason: err.reason });
        return fail(err.status, err.message);
      }
      if (err instanceof UndecodableBody) {
        metrics.rejected.inc({ reason: 'undecodable' });
        return fail(400, err.message);
      }
      if (err instanceof PublishUnavailable) {
        log.warn('gateway: publish to Kafka failed; answered 503', { code: err.code, error: err.message, tenant });
        return fail(503, err.message, RETRY_AFTER_OUTAGE);
      }
      throw err;
    } finally {
      slot.done();
    }
  });
  return app;
}

function decode(body: Buffer, encoding: Encoding): ReturnType<typeof decodeTraceRequest> {
  if (encoding === 'protobuf') return decodeTraceRequest(body);
  // JSON text must be UTF-8 (RFC 8259); one that is not cannot be parsed without guessing.
  if (!isUtf8(body)) throw new UndecodableBody('the JSON body is not valid UTF-8');
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new UndecodableBody(`the body is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UndecodableBody('the body is not a JSON object (expected an ExportTraceServiceRequest)');
  }
  return { json: json as { resourceSpans: Record<string, unknown>[] }, rejected: [] };
}

function countRejected(
  counter: ReturnType<typeof createMetrics>['rejected'],
  utf8: readonly RejectedSpan[],
  unreadable: readonly RejectedSpan[],
  invalid: readonly RejectedSpan[],
): void {
  if (utf8.length > 0) counter.inc({ reason: 'invalid_utf8' }, utf8.length);
  if (unreadable.length > 0) counter.inc({ reason: 'unreadable_span' }, unreadable.length);
  if (invalid.length > 0) counter.inc({ reason: 'invalid_event' }, invalid.length);
}

function success(
  reply: FastifyReply,
  partial: { rejectedSpans: number; errorMessage: string } | null,
  encoding: Encoding,
): FastifyReply {
  if (encoding === 'protobuf') return reply.code(200).type('application/x-protobuf').send(encodeTraceResponse(partial));
  // OTLP/JSON: lowerCamelCase names, int64 as a decimal string (the protobuf JSON mapping).
  const body = partial
    ? { partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage } }
    : {};
  return reply.code(200).type('application/json').send(body);
}

function failure(reply: FastifyReply, status: number, message: string, encoding: Encoding): FastifyReply {
  const code = RPC_CODE[status] ?? 2;
  if (encoding === 'protobuf')
    return reply.code(status).type('application/x-protobuf').send(encodeStatus(code, message));
  return reply.code(status).type('application/json').send({ code, message });
}

function encodingOf(contentType: string | undefined): Encoding | null {
  const type = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return null;
}

/** `Authorization: Bearer <key>` (what OTEL_EXPORTER_OTLP_HEADERS usually carries) or `x-aispm-key`. */
function apiKeyOf(request: FastifyRequest): string {
  const explicit = header(request.headers['x-aispm-key']);
  if (explicit) return explicit.trim();
  const authorization = header(request.headers.authorization) ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1] ?? '';
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A request answered before its body was read: discard the body so the answer reaches the sender. */
function drain(request: FastifyRequest): void {
  const body = request.body as Readable | undefined;
  if (body && typeof body.resume === 'function' && !body.readableEnded) body.resume();
}

/** Single-flight readiness: Kafka answers a metadata request (listing topics) within READY_TIMEOUT_MS. */
function readiness(bus: Bus, config: GatewayOptions['config']): () => Promise<string | null> {
  let running: Promise<string | null> | undefined;
  return () => {
    running ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve(`Kafka did not answer within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
        });
        const check = bus
          .ensureTopics([{ topic: config.topics.events, partitions: config.partitions }])
          .then(() => null)
          .catch(describeError);
        return await Promise.race([check, timeout]);
      } finally {
        clearTimeout(timer);
        running = undefined;
      }
    })();
    return running;
  };
}
