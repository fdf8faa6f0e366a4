import { parseArgs } from 'node:util';
import { loadConfig, type Logger } from '@aispm/core';
import { startGateway } from '@aispm/gateway';
import { startRuntime, type Backlog } from '../runtime.ts';
import { abortOnSignals } from '../signals.ts';

export const UP_HELP = `Usage: aispm up [options]

Runs the pipeline in one process until Ctrl-C: the OTLP/HTTP gateway (when
AISPM_GATEWAY_KEYS or AISPM_GATEWAY_KEYS_FILE names tenant keys; send traces to
http://AISPM_GATEWAY_HOST:AISPM_GATEWAY_PORT/v1/traces), the processor consuming
the events topic, scoring, and writing to the store. Embedded mode (default):
durable on-disk bus under <data-dir>/bus and chdb under <data-dir>/chdb. Distributed mode
(AISPM_MODE=distributed): Kafka (KAFKA_BROKERS) and a ClickHouse server
(AISPM_CLICKHOUSE_URL); run several to share the partitions.

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
  const runtime = await startRuntime(config, log);
  const gateway = config.gateway.keys === null ? null : await startGateway({ bus: runtime.bus, config, log });
  if (!gateway) log.info('gateway off: set AISPM_GATEWAY_KEYS (tenant:key lines) to accept OTLP traces');
  log.info('aispm is up', {
    mode: config.mode,
    bus: runtime.bus.kind,
    store: runtime.store.kind,
    topic: config.topics.events,
    gateway: gateway?.url ?? 'off',
  });
  const first = Promise.withResolvers<NodeJS.Signals>();
  // A second signal exits at once (abortOnSignals); what was acknowledged is on the bus and replays at the next start.
  abortOnSignals((s) => first.resolve(s));
  const timer = setInterval(
    () => log.info('status', { ...runtime.processor.stats(), ...backlogFields(runtime.backlog()) }),
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
  await runtime.close();
  log.info('stopped', { ...runtime.processor.stats() });
  return 0;
}

function backlogFields(left: Backlog | null): Record<string, number> {
  return left === null ? {} : { backlog: left.events, backlog_bytes: left.bytes };
}
