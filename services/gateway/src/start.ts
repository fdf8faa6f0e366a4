import { CONFIG_KEYS, ConfigError, type Bus, type Config, type Logger } from '@aispm/core';
import type { FastifyInstance } from 'fastify';
import { parseApiKeys } from './api-keys.ts';
import { buildGateway } from './gateway.ts';

export interface RunningGateway {
  app: FastifyInstance;
  /** Base URL it listens on, e.g. http://127.0.0.1:4318 (the exporter endpoint is URL + /v1/traces). */
  url: string;
  /** Stops accepting, lets requests in flight finish; the bus is the caller's to close. */
  close(): Promise<void>;
}

/**
 * What `aispm gateway` runs: parses the API keys (AISPM_GATEWAY_KEYS or _FILE), makes sure
 * the events topic exists, and listens on AISPM_GATEWAY_HOST:AISPM_GATEWAY_PORT.
 */
export async function startGateway(options: { bus: Bus; config: Config; log: Logger }): Promise<RunningGateway> {
  const { bus, config, log } = options;
  if (config.gateway.keys === null) {
    throw new ConfigError(
      CONFIG_KEYS.gatewayKeys.env,
      `is required to run the gateway (every request is tied to a tenant by its key); expected ${CONFIG_KEYS.gatewayKeys.expected}`,
    );
  }
  const keys = parseApiKeys(config.gateway.keys);
  await bus.ensureTopics([{ topic: config.topics.events, partitions: config.partitions }]);
  const app = buildGateway({ bus, config, keys, log });
  await app.listen({ host: config.gateway.host, port: config.gateway.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.gateway.port;
  const host = config.gateway.host.includes(':') ? `[${config.gateway.host}]` : config.gateway.host;
  const url = `http://${host}:${port}`;
  log.info('gateway listening', { url, tenants: keys.size });
  return { app, url, close: () => app.close() };
}
