import { parseArgs } from 'node:util';
import { loadConfig, type Config, type Logger } from '@aispm/core';
import { startGateway } from '@aispm/gateway';
import { processorMetrics, startMetricsListener, type MetricsListener, type TraceStageStats } from '@aispm/processor';
import {
  NO_READ_KEYS,
  parseOperatorKeys,
  parseReadKeys,
  startSqlEndpoint,
  type RunningSqlEndpoint,
} from '@aispm/sqlhttp';
import type { Store } from '@aispm/store';
import { startRuntime, type Backlog } from '../runtime.ts';
import { abortOnSignals } from '../signals.ts';
import type { RunningAlerter } from '@aispm/alerter';
import { startUpAlerter } from './alerts.ts';

export const UP_HELP = `Usage: aispm up [options]

Runs the pipeline in one process until Ctrl-C: the OTLP/HTTP gateway (when
AISPM_GATEWAY_KEYS or AISPM_GATEWAY_KEYS_FILE names tenant keys; send traces to
http://AISPM_GATEWAY_HOST:AISPM_GATEWAY_PORT/v1/traces), the processor consuming
the events topic, scoring, and writing to the store. Embedded mode (default):
durable on-disk bus under <data-dir>/bus and chdb under <data-dir>/chdb. Distributed mode
(AISPM_MODE=distributed): Kafka (KAFKA_BROKERS) and a ClickHouse server
(AISPM_CLICKHOUSE_URL); run several to share the partitions.

Alerts (embedded mode): when the routes file exists (AISPM_ALERT_ROUTES_FILE,
default rules/alerts/routes.v1.json) findings are delivered from this process. In
distributed mode run \`aispm alerter\` for that.

SQL (embedded mode): when AISPM_SQL_KEYS or AISPM_SQL_KEYS_FILE names read keys
(tenant:key lines), the store is also served read-only over ClickHouse's HTTP
interface at http://AISPM_SQL_HOST:AISPM_SQL_PORT (127.0.0.1:8123 by default), for
Grafana's ClickHouse datasource and ClickHouse clients: user <tenant>, password
<key>; each key reads its tenant's rows only. AISPM_SQL_OPERATOR_KEYS (operator:key
lines) lets user operator read the pipeline's own tables (pipeline_stats,
aispm_migrations) and no tenant's rows. In distributed mode it is off: point
them at the ClickHouse server.

Prometheus GET /metrics (gateway, processor stages: lag, throughput, dead letters,
drops, attribution, merges) on AISPM_METRICS_HOST:AISPM_METRICS_PORT (127.0.0.1:9464
by default), with or without the gateway. Every AISPM_STATS_INTERVAL_S (15) the
processor also writes those figures to the pipeline_stats table, for the Pipeline
health dashboard without Prometheus.

Ctrl-C or SIGTERM stops intake (the gateway answers 503 with Retry-After), processes
and stores everything already acknowledged, then exits; a second one exits at once,
and what was acknowledged is processed at the next start.

Options:
  --data-dir <p>      where embedded-mode data goes (default ./data, or AISPM_DATA_DIR)
  --status-every <s>  seconds between status lines (default 10)
  -h, --help          show this help

Configuration comes from AISPM_* environment variables (see the README).`;

