import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The gateway's Prometheus metrics, in a registry of its own so several gateways can share a process. */
export interface GatewayMetrics {
  readonly registry: Registry;
  readonly accepted: Counter<'tenant'>;
  readonly rejected: Counter<'reason'>;
  readonly ignored: Counter<'tenant'>;
  readonly requests: Counter<'status'>;
  readonly inFlight: Gauge;
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
    inFlight: new Gauge({
      name: 'aispm_gateway_in_flight',
      help: 'Export requests being read, mapped or awaiting Kafka (including answered ones whose publish still runs)',
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'aispm_gateway_request_duration_seconds',
      help: 'Time from request to answer for POST /v1/traces',
      labelNames: ['status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
