import { CONFIG_KEYS, ConfigError, warmContentScanner, type Config, type Logger } from '@aispm/core';
import { type Bus } from '@aispm/bus';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { parseApiKeys } from './api-keys.ts';
import { buildGateway } from './gateway.ts';

export interface RunningGateway {
  app: FastifyInstance;
  /** Base URL it listens on, e.g. http://127.0.0.1:4318 (the exporter endpoint is URL + /v1/traces). */
  url: string;
  /** Base URL of the Prometheus listener, e.g. http://127.0.0.1:9464 (scrape URL + /metrics). */
  metricsUrl: string;
  /**
   * Stops intake (503 with Retry-After to new requests, listeners up) and resolves once the
   * requests admitted before are done: what the gateway acknowledged is all on the bus.
   */
  stopIntake(): Promise<void>;
  /** Stops accepting, lets requests in flight finish, closes the metrics listener; the bus is the caller's to close. */
  close(): Promise<void>;
}

/**
 * What `aispm gateway` runs: parses the API keys (AISPM_GATEWAY_KEYS or _FILE), makes sure
 * the events topic exists, listens on AISPM_GATEWAY_HOST:AISPM_GATEWAY_PORT, and serves
 * Prometheus /metrics on its own listener, AISPM_METRICS_HOST:AISPM_METRICS_PORT
 * (127.0.0.1:9464 by default: the metrics name tenants, and need no key to read).
 */
export async function startGateway(options: {
  bus: Bus;
  config: Config;
  log: Logger;
  /** Other services' metrics in this process, served on the gateway's metrics listener too. */
  registries?: Registry[];
}): Promise<RunningGateway> {
  const { bus, config, log } = options;
  if (config.gateway.keys === null) {
    throw new ConfigError(
      CONFIG_KEYS.gatewayKeys.env,
      `is required to run the gateway (every request is tied to a tenant by its key); expected ${CONFIG_KEYS.gatewayKeys.expected}`,
    );
  }
  const keys = parseApiKeys(config.gateway.keys);
  // Every topic the gateway publishes to: spans (for trace assembly, and attributed), GenAI log events and metric points.
  const { events, attributed, genaiLogs, genaiMetrics } = config.topics;
  await bus.ensureTopics(
    [events, attributed, genaiLogs, genaiMetrics].map((topic) => ({
      topic,
      partitions: config.partitions,
    })),
  );
  // Rule packs and the model load here, not on the first request that carries text.
  warmContentScanner(config.capture.detect);
  const built = buildGateway({ bus, config, keys, log, registries: options.registries ?? [] });
  const { app, metricsApp } = built;
  // Connections that stall before a request is admitted hold no slot: bound them too (Node closes the excess).
  app.server.maxConnections = config.gateway.maxConnections;
  const stopIntake = (): Promise<void> => built.stopIntake();
  const close = async (): Promise<void> => {
    await Promise.all([app.close(), metricsApp.close()]);
  };
  let metricsUrl: string;
  let url: string;
  try {
    metricsUrl = await listen(
      metricsApp,
      config.gateway.metricsHost,
      config.gateway.metricsPort,
      CONFIG_KEYS.metricsPort.env,
    );
    url = await listen(app, config.gateway.host, config.gateway.port, CONFIG_KEYS.gatewayPort.env);
  } catch (err) {
    await close();
    throw err;
  }
  // `metrics`, not `url`: what reads this line for the gateway's URL looks for "url".
  log.info('gateway listening', { url, tenants: keys.size, metrics: `${metricsUrl}/metrics` });
  return { app, url, metricsUrl, stopIntake, close };
}

async function listen(app: FastifyInstance, host: string, port: number, portKey: string): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(
        portKey,
        `port ${port} on ${host} is taken (another aispm, or another program); set ${portKey} to a free port, or 0 for any`,
      );
    }
    throw err;
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}
