import { parseArgs } from 'node:util';
import { loadConfig, type Logger } from '@aispm/core';
import { writeGrafanaFiles } from '../../../../dashboards/index.ts';
import { positiveNumber, UsageError } from '../usage.ts';

export const DASHBOARDS_HELP = `Usage: aispm dashboards build [options]

Writes aispm's Grafana dashboards (JSON, for Grafana 11 and 12) and the Grafana
provisioning files that load them:

  <out>/dashboards/*.json                    Posture overview, AI inventory and shadow AI,
                                             Prompt injection and data leakage, Agent
                                             behaviour and anomalies, Drift, Identities,
                                             permissions and toxic combinations, Cost,
                                             Pipeline health
  <out>/provisioning/datasources/aispm.yaml  the ClickHouse datasources (grafana-clickhouse-datasource,
                                             HTTP) pointing at the aispm SQL endpoint: the
                                             tenant's, and the operator's for Pipeline health
  <out>/provisioning/dashboards/aispm.yaml   a file provider for <out>/dashboards
  <out>/provisioning/alerting/aispm.yaml     alert rules: posture drop, critical finding,
                                             anomaly burst, pipeline lag

Point Grafana at them with GF_PATHS_PROVISIONING=<out>/provisioning, and give it
AISPM_SQL_USER (a tenant) and AISPM_SQL_KEY (its read key) in its environment, and
AISPM_SQL_OPERATOR_KEY (one of AISPM_SQL_OPERATOR_KEYS) for Pipeline health.

Options:
  --out <dir>        where to write            (default ./grafana)
  --host <host>      the SQL endpoint's host   (default AISPM_SQL_HOST, else 127.0.0.1)
  --port <n>         the SQL endpoint's port   (default AISPM_SQL_PORT, else 8123)
  --database <name>  the ClickHouse database   (default AISPM_CLICKHOUSE_DATABASE, else aispm)
  -h, --help         show this help`;

export function dashboardsCommand(argv: string[], _log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', default: 'grafana' },
      host: { type: 'string' },
      port: { type: 'string' },
      database: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${DASHBOARDS_HELP}\n`);
    return Promise.resolve(0);
  }
  const [sub, ...extra] = positionals;
  if (sub !== 'build')
    throw new UsageError(sub === undefined ? 'dashboards: say "build"' : `dashboards: unknown subcommand "${sub}"`);
  if (extra.length > 0) throw new UsageError(`dashboards build: unexpected argument "${extra[0]}"`);
  const config = loadConfig();
  const port = values.port === undefined ? config.sql.port : positiveNumber('--port', values.port);
  if (!Number.isInteger(port) || port > 65_535) throw new UsageError(`--port expects a TCP port, got "${values.port}"`);
  // A listener on every interface is reached on loopback from the same machine.
  const host = values.host ?? (['0.0.0.0', '::'].includes(config.sql.host) ? '127.0.0.1' : config.sql.host);
  const written = writeGrafanaFiles(values.out, {
    host,
    port,
    database: values.database ?? config.clickhouse.database,
  });
  const lines = [
    `wrote ${written.dashboards.length} dashboards and ${written.provisioning.length} provisioning files:`,
    ...[...written.dashboards, ...written.provisioning].map((f) => `  ${f}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return Promise.resolve(0);
}
