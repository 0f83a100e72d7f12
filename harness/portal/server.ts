/**
 * The one module that listens: starts a portal built by `buildApp` on a host and port and says
 * where it is. Everything else (tests, the runner's in-process mode) uses the app without a socket.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, type PortalOptions } from './app.js';

export interface RunningPortal {
  /** http://host:port, without a trailing slash. */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startPortal(options: PortalOptions & { host?: string; port?: number }): Promise<RunningPortal> {
  const { host = '127.0.0.1', port = 0, ...portal } = options;
  const app = await buildApp(portal);
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    throw e;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  return { url, app, close: () => app.close() };
}
