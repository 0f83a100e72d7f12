/** The one module that listens for the IdP: binds, then the issuer is the bound URL unless one is given. */
import { listenAtOwnUrl, type RunningApp } from '../shared/listen.js';
import { buildIdpApp, type IdpOptions } from './app.js';

export type RunningIdp = RunningApp;

export async function startIdp(options: Omit<IdpOptions, 'issuer'> & { issuer?: string; host?: string; port?: number }): Promise<RunningIdp> {
  const { host = '127.0.0.1', port = 0, issuer, ...rest } = options;
  return listenAtOwnUrl(issuer, host, port, (url) => buildIdpApp({ ...rest, issuer: url }));
}
