import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { parseArgs } from 'node:util';
import { AispmError, CONFIG_KEYS, ConfigError, loadConfig, type Config, type Logger } from '@aispm/core';
import type { Bus } from '@aispm/bus';
import {
  HecReceiver,
  PagerDutyReceiver,
  alerterOptions,
  createDestination,
  createDispatcher,
  parseRoutes,
  parseSilenceMatcher,
  startAlerter,
  startAlerterProcess,
  testRoute,
  type AlerterRef,
  type RunningAlerter,
} from '@aispm/alerter';
import { openBus } from '../runtime.ts';
import { abortOnSignals } from '../signals.ts';
import { positiveNumber, UsageError } from '../usage.ts';

export const ALERTER_HELP = `Usage: aispm alerter [options]

Runs the alerter until Ctrl-C: it reads findings from the findings topic in its own
consumer group (AISPM_ALERTER_GROUP), routes, groups, dedups, inhibits and silences
them as the routes file says (AISPM_ALERT_ROUTES_FILE, default
rules/alerts/routes.v1.json), and delivers them to its destinations (PagerDuty,
Splunk HEC, syslog/CEF, OCSF, webhooks, Slack) at least once: retries with
backoff, a circuit breaker per destination, and the alerts dead-letter topic
(AISPM_TOPIC_ALERTS_DLQ) for what cannot be delivered. A finding's offset is
committed only once it is delivered or dead-lettered.

API (http://AISPM_ALERT_API_HOST:AISPM_ALERT_API_PORT, 127.0.0.1:9465 by default):
/api/v1/silences (with a key of AISPM_ALERT_API_KEYS), /healthz, /metrics.

Ctrl-C or SIGTERM stops reading, lets deliveries in flight finish (10 s at most),
commits, and exits; what was not delivered is sent at the next start.

Options:
  --data-dir <p>   where embedded-mode data goes (default ./data, or AISPM_DATA_DIR)
  -h, --help       show this help

Configuration: AISPM_ALERT_* and the other AISPM_* variables in the README.`;

export const ALERTS_HELP = `Usage: aispm alerts <test|silence> ...

  aispm alerts test ROUTE [--severity S] [--tenant T] [--resolve]
      sends a sample finding through ROUTE (a route name of the routes file) to
      each of its destinations and prints what each answered
  aispm alerts silence add --matcher M [--matcher M ...] --duration D --comment C [--created-by B]
  aispm alerts silence list
  aispm alerts silence expire ID
      manage silences through the alerter's API, for the tenant of the key

Options:
  --url <u>        the alerter API (default http://AISPM_ALERT_API_HOST:AISPM_ALERT_API_PORT)
  --key-file <p>   a file holding the API key (else AISPM_ALERT_API_KEY)
  -h, --help       show this help

A matcher is label=value, label!=value, label=~regex or label!~regex, on tenant,
severity, type, rule, asset, asset_type, model, owasp_llm, owasp_agentic,
mitre_atlas. A duration is a number with s, m, h or d (e.g. 2h).`;

export async function alerterCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${ALERTER_HELP}\n`);
    return 0;
  }
  const config = loadConfig(process.env, { dataDir: values['data-dir'] });
  // Handlers before start-up: a SIGTERM while it starts stops it cleanly once it is up.
  const first = Promise.withResolvers<NodeJS.Signals>();
  abortOnSignals((s) => first.resolve(s));
  const bus = openBus(config, log);
  let running;
  try {
    running = await startAlerterProcess({ bus, config, log });
  } catch (err) {
    await bus.close();
    throw err;
  }
  process.stdout.write(`aispm alerter: routes from ${config.alerter.routesFile}; API at ${running.apiUrl}\n`);
  const signal = await first.promise;
  log.info('stopping: finishing deliveries in flight', { signal });
  await running.stop();
  await bus.close();
  return 0;
}

export async function alertsCommand(argv: string[], log: Logger): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stdout.write(`${ALERTS_HELP}\n`);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'test') return testCommand(rest, log);
  if (sub === 'silence') return silenceCommand(rest);
  throw new UsageError(`unknown alerts command "${sub}"; expected test or silence`);
}

async function testCommand(argv: string[], log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      severity: { type: 'string', default: 'critical' },
      tenant: { type: 'string' },
      resolve: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${ALERTS_HELP}\n`);
    return 0;
  }
  const [route] = positionals;
  if (route === undefined || positionals.length > 1) throw new UsageError('alerts test expects one ROUTE name');
  const config = loadConfig();
  const answers = await testRoute({
    config,
    log,
    route,
    severity: values.severity,
    tenant: values.tenant ?? config.tenant,
    resolve: values.resolve,
  });
  let failed = 0;
  for (const a of answers) {
    const result = a.result;
    const text = result.ok
      ? `ok${result.status === undefined ? '' : ` ${result.status}`}${result.detail ? ` ${result.detail}` : ''}`
      : `${result.retryable ? 'failed (retryable)' : 'refused'}${result.status === undefined ? '' : ` ${result.status}`}: ${result.reason}`;
    if (!result.ok) failed += 1;
    process.stdout.write(`${a.destination} (${a.kind}): ${text}\n`);
  }
  return failed === 0 ? 0 : 1;
}

