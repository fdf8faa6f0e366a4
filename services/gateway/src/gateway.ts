import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import {
  CONFIG_KEYS,
  ConfigError,
  createEventCodec,
  createGenAiLogCodec,
  createGenAiMetricCodec,
  describeError,
  type Config,
  type Logger,
  type OutgoingRecord,
  type RejectedSpan,
  consumerGroups,
} from '@aispm/core';
import { type Bus } from '@aispm/bus';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { Admission } from './admission.ts';
import type { ApiKeys } from './api-keys.ts';
import { readBody } from './body.ts';
import { decodeAndMap, type Decoded, type Encoding } from './decode.ts';
import { GatewayError, gatewayError, type GatewayErrorCode } from './errors.ts';
import { rejectionMessage } from './ingest.ts';
import { createMetrics, type GatewayMetrics } from './metrics.ts';
import { encodeStatus, encodeTraceResponse, UndecodableBody } from './otlp/proto.ts';
import { encodeSignalResponse, type Signal } from './otlp/signals.ts';
import { DecodePool } from './pool.ts';

export interface GatewayOptions {
  bus: Bus;
  config: Pick<Config, 'capture' | 'topics' | 'gateway' | 'partitions' | 'processor'>;
  keys: ApiKeys;
  log: Logger;
  /** Other services' metrics in this process, served with the gateway's on GET /metrics. */
  registries?: Registry[];
}

/** The public OTLP/HTTP app and the Prometheus one, each to listen on its own address. */
export interface Gateway {
  app: FastifyInstance;
  /** GET /metrics, for AISPM_METRICS_HOST:AISPM_METRICS_PORT (loopback by default): it names tenants. */
  metricsApp: FastifyInstance;
  /**
   * Stops intake: from now on /v1/traces, /v1/logs and /v1/metrics answer 503 with Retry-After. Resolves once the
   * requests admitted before have finished (their records published or refused); the
   * listeners stay up until closed.
   */
  stopIntake(): Promise<void>;
}

/** gRPC status codes for the google.rpc.Status body of a failed request, by HTTP status. */
const RPC_CODE: Record<number, number> = { 400: 3, 401: 16, 408: 4, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14 };
/** How long /readyz waits for Kafka's metadata answer. */
const READY_TIMEOUT_MS = 2000;
/** The `reason` of aispm_gateway_spans_rejected_total for whole requests refused for their body. */
const REJECTED_REASON: Partial<Record<GatewayErrorCode, string>> = {
  body_too_large: 'too_large',
  unsupported_encoding: 'bad_encoding',
  body_undecodable: 'undecodable',
};

/** The bounds in effect: "0" (automatic) resolved, and checked against each other. */
export function gatewayBounds(gateway: Config['gateway']): {
  tenantMaxInFlight: number;
  tenantMaxBytes: number;
} {
  const tenantMaxInFlight = Math.min(
    gateway.maxInFlight,
    gateway.tenantMaxInFlight || Math.max(1, Math.floor(gateway.maxInFlight / 4)),
  );
  // A gzip body holds what was sent and what it inflates to, each up to the body limit.
  const least = 2 * gateway.maxBodyBytes;
  if (gateway.maxBytesInFlight < least) {
    throw new ConfigError(
      CONFIG_KEYS.gatewayMaxBytesInFlight.env,
      `is ${gateway.maxBytesInFlight}, less than twice ${CONFIG_KEYS.gatewayMaxBodyBytes.env} (${least}), so the largest gzip body could never be taken; raise it or lower the body limit`,
    );
  }
  if (gateway.tenantMaxBytesInFlight !== 0 && gateway.tenantMaxBytesInFlight < least) {
    throw new ConfigError(
      CONFIG_KEYS.gatewayTenantMaxBytesInFlight.env,
      `is ${gateway.tenantMaxBytesInFlight}, less than twice ${CONFIG_KEYS.gatewayMaxBodyBytes.env} (${least}), so the largest gzip body could never be taken; raise it, or 0 for a quarter of ${CONFIG_KEYS.gatewayMaxBytesInFlight.env}`,
    );
  }
  const tenantMaxBytes = Math.min(
    gateway.maxBytesInFlight,
    gateway.tenantMaxBytesInFlight || Math.max(least, Math.floor(gateway.maxBytesInFlight / 4)),
  );
  return { tenantMaxInFlight, tenantMaxBytes };
}

/**
 * The OTLP/HTTP gateway: `POST /v1/traces` (protobuf or JSON, gzip or not) → the shim's
 * span mapping with the API key's tenant → Avro events on the events topic; answered
 * 200 only once Kafka has acknowledged them. Status codes follow the OTLP/HTTP
 * specification; every error comes from the catalog in errors.ts. Also `/healthz` and
 * `/readyz` (Kafka answers); `/metrics` (Prometheus) only on `metricsApp`.
 *
 * Before a body is read, Admission checks the processor's backlog and takes one of the
 * tenant's in-flight slots; the body must arrive within the idle and total timeouts and
 * within the tenant's and the gateway's bytes in flight. Bodies of at least
 * AISPM_GATEWAY_OFFLOAD_BYTES are decoded and mapped on a worker thread.
 */
