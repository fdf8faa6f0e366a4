import { parseArgs } from 'node:util';
import { loadConfig, type Logger } from '@aispm/core';
import { startGateway } from '@aispm/gateway';
import { openBus } from '../runtime.ts';
import { abortOnSignals } from '../signals.ts';
import { UsageError } from '../usage.ts';

export const GATEWAY_HELP = `Usage: aispm gateway [options]

Runs the OTLP/HTTP gateway alone, for distributed mode (AISPM_MODE=distributed):
stock OpenTelemetry exporters send traces to POST /v1/traces (protobuf or JSON,
gzip accepted) with a tenant API key; AI spans become events on the Kafka events
topic. In embedded mode \`aispm up\` runs the gateway inside the pipeline process.

Endpoints: POST /v1/traces, GET /healthz, GET /readyz; Prometheus GET /metrics on a
separate listener, AISPM_METRICS_HOST:AISPM_METRICS_PORT (default 127.0.0.1:9464).

Options:
  -h, --help   show this help

Configuration: AISPM_GATEWAY_HOST, AISPM_GATEWAY_PORT, AISPM_GATEWAY_KEYS (or
AISPM_GATEWAY_KEYS_FILE: one "tenant:key" or "tenant:sha256:<hex>" per line),
KAFKA_BROKERS and the other AISPM_* variables in the README.`;

export async function gatewayCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`${GATEWAY_HELP}\n`);
    return 0;
  }
  const config = loadConfig();
  if (config.mode !== 'distributed') {
    throw new UsageError(
      'aispm gateway runs alone only in distributed mode (AISPM_MODE=distributed, with KAFKA_BROKERS); in embedded mode `aispm up` runs the gateway in-process',
    );
  }
  // Handlers before start-up: a SIGTERM while it starts stops it cleanly once it is up.
  const first = Promise.withResolvers<NodeJS.Signals>();
  abortOnSignals((s) => first.resolve(s));
  const bus = openBus(config, log);
  const gateway = await startGateway({ bus, config, log });
  process.stdout.write(`aispm gateway: send OTLP traces to ${gateway.url}/v1/traces\n`);
  const signal = await first.promise;
  log.info('stopping: intake closed (503), finishing requests in flight', { signal });
  await gateway.stopIntake();
  await gateway.close();
  await bus.close();
  return 0;
}
