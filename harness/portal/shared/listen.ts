/**
 * Listening, in one place for every portal app: bind, report the bound URL, close the app when the
 * bind fails. Server modules call it; app factories never listen.
 */
import type { FastifyInstance } from 'fastify';

export interface RunningApp {
  /** http://host:port, without a trailing slash. */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function listenApp(app: FastifyInstance, host: string, port: number): Promise<RunningApp> {
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
