import { ConfigError } from '@aispm/core';
import type { FastifyInstance } from 'fastify';
import { sqlEndpointConfig, type SqlEndpointOptions } from './options.ts';
import { buildSqlEndpoint } from './server.ts';

export interface RunningSqlEndpoint {
  app: FastifyInstance;
  /** Base URL, e.g. http://127.0.0.1:8123: what a ClickHouse client or Grafana's datasource is pointed at. */
  url: string;
  /** Stops accepting, lets queries in flight finish, releases the read connections (the store stays open). */
  close(): Promise<void>;
}

/**
 * Serves ClickHouse's HTTP interface, read-only and per tenant, over `store`'s
 * engine, on host:port (127.0.0.1:8123 by default). Resolves once listening.
 */
export async function startSqlEndpoint(options: SqlEndpointOptions): Promise<RunningSqlEndpoint> {
  const config = sqlEndpointConfig(options);
  const { app, ready } = buildSqlEndpoint(config);
  try {
    await ready;
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(
        'AISPM_SQL_PORT',
        `port ${config.port} on ${config.host} is taken (a ClickHouse server, another aispm?); set AISPM_SQL_PORT to a free port, or 0 for any`,
      );
    }
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  config.log?.info('sql endpoint listening', { url, tenants: config.keys.tenants.length });
  return { app, url, close: () => app.close() };
}
