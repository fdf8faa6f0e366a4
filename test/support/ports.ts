import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback port free now: nothing listens there, or a process may come back at it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

/** Closes an HTTP server, cutting its open connections rather than waiting for them. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