async function silenceCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      matcher: { type: 'string', multiple: true, default: [] },
      duration: { type: 'string' },
      comment: { type: 'string', default: '' },
      'created-by': { type: 'string', default: process.env.USER ?? 'aispm' },
      url: { type: 'string' },
      'key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${ALERTS_HELP}\n`);
    return 0;
  }
  const [action, ...args] = positionals;
  const config = loadConfig();
  const { host, port } = alerterOptions(config).api;
  const base = (values.url ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/+$/, '');
  const key = values['key-file']
    ? readFileSync(values['key-file'], 'utf8').trim()
    : (process.env.AISPM_ALERT_API_KEY ?? '');
  if (!key)
    throw new UsageError('give the API key in AISPM_ALERT_API_KEY or --key-file (a key of AISPM_ALERT_API_KEYS)');
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new AispmError(
        'alerter_unreachable',
        `cannot reach the alerter API at ${base} (${(err as Error).message}); is \`aispm alerter\` running? (--url or AISPM_ALERT_API_HOST/PORT)`,
      );
    }
    const answer = (await response.json()) as Record<string, unknown>;
    if (!response.ok)
      throw new AispmError('alerter_refused', `the alerter answered ${response.status}: ${String(answer.message)}`);
    return answer;
  };
  if (action === 'add') {
    if (values.matcher.length === 0) throw new UsageError('silence add needs at least one --matcher label=value');
    if (!values.duration) throw new UsageError('silence add needs --duration, e.g. 2h');
    const ms = durationMs(values.duration);
    const answer = await call('POST', '/api/v1/silences', {
      matchers: values.matcher.map((m) => {
        const parsed = parseSilenceMatcher(m);
        if (!parsed.ok) throw new UsageError(`--matcher ${m}: ${parsed.reason}`);
        return parsed.matcher;
      }),
      endsAt: new Date(Date.now() + ms).toISOString(),
      createdBy: values['created-by'],
      comment: values.comment,
    });
    process.stdout.write(`${String(answer.silenceID)}\n`);
    return 0;
  }
  if (action === 'list') {
    const answer = await call('GET', '/api/v1/silences');
    const silences = answer.silences as {
      id: string;
      endsAt: string;
      createdBy: string;
      comment: string;
      matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
    }[];
    if (silences.length === 0) process.stdout.write('no silences\n');
    for (const s of silences) {
      const matchers = s.matchers
        .map((m) => `${m.name}${m.isEqual ? '' : '!'}${m.isRegex ? '=~' : '='}${m.value}`)
        .join(' ');
      process.stdout.write(
        `${s.id}  until ${s.endsAt}  ${matchers}  by ${s.createdBy}${s.comment ? `: ${s.comment}` : ''}\n`,
      );
    }
    return 0;
  }
  if (action === 'expire') {
    const [id] = args;
    if (!id) throw new UsageError('silence expire needs the silence ID (see `aispm alerts silence list`)');
    await call('DELETE', `/api/v1/silences/${encodeURIComponent(id)}`);
    process.stdout.write(`expired ${id}\n`);
    return 0;
  }
  throw new UsageError('alerts silence expects add, list or expire');
}

