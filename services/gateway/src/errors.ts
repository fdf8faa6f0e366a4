import { AispmError } from '@aispm/core';

/**
 * Every answer the gateway gives other than 200, in one catalog: a stable `code` (the
 * `code` label of aispm_gateway_requests_refused_total), the HTTP status the OTLP/HTTP
 * specification asks for, Retry-After for the retryable ones (429 and 503: OTLP
 * exporters retry those, and 502 and 504, honouring Retry-After; 408 and the other 4xx
 * they do not), and a message that says what to do. The message reaches the sender in
 * the google.rpc.Status (protobuf) or {code, message} (JSON) body.
 */
interface Entry<A extends unknown[]> {
  status: 400 | 401 | 408 | 413 | 415 | 429 | 500 | 503;
  /** Seconds to send in Retry-After; retryable answers only. */
  retryAfter?: number;
  message: (...args: A) => string;
}

const entry = <A extends unknown[]>(e: Entry<A>): Entry<A> => e;

/** Seconds a sender should wait: short when only busy, longer when the pipeline is behind or Kafka is out. */
const BUSY = 1;
const BEHIND = 5;

export const GATEWAY_ERRORS = {
  unauthorized: entry({
    status: 401,
    message: () =>
      'unknown or missing API key; send it as "Authorization: Bearer <key>" or "x-aispm-key: <key>" (AISPM_GATEWAY_KEYS lists the keys)',
  }),
  unsupported_content_type: entry({
    status: 415,
    message: () => 'Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)',
  }),
  unsupported_encoding: entry({
    status: 415,
    message: (encoding: string) => `Content-Encoding ${encoding} is not supported; send gzip or no encoding`,
  }),
  body_too_large: entry({
    status: 413,
    message: (limit: number, when: string) =>
      `the request body is over ${limit} bytes ${when}; send smaller batches (the exporter's max export batch size)`,
  }),
  body_undecodable: entry({
    status: 400,
    message: (why: string) => why,
  }),
  body_timeout: entry({
    status: 408,
    message: (what: string) =>
      `${what}; send the whole body without long pauses (the gateway's limits: AISPM_GATEWAY_BODY_IDLE_TIMEOUT_MS, AISPM_GATEWAY_BODY_TIMEOUT_MS)`,
  }),
  tenant_in_flight: entry({
    status: 429,
    retryAfter: BUSY,
    message: (tenant: string, bound: number) =>
      `tenant ${tenant} has ${bound} requests in flight, its share of the gateway (AISPM_GATEWAY_TENANT_MAX_IN_FLIGHT); retry later, or send fewer requests at once`,
  }),
  gateway_in_flight: entry({
    status: 429,
    retryAfter: BUSY,
    message: (bound: number) =>
      `the gateway is at its in-flight bound (${bound} requests, AISPM_GATEWAY_MAX_IN_FLIGHT); retry later`,
  }),
  tenant_bytes: entry({
    status: 429,
    retryAfter: BUSY,
    message: (tenant: string, bound: number) =>
      `tenant ${tenant} holds ${bound} bytes of requests in flight, its share of the gateway (AISPM_GATEWAY_TENANT_MAX_BYTES_IN_FLIGHT); retry later, or send smaller batches`,
  }),
  gateway_bytes: entry({
    status: 429,
    retryAfter: BUSY,
    message: (bound: number) =>
      `the gateway holds ${bound} bytes of requests in flight (AISPM_GATEWAY_MAX_BYTES_IN_FLIGHT); retry later`,
  }),
  pipeline_backlog: entry({
    status: 503,
    retryAfter: BEHIND,
    message: (events: number, bytes: number) =>
      `the processor is behind (${events} events, ${bytes} bytes not yet processed; bounds AISPM_BACKLOG_MAX_EVENTS, AISPM_BACKLOG_MAX_BYTES); nothing of this request is taken, send it again later`,
  }),
  kafka_unavailable: entry({
    status: 503,
    retryAfter: BEHIND,
    message: () => 'Kafka is unavailable; nothing of this request is taken, send it again later',
  }),
  kafka_publish_timeout: entry({
    status: 503,
    retryAfter: BEHIND,
    message: (ms: number) =>
      `Kafka did not acknowledge within ${ms} ms; nothing of this request is acknowledged, send it again later`,
  }),
  kafka_publish_failed: entry({
    status: 503,
    retryAfter: BEHIND,
    message: (why: string) => `Kafka refused the records (${why}); send them again later`,
  }),
  shutting_down: entry({
    status: 503,
    retryAfter: BEHIND,
    message: () =>
      'the gateway is shutting down and takes no new data; nothing of this request is taken, send it again later (to this or another gateway)',
  }),
  decode_failed: entry({
    status: 500,
    message: (why: string) =>
      `the gateway could not decode this request (${why}); this is a gateway fault, report it with the gateway's log`,
  }),
};

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;
type ArgsOf<C extends GatewayErrorCode> = Parameters<(typeof GATEWAY_ERRORS)[C]['message']>;

/** A request the gateway answers with an error from the catalog. */
export class GatewayError extends AispmError {
  declare readonly code: GatewayErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'GatewayError';
    this.status = GATEWAY_ERRORS[code].status;
    this.retryAfter = GATEWAY_ERRORS[code].retryAfter;
  }
}

/** The catalog's error `code`, its message filled in. */
export function gatewayError<C extends GatewayErrorCode>(code: C, ...args: ArgsOf<C>): GatewayError {
  return new GatewayError(code, (GATEWAY_ERRORS[code].message as (...a: unknown[]) => string)(...args));
}
