import type { Config } from '@aispm/core';
import type { BreakerOptions } from './breaker.ts';
import type { DeliveryPolicy } from './delivery.ts';

/** The alerter's options, compiled once from the configuration; the knobs that are not configuration have their defaults here. */
export interface AlerterOptions {
  routesFile: string;
  topic: string;
  group: string;
  dlqTopic: string;
  delivery: DeliveryPolicy;
  breaker: BreakerOptions;
  maxBatchSize: number;
  concurrency: number;
  maxInFlightPerDestination: number;
  /** How long a stop lets deliveries in flight finish before what is left is left for the next run. */
  stopDeadlineMs: number;
  api: { keys: string | null; host: string; port: number; maxSilencesPerTenant: number };
  grafanaUrl: string | null;
  /** Where the API's silences are kept across restarts. */
  silencesFile: string;
}

export const ALERTER_DEFAULTS = {
  attemptTimeoutMs: 10_000,
  maxBatchSize: 500,
  concurrency: 8,
  /** Enough to keep a healthy receiver busy; a slow one holds no more connections than this. */
  maxInFlightPerDestination: 64,
  stopDeadlineMs: 10_000,
  maxSilencesPerTenant: 1000,
  /** Records held before the bus handler waits: room for a burst's group_wait, well under the dispatcher's own bound. */
  maxHeld: 20_000,
  /** Findings gathered per fetch for this long: far fewer, fuller fetches for a few ms of latency. */
  lingerMs: 10,
  /** Commits go in passes this far apart: a broker round trip per partition per pass, not per alert. */
  commitIntervalMs: 100,
} as const;

export function alerterOptions(config: Config): AlerterOptions {
  const a = config.alerter;
  return {
    routesFile: a.routesFile,
    topic: config.topics.findings,
    group: a.group,
    dlqTopic: a.dlqTopic,
    delivery: {
      maxAttempts: a.retryMaxAttempts,
      maxElapsedMs: a.retryMaxElapsedMs,
      backoff: { baseMs: a.backoffBaseMs, capMs: Math.max(a.backoffBaseMs, a.backoffCapMs) },
      attemptTimeoutMs: ALERTER_DEFAULTS.attemptTimeoutMs,
    },
    breaker: { failures: a.breakerFailures, cooldownMs: a.breakerCooldownMs },
    maxBatchSize: ALERTER_DEFAULTS.maxBatchSize,
    concurrency: Math.min(ALERTER_DEFAULTS.concurrency, config.partitions),
    maxInFlightPerDestination: ALERTER_DEFAULTS.maxInFlightPerDestination,
    stopDeadlineMs: ALERTER_DEFAULTS.stopDeadlineMs,
    api: { keys: a.apiKeys, host: a.host, port: a.port, maxSilencesPerTenant: ALERTER_DEFAULTS.maxSilencesPerTenant },
    grafanaUrl: a.grafanaUrl,
    silencesFile: `${config.dataDir}/alerter/silences.json`,
  };
}

/** The Grafana drill-down for a finding: the posture dashboard (open findings by asset) filtered to its tenant. */
export function grafanaLink(base: string | null): ((f: { tenant: string }) => string) | undefined {
  if (base === null) return undefined;
  const root = base.replace(/\/+$/, '');
  return (f) => `${root}/d/aispm-posture?var-tenant=${encodeURIComponent(f.tenant)}`;
}
