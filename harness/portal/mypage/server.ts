/** The one module that listens for My Page; the public URL is the bound one unless given. */
import type { FastifyInstance } from 'fastify';
import { buildMyPageApp, type MyPageOptions } from './app.js';

export interface RunningMyPage {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startMyPage(options: Omit<MyPageOptions, 'publicUrl'> & { publicUrl?: string; host?: string; port?: number }): Promise<RunningMyPage> {
  const { host = '127.0.0.1', port = 0, publicUrl, ...rest } = options;
  let bound = '';
  const app = await buildMyPageApp({ ...rest, publicUrl: publicUrl ?? (() => bound) });
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
