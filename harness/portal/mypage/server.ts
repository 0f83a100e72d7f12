/** The one module that listens for My Page; the public URL is the bound one unless given. */
import { listenAtOwnUrl, type RunningApp } from '../shared/listen.js';
import { buildMyPageApp, type MyPageOptions } from './app.js';

export type RunningMyPage = RunningApp;

export async function startMyPage(options: Omit<MyPageOptions, 'publicUrl'> & { publicUrl?: string; host?: string; port?: number }): Promise<RunningMyPage> {
  const { host = '127.0.0.1', port = 0, publicUrl, ...rest } = options;
  return listenAtOwnUrl(publicUrl, host, port, (url) => buildMyPageApp({ ...rest, publicUrl: url }));
}