function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text);
  if (!m) throw new UsageError(`--duration expects a number with s, m, h or d (e.g. 2h), got "${text}"`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return positiveNumber('--duration', m[1] as string) * unit;
}

/**
 * The alerter inside `aispm up`, when the routes file exists. A routes file given on
 * purpose (AISPM_ALERT_ROUTES_FILE) that cannot start stops `up`; the default one,
 * when it cannot start (its destinations' secrets unset, say), only turns the alerter off.
 */
export async function startUpAlerter(config: Config, bus: Bus, log: Logger): Promise<RunningAlerter | null> {
  // Processor replicas do not alert: the alerter is a deployment of its own, scaled and restarted apart.
  if (config.mode === 'distributed') {
    log.info('alerter not in this process: in distributed mode it runs as `aispm alerter`');
    return null;
  }
  const file = config.alerter.routesFile;
  const chosen = process.env[CONFIG_KEYS.alertRoutesFile.env] !== undefined;
  if (!existsSync(file)) {
    if (chosen)
      throw new ConfigError(
        CONFIG_KEYS.alertRoutesFile.env,
        `${file} does not exist; write a routes file (like rules/alerts/routes.v1.json) or unset it`,
      );
    log.info(`alerter off: no routes file at ${file} (AISPM_ALERT_ROUTES_FILE)`);
    return null;
  }
  try {
    return await startAlerterProcess({ bus, config, log });
  } catch (err) {
    if (chosen || !(err instanceof AispmError)) throw err;
    log.warn(`alerter off: ${err.message}`);
    return null;
  }
}

/** What the demo's local receivers got: the summary's "alerts" section. */
export interface DemoAlertsReport {
  pagerduty: { triggers: number; resolves: number; alerts: number; deduplicated: number; open: number };
  splunk: { events: number; resolves: number };
  syslog: { messages: number; cef: number };
  deadLettered: number;
  /** False when the alerter had not delivered everything by the deadline (an interrupted demo). */
  complete: boolean;
}

export interface DemoAlerts {
  /** Waits until every finding is delivered (at most `timeoutMs`), stops the alerter and the receivers, and reports. */
  finish(timeoutMs: number): Promise<DemoAlertsReport>;
}

/**
 * The demo's alerts: local PagerDuty-format and HEC-format receivers (the alerter's
 * test receivers, which check each API's documented format) and a syslog receiver
 * on loopback; critical findings page (PagerDuty) and go to the SIEMs (HEC, syslog
 * CEF), every other finding to HEC only, with the alerter's real delivery loop.
 */
