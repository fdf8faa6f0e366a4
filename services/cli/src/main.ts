#!/usr/bin/env node
import {
  AispmError,
  ConfigError,
  createLogger,
  loadConfig,
  sizeThreadPool,
  tuneGarbageCollection,
  type LogLevel,
  type Logger,
} from '@aispm/core';
import { alerterCommand, alertsCommand } from './commands/alerts.ts';
import { dashboardsCommand } from './commands/dashboards.ts';
import { demoCommand } from './commands/demo.ts';
import { fleetCommand } from './commands/fleet.ts';
import { gatewayCommand } from './commands/gateway.ts';
import { inventoryCommand } from './commands/inventory.ts';
import { migrateCommand } from './commands/migrate.ts';
import { postureCommand } from './commands/posture.ts';
import { reportCommand } from './commands/report.ts';
import { scanCommand } from './commands/scan.ts';
import { topicsCommand } from './commands/topics.ts';
import { upCommand } from './commands/up.ts';
import { UsageError } from './usage.ts';

const HELP = `Usage: aispm <command> [options]

aispm watches AI apps and agents: their OpenTelemetry spans flow through a bus
into stream analytics that learn normal behaviour, score anomalies and detect
attacks and violations, and land in ClickHouse.

Commands:
  demo      run a synthetic fleet through the pipeline and summarise what it found
  up        run the pipeline until Ctrl-C
  gateway   run the OTLP/HTTP ingest gateway alone (distributed mode)
  fleet     send the demo's synthetic fleet to a gateway as OTLP/HTTP
  migrate   apply ClickHouse migrations
  scan      scan JSON-lines texts for prompt injection, jailbreaks, PII and secrets
  inventory list the AI assets (apps, agents, models, tools, ...) with owner and approval
  posture   print posture scores per tenant and asset, with the top actions
  dashboards build: write the Grafana dashboards, datasource and alert rules as files
  report    write a self-contained HTML posture and compliance report
  alerter   run the alerter: findings → routes → PagerDuty, Splunk HEC, syslog/CEF, webhooks
  alerts    test a route, manage silences (aispm alerts test ROUTE, aispm alerts silence ...)
  topics    create: make the Kafka topics with their partitions and retention

Run \`aispm <command> --help\` for a command's options. Configuration: AISPM_*
environment variables, listed in the README.`;

interface Command {
  run: (argv: string[], log: Logger) => Promise<number>;
  /** Log level unless AISPM_LOG_LEVEL says otherwise: commands that print a report keep logs to warnings. */
  logLevel: LogLevel;
}

const COMMANDS: Record<string, Command> = {
  demo: { run: demoCommand, logLevel: 'warn' },
  up: { run: upCommand, logLevel: 'info' },
  migrate: { run: migrateCommand, logLevel: 'warn' },
  gateway: { run: gatewayCommand, logLevel: 'info' },
  fleet: { run: fleetCommand, logLevel: 'info' },
  scan: { run: scanCommand, logLevel: 'warn' },
  inventory: { run: inventoryCommand, logLevel: 'warn' },
  posture: { run: postureCommand, logLevel: 'warn' },
  dashboards: { run: dashboardsCommand, logLevel: 'warn' },
  report: { run: reportCommand, logLevel: 'warn' },
  alerter: { run: alerterCommand, logLevel: 'info' },
  alerts: { run: alertsCommand, logLevel: 'warn' },
  topics: { run: topicsCommand, logLevel: 'warn' },
};

async function main(argv: string[]): Promise<number> {
  // First: libuv's pool starts at its first task and keeps its size.
  sizeThreadPool();
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(`${HELP}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  const config = loadConfig();
  const log = createLogger(process.env.AISPM_LOG_LEVEL ? config.logLevel : command.logLevel);
  tuneGarbageCollection();
  return command.run(rest, log);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`aispm: ${err.message}\nRun \`aispm --help\` or \`aispm <command> --help\`.\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError || err instanceof AispmError) {
      process.stderr.write(`aispm: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(
      `aispm: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