export async function upCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      'status-every': { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${UP_HELP}\n`);
    return 0;
  }
  const config = loadConfig(process.env, { dataDir: values['data-dir'] });
  // Handlers first: a Ctrl-C during start-up (or just as "aispm is up" is printed) stops it
  // cleanly once it is up, instead of killing it half-started. A second one exits at once.
  const first = Promise.withResolvers<NodeJS.Signals>();
  abortOnSignals((s) => first.resolve(s));
  const runtime = await startRuntime(config, log);
  const registries = [
    processorMetrics({
      traces: runtime.traces,
      agents: runtime.processor,
      entities: runtime.entities,
      pipeline: runtime.stats,
    }),
  ];
  const gateway =
    config.gateway.keys === null ? null : await startGateway({ bus: runtime.bus, config, log, registries });
  if (!gateway) log.info('gateway off: set AISPM_GATEWAY_KEYS (tenant:key lines) to accept OTLP traces');
  let sql: RunningSqlEndpoint | null = null;
  // Without the gateway, whose metrics listener serves the processor's too, the processor serves them itself.
  let metrics: MetricsListener | null = null;
  let alerter: RunningAlerter | null = null;
  try {
    if (!gateway) {
      const { metricsHost: host, metricsPort: port } = config.gateway;
      metrics = await startMetricsListener({ registries, host, port });
      log.info('metrics listening', { metrics: `${metrics.url}/metrics` });
    }
    // After the gateway, whose log line is the first to carry a "url".
    sql = await startSql(config, runtime.store, log);
    // Embedded mode, when a routes file exists (AISPM_ALERT_ROUTES_FILE): findings → PagerDuty, SIEMs, webhooks.
    alerter = await startUpAlerter(config, runtime.bus, log);
  } catch (err) {
    // What the gateway acknowledged meanwhile is on the bus and is processed at the next start.
    await gateway?.stopIntake();
    await gateway?.close();
    await sql?.close();
    await metrics?.close();
    await runtime.close();
    throw err;
  }
  log.info('aispm is up', {
    mode: config.mode,
    bus: runtime.bus.kind,
    store: runtime.store.kind,
    topic: config.topics.events,
    gateway: gateway?.url ?? 'off',
    sql: sql?.url ?? 'off',
    alerter: alerter?.apiUrl ?? 'off',
  });
  const timer = setInterval(
    () =>
      log.info('status', {
        ...runtime.processor.stats(),
        attribution: attributionFields(runtime.traces.stats()),
        ...backlogFields(runtime.backlog()),
      }),
    Number(values['status-every']) * 1000,
  );
  const received = await first.promise;
  clearInterval(timer);
  log.info('stopping: intake closed (503), processing what was acknowledged; a second Ctrl-C exits at once', {
    signal: received,
  });
  // Intake closed first; the listener keeps answering 503 while what was acknowledged is processed.
  await gateway?.stopIntake();
  await runtime.drain((left) => log.info('draining', backlogFields(left)));
  await gateway?.close();
  // After the drain: the findings it raised are delivered (or left uncommitted for the next start).
  await alerter?.stop();
  // Queries in flight finish; the store closes after.
  await sql?.close();
  await runtime.close();
  await metrics?.close();
  log.info('stopped', { ...runtime.processor.stats() });
  return 0;
}

/** Trace assembly's counts for the status line: how events were attributed, merges, cuts, what waits. */
function attributionFields(s: TraceStageStats): Record<string, unknown> {
  return { own: s.own, inherited: s.inherited, none: s.none, merged: s.merged, cut: s.cut, waiting: s.waiting };
}

/**
 * The read-only SQL endpoint over the embedded store, when read keys are configured.
 * A ClickHouse server store is not served: clients read the server itself.
 */
async function startSql(config: Config, store: Store, log: Logger): Promise<RunningSqlEndpoint | null> {
  if (store.kind !== 'chdb') {
    log.info(
      'sql endpoint off: the store is a ClickHouse server; point Grafana and ClickHouse clients at it (AISPM_CLICKHOUSE_URL)',
    );
    return null;
  }
  const { keys, operatorKeys, ...limits } = config.sql;
  if (keys === null && operatorKeys === null) {
    log.info(
      `sql endpoint off: set AISPM_SQL_KEYS (tenant:key lines, or AISPM_SQL_KEYS_FILE) to let Grafana and ClickHouse clients read the store at http://${limits.host}:${limits.port}`,
    );
    return null;
  }
  return startSqlEndpoint({
    store,
    keys: keys === null ? NO_READ_KEYS : parseReadKeys(keys),
    operatorKeys: operatorKeys === null ? null : parseOperatorKeys(operatorKeys),
    ...limits,
    log,
  });
}

function backlogFields(left: Backlog | null): Record<string, number> {
  return left === null ? {} : { backlog: left.events, backlog_bytes: left.bytes };
}
