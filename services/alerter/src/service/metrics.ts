import { Counter, Gauge, Registry } from 'prom-client';
import type { BreakerState } from './breaker.ts';

/** The alerter's Prometheus metrics, in a registry of its own (served on its API's /metrics). */
export interface AlerterMetrics {
  registry: Registry;
  deliveries: Counter<'destination' | 'outcome'>;
  retries: Counter<'destination'>;
  dlq: Counter<'reason'>;
  breaker: Gauge<'destination'>;
  inFlightRefs: Gauge;
  inFlightDeliveries: Gauge;
  lag: Gauge;
}

export const BREAKER_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 1, open: 2 };

export function createAlerterMetrics(lag: () => number | null): AlerterMetrics {
  const registry = new Registry();
  return {
    registry,
    deliveries: new Counter({
      name: 'aispm_alerter_deliveries_total',
      help: 'Notifications that left the delivery loop, by destination and outcome (delivered, dead_lettered)',
      labelNames: ['destination', 'outcome'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'aispm_alerter_retries_total',
      help: 'Failed attempts that were retried, by destination',
      labelNames: ['destination'],
      registers: [registry],
    }),
    dlq: new Counter({
      name: 'aispm_alerter_dlq_total',
      help: 'Records written to the alerts dead-letter topic: undecodable findings, refused or undeliverable alerts',
      labelNames: ['reason'],
      registers: [registry],
    }),
    breaker: new Gauge({
      name: 'aispm_alerter_breaker_state',
      help: 'Circuit breaker per destination: 0 closed, 1 half-open, 2 open',
      labelNames: ['destination'],
      registers: [registry],
    }),
    inFlightRefs: new Gauge({
      name: 'aispm_alerter_in_flight_records',
      help: 'Finding records taken from the bus and not yet released (delivered, dead-lettered or needing nothing)',
      registers: [registry],
    }),
    inFlightDeliveries: new Gauge({
      name: 'aispm_alerter_in_flight_deliveries',
      help: 'Notifications being sent or waiting to be retried',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'aispm_alerter_lag_records',
      help: 'Findings on the findings topic the alerter group has not committed',
      registers: [registry],
      collect() {
        const value = lag();
        if (value !== null) this.set(value);
      },
    }),
  };
}
