/** The one module that listens for the city portal; the public URL is the bound one unless given. */
import type { FastifyInstance } from 'fastify';
import { buildCitizenApp, type CitizenOptions } from './app.js';

export interface RunningCitizenPortal {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startCitizenPortal(options: Omit<CitizenOptions, 'publicUrl'> & { publicUrl?: string; host?: string; port?: number }): Promise<RunningCitizenPortal> {
  const { host = '127.0.0.1', port = 0, publicUrl, ...rest } = options;
  let bound = '';
  const app = await buildCitizenApp({ ...rest, publicUrl: publicUrl ?? (() => bound) });
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    throw e;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  bound = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  return { url: publicUrl ?? bound, app, close: () => app.close() };
}
