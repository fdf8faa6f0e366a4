import {
  CONFIG_KEYS,
  ConfigError,
  describeError,
  type Config,
  type Finding,
  type Logger,
  type Severity,
  SEVERITIES,
  findingId,
} from '@aispm/core';
import type { Bus } from '@aispm/bus';
import type { FastifyInstance } from 'fastify';
import { createDestination } from '../destinations/index.ts';
import { createDispatcher } from '../dispatch/index.ts';
import type { DeliveryResult, Destination, Notification } from '../notification.ts';
import { loadRoutes, type Routes } from '../routes/index.ts';
import { buildAlerterApi } from './api.ts';
import { alerterOptions, grafanaLink } from './options.ts';
import { startAlerter, type AlerterService, type Ref } from './service.ts';
import { SilenceStore } from './silences.ts';

export interface RunningAlerter {
  service: AlerterService;
  /** Base URL of the API (silences, /healthz, /metrics). */
  apiUrl: string;
  /** Stops taking findings, lets deliveries finish up to the stop deadline, commits, closes the API and the destinations. */
  stop(): Promise<void>;
}

/**
 * What `aispm alerter` (and `aispm up` when a routes file exists) runs: the routes file,
 * its destinations, the dispatcher, the service on the bus, and the API.
 */
export async function startAlerterProcess(options: {
  bus: Bus;
  config: Config;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}): Promise<RunningAlerter> {
  const { bus, config, log } = options;
  const o = alerterOptions(config);
  const routes = loadRoutes(o.routesFile);
  const destinations = openDestinations(routes, options.env ?? process.env);
  const silences = new SilenceStore({ maxPerTenant: o.api.maxSilencesPerTenant, file: o.silencesFile });
  let service: AlerterService | undefined;
  let api: FastifyInstance | undefined;
  try {
    await bus.ensureTopics([{ topic: o.topic, partitions: config.partitions }]);
    const linkOf = grafanaLink(o.grafanaUrl);
    const dispatcher = createDispatcher<Ref>(routes, { silences, ...(linkOf ? { linkOf } : {}) });
    service = await startAlerter({
      bus,
      log,
      topic: o.topic,
      group: o.group,
      dlqTopic: o.dlqTopic,
      dispatcher,
      destinations,
      delivery: o.delivery,
      breaker: o.breaker,
      maxBatchSize: o.maxBatchSize,
      concurrency: o.concurrency,
      maxInFlightPerDestination: o.maxInFlightPerDestination,
    });
    const running = service;
    let stopping = false;
    api = buildAlerterApi({
      keys: o.api.keys,
      silences,
      registry: running.metrics.registry,
      healthy: () => !stopping,
      // A new or expired silence can mute or unmute what is waiting: the dispatcher looks again.
      onChange: () => {
        dispatcher.silencesChanged(Date.now());
        running.poke();
      },
    });
    const apiUrl = await listen(api, o.api.host, o.api.port);
    if (o.api.keys === null)
      log.info('alerter silences API closed: set AISPM_ALERT_API_KEYS (tenant:key lines) to open it');
    log.info('alerter up', { routes: routes.source, api: apiUrl, destinations: [...destinations.keys()] });
    const app = api;
    return {
      service: running,
      apiUrl,
      async stop() {
        stopping = true;
        await running.stop(o.stopDeadlineMs);
        await app.close();
        await closeAll(destinations, log);
      },
    };
  } catch (err) {
    await service?.stop(0);
    await api?.close();
    await closeAll(destinations, log);
    throw err;
  }
}

function openDestinations(routes: Routes, env: NodeJS.ProcessEnv): Map<string, Destination> {
  const destinations = new Map<string, Destination>();
  for (const spec of routes.destinations) destinations.set(spec.name, createDestination(spec.config, env));
  return destinations;
}

async function closeAll(destinations: ReadonlyMap<string, Destination>, log: Logger): Promise<void> {
  const results = await Promise.allSettled([...destinations.values()].map((d) => d.close()));
  for (const r of results)
    if (r.status === 'rejected') log.warn('closing an alert destination failed', { error: describeError(r.reason) });
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(
        CONFIG_KEYS.alertApiPort.env,
        `port ${port} on ${host} is taken (another aispm alerter?); set ${CONFIG_KEYS.alertApiPort.env} to a free port, or 0 for any`,
      );
    }
    throw err;
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}

/** What one destination answered to `aispm alerts test`. */
export interface TestAnswer {
  destination: string;
  kind: string;
  result: DeliveryResult;
}

/**
 * `aispm alerts test ROUTE`: a sample finding, sent once through each destination of
 * the route as the delivery loop would send it (no retries: the answer is the point).
 */
export async function testRoute(options: {
  config: Config;
  log: Logger;
  route: string;
  severity: string;
  tenant: string;
  resolve: boolean;
  env?: NodeJS.ProcessEnv;
}): Promise<TestAnswer[]> {
  const o = alerterOptions(options.config);
  const routes = loadRoutes(o.routesFile);
  const route = routes.byName.get(options.route);
  if (!route) {
    throw new ConfigError(
      CONFIG_KEYS.alertRoutesFile.env,
      `${routes.source} has no route named "${options.route}"; routes: ${[...routes.byName.keys()].join(', ')}`,
    );
  }
  if (!(SEVERITIES as readonly string[]).includes(options.severity)) {
    throw new ConfigError('--severity', `got "${options.severity}"; expected one of ${SEVERITIES.join(', ')}`);
  }
  const finding = sampleFinding(options.tenant, options.severity as Severity, options.resolve);
  const linkOf = grafanaLink(o.grafanaUrl);
  const notification: Notification = {
    route: route.name,
    groupKey: `${options.tenant}/${route.name}/aispm-test`,
    tenant: options.tenant,
    status: finding.status === 'resolved' ? 'resolved' : 'firing',
    labels: { tenant: options.tenant },
    findings: [finding],
    ...(linkOf ? { linkOf } : {}),
  };
  const answers: TestAnswer[] = [];
  for (const name of route.destinations) {
    const spec = routes.destinations.find((d) => d.name === name);
    if (!spec) continue;
    const destination = createDestination(spec.config, options.env ?? process.env);
    try {
      const result = await destination.send(notification, AbortSignal.timeout(o.delivery.attemptTimeoutMs));
      answers.push({ destination: name, kind: destination.kind, result });
    } finally {
      await destination.close();
    }
  }
  return answers;
}

function sampleFinding(tenant: string, severity: Severity, resolved: boolean): Finding {
  const now = Date.now() * 1000;
  const asset = 'aispm-test-agent';
  return {
    id: findingId(tenant, 'alert_test', asset, 'aispm.alerts-test'),
    tenant,
    asset,
    asset_type: 'agent',
    type: 'alert_test',
    rule: 'aispm.alerts-test',
    severity,
    score: 1,
    title: 'aispm alerts test: a sample finding, not a real detection',
    evidence: ['sent by `aispm alerts test`'],
    event_ids: [],
    first_seen: now,
    last_seen: now,
    occurrences: 1,
    status: resolved ? 'resolved' : 'open',
    owasp_llm: [],
    owasp_agentic: [],
    mitre_atlas: [],
    model: '',
  };
}
