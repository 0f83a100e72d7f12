/** The one module that listens for the city portal; the public URL is the bound one unless given. */
import { listenAtOwnUrl, type RunningApp } from '../shared/listen.js';
import { buildCitizenApp, type CitizenOptions } from './app.js';

export type RunningCitizenPortal = RunningApp;

export async function startCitizenPortal(options: Omit<CitizenOptions, 'publicUrl'> & { publicUrl?: string; host?: string; port?: number }): Promise<RunningCitizenPortal> {
  const { host = '127.0.0.1', port = 0, publicUrl, ...rest } = options;
  return listenAtOwnUrl(publicUrl, host, port, (url) => buildCitizenApp({ ...rest, publicUrl: url }));
}
