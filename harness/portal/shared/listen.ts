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

/**
 * For an app that must know its own URL (redirects, QR codes, `iss`): builds it with `given`, or
 * with the URL it is bound to once it listens, and reports that URL.
 */
export async function listenAtOwnUrl(given: string | undefined, host: string, port: number, build: (url: string | (() => string)) => Promise<FastifyInstance>): Promise<RunningApp> {
  let bound = '';
  const running = await listenApp(await build(given ?? (() => bound)), host, port);
  bound = running.url;
  return { ...running, url: given ?? bound };
}