export async function startDemoAlerts(config: Config, bus: Bus, log: Logger): Promise<DemoAlerts> {
  const routingKey = randomBytes(16).toString('hex');
  const token = randomUUID();
  const pagerduty = await PagerDutyReceiver.start({ routingKey });
  const splunk = await HecReceiver.start({ token });
  const syslog = await SyslogReceiver.start();
  const routes = parseRoutes(
    JSON.stringify({
      version: 1,
      destinations: [
        { name: 'pagerduty', kind: 'pagerduty', url: pagerduty.url, routing_key_env: 'DEMO_PD_KEY' },
        { name: 'splunk', kind: 'splunk_hec', url: splunk.url, token_env: 'DEMO_HEC_TOKEN' },
        { name: 'syslog', kind: 'syslog', host: '127.0.0.1', port: syslog.port, transport: 'tcp' },
      ],
      route: {
        destinations: ['splunk'],
        group_by: ['tenant', 'type', 'asset'],
        group_wait: '0',
        group_interval: '1s',
        repeat_interval: '4h',
        routes: [{ name: 'critical', match: ['severity=critical'], destinations: ['pagerduty', 'splunk', 'syslog'] }],
      },
    }),
    'the demo routes',
  );
  const env = { DEMO_PD_KEY: routingKey, DEMO_HEC_TOKEN: token };
  const destinations = new Map(routes.destinations.map((d) => [d.name, createDestination(d.config, env)]));
  const o = alerterOptions(config);
  const service = await startAlerter({
    bus,
    log,
    topic: o.topic,
    group: o.group,
    dlqTopic: o.dlqTopic,
    dispatcher: createDispatcher<AlerterRef>(routes),
    destinations,
    delivery: o.delivery,
    breaker: o.breaker,
    maxBatchSize: o.maxBatchSize,
    concurrency: o.concurrency,
    maxInFlightPerDestination: o.maxInFlightPerDestination,
  });
  return {
    async finish(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const idle = (): boolean => service.inFlight() === 0 && (bus.backlog?.(o.topic, o.group).records ?? 0) === 0;
      let complete = false;
      while (Date.now() < deadline) {
        if (idle()) {
          // Twice, apart: a batch may be on its way from the bus to the alerter.
          await new Promise((r) => setTimeout(r, 200));
          if (idle()) {
            complete = true;
            break;
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await service.stop(2000);
      await Promise.all([...destinations.values()].map((d) => d.close()));
      const dlq = await service.metrics.registry.getSingleMetric('aispm_alerter_dlq_total')?.get();
      const triggers = pagerduty.events.filter((e) => e.event_action === 'trigger').length;
      const report: DemoAlertsReport = {
        pagerduty: {
          triggers,
          resolves: pagerduty.events.filter((e) => e.event_action === 'resolve').length,
          alerts: pagerduty.alerts.size,
          deduplicated: [...pagerduty.alerts.values()].reduce((n, a) => n + a.triggers - 1, 0),
          open: [...pagerduty.alerts.values()].filter((a) => a.status !== 'resolved').length,
        },
        splunk: {
          events: splunk.events.length,
          resolves: splunk.events.filter((e) => (e.fields as { status?: string } | undefined)?.status === 'resolved')
            .length,
        },
        syslog: { messages: syslog.messages.length, cef: syslog.messages.filter((m) => m.includes('CEF:0|')).length },
        deadLettered: (dlq?.values ?? []).reduce((n, v) => n + v.value, 0),
        complete,
      };
      await Promise.all([pagerduty.close(), splunk.close(), syslog.close()]);
      if (!complete) log.warn('demo alerts: not everything was delivered before the deadline');
      return report;
    },
  };
}

export function formatDemoAlerts(r: DemoAlertsReport): string {
  const lines = [
    '',
    `Alerts${r.complete ? '' : ' (stopped before all were delivered)'}: critical findings → PagerDuty, Splunk HEC, syslog (CEF); all → Splunk HEC`,
    `  PagerDuty (local, Events API v2)  ${r.pagerduty.triggers} triggers, ${r.pagerduty.resolves} resolves → ${r.pagerduty.alerts} incidents (${r.pagerduty.open} open)${
      // Repeats reach PagerDuty only after repeat_interval or a replay; it folds them by dedup_key.
      r.pagerduty.deduplicated > 0 ? `, ${r.pagerduty.deduplicated} repeats folded by dedup_key` : ''
    }`,
    `  Splunk HEC (local)                ${r.splunk.events} events, ${r.splunk.resolves} of them resolves`,
    `  syslog TCP (local, RFC 5424)      ${r.syslog.messages} messages, ${r.syslog.cef} with a CEF payload`,
    `  alerts dead-lettered              ${r.deadLettered}`,
    '',
  ];
  return lines.join('\n');
}

/** A syslog receiver over TCP with octet counting (RFC 6587): keeps each message, bounded. */
class SyslogReceiver {
  readonly messages: string[] = [];
  #server!: Server;
  port = 0;

  static async start(): Promise<SyslogReceiver> {
    const self = new SyslogReceiver();
    self.#server = createServer((socket) => {
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          const space = pending.indexOf(0x20);
          if (space < 0) break;
          const length = Number(pending.subarray(0, space).toString());
          if (!Number.isInteger(length) || length <= 0) {
            socket.destroy();
            return;
          }
          if (pending.length < space + 1 + length) break;
          self.messages.push(pending.subarray(space + 1, space + 1 + length).toString());
          if (self.messages.length > 100_000) self.messages.shift();
          pending = pending.subarray(space + 1 + length);
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => self.#server.listen(0, '127.0.0.1', resolve));
    const address = self.#server.address();
    self.port = typeof address === 'object' && address ? address.port : 0;
    return self;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
