import { createServer, type Server } from 'node:http';
import { CONFIG_KEYS, ConfigError } from '@aispm/core';
import { Registry } from 'prom-client';

export interface MetricsListener {
  /** Base URL, e.g. http://127.0.0.1:9464 (scrape URL + /metrics). */
  url: string;
  close(): Promise<void>;
}

/** GET /metrics of the registries merged, in Prometheus' text exposition format; for any HTTP server. */
export function metricsBody(registries: Registry[]): () => Promise<{ contentType: string; body: string }> {
  const served = Registry.merge(registries);
  return async () => ({ contentType: served.contentType, body: await served.metrics() });
}

/**
 * A listener that serves GET /metrics (Prometheus) for the registries, and /healthz, on
 * AISPM_METRICS_HOST:AISPM_METRICS_PORT by default (loopback: metrics name tenants
 * and need no key): what a process without the gateway's metrics listener serves its
 * metrics on (`aispm up` without the gateway, the alerter). A taken port is a
 * ConfigError naming the key to change.
 */
export async function startMetricsListener(options: {
  registries: Registry[];
  host: string;
  port: number;
}): Promise<MetricsListener> {
  const body = metricsBody(options.registries);
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    // Liveness for container health checks and Kubernetes probes: the process answers.
    if (path === '/healthz' && (request.method === 'GET' || request.method === 'HEAD')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
      return;
    }
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: Prometheus metrics are on GET /metrics, liveness on GET /healthz\n');
      return;
    }
    body().then(
      ({ contentType, body: text }) => {
        response.writeHead(200, { 'content-type': contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`);
      },
    );
  });
  await listen(server, options.host, options.port);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const key = CONFIG_KEYS.metricsPort.env;
      reject(
        err.code === 'EADDRINUSE'
          ? new ConfigError(
              key,
              `port ${port} on ${host} is taken (another aispm, or another program); set ${key} to a free port, or 0 for any`,
            )
          : err,
      );
    });
    server.listen(port, host, () => resolve());
  });
}