export function buildGateway(options: GatewayOptions): Gateway {
  const { bus, config, keys, log } = options;
  const limits = config.gateway;
  const bounds = gatewayBounds(limits);
  const metrics = createMetrics();
  const codec = createEventCodec();
  const logCodec = createGenAiLogCodec();
  const metricCodec = createGenAiMetricCodec();
  const topicOf: Record<Signal, string> = {
    traces: config.topics.events,
    logs: config.topics.genaiLogs,
    metrics: config.topics.genaiMetrics,
  };
  const admission = new Admission({
    bus,
    topic: config.topics.events,
    group: consumerGroups(config.processor.group).traces,
    alsoBacklogOf: [
      // The agents stage's input: a traces stage ahead of a slow agents stage only moves the backlog there.
      { topic: config.topics.attributed, group: consumerGroups(config.processor.group).agents },
      { topic: config.topics.genaiLogs, group: consumerGroups(config.processor.group).genaiLogs },
      { topic: config.topics.genaiMetrics, group: consumerGroups(config.processor.group).genaiMetrics },
    ],
    maxInFlight: limits.maxInFlight,
    tenantMaxInFlight: bounds.tenantMaxInFlight,
    maxBytes: limits.maxBytesInFlight,
    tenantMaxBytes: bounds.tenantMaxBytes,
    backlogMaxEvents: limits.backlogMaxEvents,
    backlogMaxBytes: limits.backlogMaxBytes,
    publishTimeoutMs: limits.publishTimeoutMs,
    metrics,
  });
  let stopped = false;
  const pool = limits.workers > 0 ? new DecodePool({ size: limits.workers, capture: config.capture, log }) : null;
  const ready = readiness(bus, config);
  // Node answers 408 itself to headers slower than headersTimeout; requestTimeout is a backstop behind the
  // body timeouts (it also ends connections whose unread body stalls after an early answer).
  const requestTimeout = limits.headerTimeoutMs + limits.bodyTimeoutMs + 5000;
  const app = Fastify({
    logger: false,
    requestTimeout,
    http: {
      headersTimeout: limits.headerTimeoutMs,
      requestTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headerTimeoutMs / 4))),
    },
  });
  app.addHook('onClose', async () => pool?.close());

  // The body is read by the route itself, bounded after decompression; no parser buffers it first.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const problem = await ready();
    if (problem === null) return { status: 'ready' };
    return reply.code(503).send({ status: 'not ready', reason: problem });
  });
  // It names tenants and their volumes: never on the public listener.
  app.get('/metrics', (_request, reply) =>
    reply.code(404).send({
      message: `not served here; Prometheus metrics are on ${CONFIG_KEYS.metricsHost.env}:${CONFIG_KEYS.metricsPort.env} (default 127.0.0.1:9464)`,
    }),
  );

  // The same keys, limits, timeouts, in-flight bounds and status rules for the three signals.
  const exportRoute = (signal: Signal) => async (request: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    const answer = (status: number): void => {
      const seconds = (performance.now() - started) / 1000;
      metrics.requests.inc({ status: String(status) });
      metrics.latency.observe({ status: String(status) }, seconds);
    };
    const encoding = encodingOf(request.headers['content-type']);
    const fail = (err: GatewayError): FastifyReply => {
      answer(err.status);
      metrics.refused.inc({ code: err.code });
      // A stalled body will not drain: close the connection once answered. Otherwise read
      // the rest unread, so the answer reaches a sender that is still sending.
      if (err.code === 'body_timeout') void reply.header('connection', 'close');
      else drain(request);
      if (err.retryAfter !== undefined) void reply.header('retry-after', String(err.retryAfter));
      if (err.status === 401) void reply.header('www-authenticate', 'Bearer');
      return failure(reply, err.status, err.message, encoding ?? 'json');
    };

    if (stopped) return fail(gatewayError('shutting_down'));
    const tenant = keys.tenantOf(apiKeyOf(request));
    if (tenant === null) return fail(gatewayError('unauthorized'));
    if (encoding === null) return fail(gatewayError('unsupported_content_type'));
    const slot = admission.tryAcquire(tenant);
    if (slot instanceof GatewayError) return fail(slot);
    try {
      const body = await readBody(request.body as Readable, header(request.headers['content-encoding']), {
        limit: limits.maxBodyBytes,
        idleMs: limits.bodyIdleTimeoutMs,
        deadline: started + limits.bodyTimeoutMs,
        charge: slot.charge,
        headroom: slot.headroom,
        hold: slot.hold,
      });
      const nowMs = Date.now();
      let decoded: Decoded;
      if (pool?.usable && body.length >= limits.offloadBytes) {
        metrics.offloaded.inc();
        decoded = await pool.run(body, encoding, { tenant, nowMs, signal });
      } else {
        decoded = decodeAndMap(body, encoding, {
          tenant,
          capture: config.capture,
          codec,
          nowMs,
          signal,
          logCodec,
          metricCodec,
        });
      }
      const { records, direct, ignored, links, merged, rejected, dropped } = decoded;
      // The body is done with; its records are held until Kafka has them.
      slot.hold(recordBytes(records) + recordBytes(direct));
      await Promise.all([
        records.length > 0 ? slot.publish(records, topicOf[signal]) : undefined,
        direct.length > 0 ? slot.publish(direct, config.topics.attributed) : undefined,
      ]);

      const all = [...rejected.utf8, ...rejected.unreadable, ...rejected.invalid];
      if (signal === 'traces') {
        metrics.accepted.inc({ tenant }, records.length - links + direct.length);
        if (ignored > 0) metrics.ignored.inc({ tenant }, ignored);
        if (merged > 0) metrics.merged.inc({ tenant }, merged);
        countRejected(metrics.rejected, rejected);
      } else {
        const items = metrics.signalItems;
        if (records.length > 0) items.inc({ signal, result: 'stored', reason: 'genai' }, records.length);
        for (const [reason, n] of Object.entries(dropped ?? {})) items.inc({ signal, result: 'dropped', reason }, n);
        if (rejected.utf8.length > 0)
          items.inc({ signal, result: 'rejected', reason: 'invalid_utf8' }, rejected.utf8.length);
        if (rejected.invalid.length > 0)
          items.inc({ signal, result: 'rejected', reason: 'invalid' }, rejected.invalid.length);
      }
      answer(200);
      const partial = all.length > 0 ? { rejected: all.length, errorMessage: rejectionMessage(all, signal) } : null;
      return success(reply, partial, encoding, signal);
    } catch (err) {
      const known =
        err instanceof GatewayError
          ? err
          : err instanceof UndecodableBody
            ? gatewayError('body_undecodable', err.message)
            : null;
      if (known === null) throw err;
      const reason = REJECTED_REASON[known.code];
      if (reason && signal === 'traces') metrics.rejected.inc({ reason });
      else if (reason) metrics.signalItems.inc({ signal, result: 'refused', reason });
      if (known.code.startsWith('kafka_') || known.code === 'decode_failed') {
        log.warn(`gateway: ${known.code}; answered ${known.status}`, { error: known.message, tenant });
      }
      return fail(known);
    } finally {
      slot.done();
    }
  };
  app.post('/v1/traces', exportRoute('traces'));
  app.post('/v1/logs', exportRoute('logs'));
  app.post('/v1/metrics', exportRoute('metrics'));

  const metricsApp = Fastify({ logger: false });
  const served = Registry.merge([metrics.registry, ...(options.registries ?? [])]);
  metricsApp.get('/metrics', async (_request, reply) => reply.type(served.contentType).send(await served.metrics()));
  // Liveness on the metrics listener too, where every service's container health check looks.
  metricsApp.get('/healthz', () => ({ status: 'ok' }));
  return {
    app,
    metricsApp,
    stopIntake: async () => {
      stopped = true;
      while (admission.inFlight > 0) await sleep(10);
    },
  };
}

