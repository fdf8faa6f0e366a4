import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The gateway's Prometheus metrics, in a registry of its own so several gateways can share a process. */
export interface GatewayMetrics {
  readonly registry: Registry;
  readonly accepted: Counter<'tenant'>;
  readonly rejected: Counter<'reason'>;
  readonly ignored: Counter<'tenant'>;
  readonly merged: Counter<'tenant'>;
  readonly requests: Counter<'status'>;
  readonly refused: Counter<'code'>;
  readonly inFlight: Gauge;
  readonly tenantInFlight: Gauge<'tenant'>;
  readonly bytesInFlight: Gauge;
  readonly backlogEvents: Gauge;
  readonly backlogBytes: Gauge;
  readonly offloaded: Counter;
  readonly signalItems: Counter<'signal' | 'result' | 'reason'>;
  readonly latency: Histogram<'status'>;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  return {
    registry,
    accepted: new Counter({
      name: 'aispm_gateway_spans_accepted_total',
      help: 'AI spans published to the events topic and acknowledged by Kafka',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'aispm_gateway_spans_rejected_total',
      help: 'Spans rejected, by reason (invalid span, invalid UTF-8, or whole requests: unauthorized, too large, ...)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    merged: new Counter({
      name: 'aispm_gateway_calls_merged_total',
      help: 'Model calls reported twice in two traces of one request (two instrumentations), merged into one event',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    ignored: new Counter({
      name: 'aispm_gateway_spans_ignored_total',
      help: 'Spans that are not AI actions (no GenAI, OpenInference or OpenLLMetry attributes)',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'aispm_gateway_requests_total',
      help: 'Export requests answered, by HTTP status',
      labelNames: ['status'],
      registers: [registry],
    }),
    refused: new Counter({
      name: 'aispm_gateway_requests_refused_total',
      help: 'Export requests answered with an error, by the code of the gateway error catalog (pipeline_backlog, tenant_in_flight, body_timeout, ...)',
      labelNames: ['code'],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'aispm_gateway_in_flight',
      help: 'Export requests being read, mapped or awaiting Kafka (including answered ones whose publish still runs)',
      registers: [registry],
    }),
    tenantInFlight: new Gauge({
      name: 'aispm_gateway_tenant_in_flight',
      help: 'The same, by tenant (bounded by AISPM_GATEWAY_TENANT_MAX_IN_FLIGHT)',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    bytesInFlight: new Gauge({
      name: 'aispm_gateway_bytes_in_flight',
      help: 'Bytes of request bodies (as sent and inflated) and of their records held by requests in flight',
      registers: [registry],
    }),
    backlogEvents: new Gauge({
      name: 'aispm_gateway_backlog_events',
      help: 'Events on the events topic not yet committed by the processor, as last seen (embedded bus only)',
      registers: [registry],
    }),
    backlogBytes: new Gauge({
      name: 'aispm_gateway_backlog_bytes',
      help: 'Bytes of those events, as last seen',
      registers: [registry],
    }),
    offloaded: new Counter({
      name: 'aispm_gateway_offloaded_requests_total',
      help: 'Export requests decoded and mapped on a worker thread (bodies of at least AISPM_GATEWAY_OFFLOAD_BYTES)',
      registers: [registry],
    }),
    signalItems: new Counter({
      name: 'aispm_gateway_signal_items_total',
      help: 'Log records and metric data points on /v1/logs and /v1/metrics, by signal, result (stored: GenAI, published; dropped: accepted but not kept; rejected: in partial_success; refused: whole requests) and reason',
      labelNames: ['signal', 'result', 'reason'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'aispm_gateway_request_duration_seconds',
      help: 'Time from request to answer for POST /v1/traces, /v1/logs and /v1/metrics',
      labelNames: ['status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
