/**
 * The one module that listens: starts a portal built by `buildApp` on a host and port and says
 * where it is. Everything else (tests, the runner's in-process mode) uses the app without a socket.
 */
import { listenApp, type RunningApp } from '../shared/listen.js';
import { buildApp, type PortalOptions } from './app.js';

export type RunningPortal = RunningApp;

export async function startPortal(options: PortalOptions & { host?: string; port?: number }): Promise<RunningPortal> {
  const { host = '127.0.0.1', port = 0, ...portal } = options;
  const app = await buildApp(portal);
  return listenApp(app, host, port);
}