function recordBytes(records: readonly OutgoingRecord[]): number {
  let bytes = 0;
  for (const r of records) bytes += r.value.length + r.key.length;
  return bytes;
}

function countRejected(counter: GatewayMetrics['rejected'], rejected: Decoded['rejected']): void {
  const count = (reason: string, spans: readonly RejectedSpan[]): void => {
    if (spans.length > 0) counter.inc({ reason }, spans.length);
  };
  count('invalid_utf8', rejected.utf8);
  count('unreadable_span', rejected.unreadable);
  count('invalid_event', rejected.invalid);
}

/** The Export*ServiceResponse's count field, by signal. */
const REJECTED_FIELD: Record<Signal, string> = {
  traces: 'rejectedSpans',
  logs: 'rejectedLogRecords',
  metrics: 'rejectedDataPoints',
};

function success(
  reply: FastifyReply,
  partial: { rejected: number; errorMessage: string } | null,
  encoding: Encoding,
  signal: Signal,
): FastifyReply {
  if (encoding === 'protobuf') {
    const body =
      signal === 'traces'
        ? encodeTraceResponse(partial && { rejectedSpans: partial.rejected, errorMessage: partial.errorMessage })
        : encodeSignalResponse(signal, partial);
    return reply.code(200).type('application/x-protobuf').send(body);
  }
  // OTLP/JSON: lowerCamelCase names, int64 as a decimal string (the protobuf JSON mapping).
  const body = partial
    ? { partialSuccess: { [REJECTED_FIELD[signal]]: String(partial.rejected), errorMessage: partial.errorMessage } }
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
