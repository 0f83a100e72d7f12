/** The one module that listens for the IdP: binds, then the issuer is the bound URL unless one is given. */
import type { FastifyInstance } from 'fastify';
import { buildIdpApp, type IdpOptions } from './app.js';

export interface RunningIdp {
  /** http://host:port, without a trailing slash. */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startIdp(options: Omit<IdpOptions, 'issuer'> & { issuer?: string; host?: string; port?: number }): Promise<RunningIdp> {
  const { host = '127.0.0.1', port = 0, issuer, ...rest } = options;
  let bound = '';
  const app = await buildIdpApp({ ...rest, issuer: issuer ?? (() => bound) });
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    throw e;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  bound = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  return { url: issuer ?? bound, app, close: () => app.close() };
}
