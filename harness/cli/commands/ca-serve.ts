/**
 * `jpki-hil ca serve`: publishes the test CA's CRLs and answers OCSP over HTTP, at the address the
 * CA wrote into its certificates, so that a portal checks revocation the way a relying party does.
 */
import type { Argv } from 'yargs';
import { buildCaServer } from '../../../emulator/index.js';
import { UserError } from '../errors.js';
import type { CommandContext } from '../command.js';
import { defaultCaDir } from '../paths.js';
import { openCa } from '../open-ca.js';

export const kDefaultCaServePort = 8080;
export const kDefaultCaServeHost = '127.0.0.1';

export interface CaServeArgs {
  dir: string;
  port: number;
  host: string;
}

const kWildcardHosts: readonly string[] = ['0.0.0.0', '::'];
const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * Compares the CRL URL in the certificates with where the server will listen. A wrong port or path
 * means every relying party fails to fetch the CRL, so it is a `problem`; a different host name may
 * still reach this machine (a DNS name, an interface address), so it is only a `warning`.
 */
export function checkCrlBaseUrl(crlBaseUrl: string, host: string, port: number): { problem?: string; warning?: string } {
  let url: URL;
  try {
    url = new URL(crlBaseUrl);
  } catch {
    return { problem: `the CA's crlBaseUrl "${crlBaseUrl}" is not a URL` };
  }
  const recreate = 'or re-create the CA with `jpki-hil ca init --force --crl-base-url http://<host>:<port>/crl/`';
  if (url.protocol !== 'http:') return { problem: `the certificates name the CRL at ${crlBaseUrl}, but this server speaks plain HTTP; ${recreate}` };
  if (url.pathname !== '/crl/') return { problem: `the certificates name the CRL under the path ${url.pathname}, but this server publishes it under /crl/; ${recreate}` };
  const urlPort = url.port === '' ? 80 : Number(url.port);
  if (urlPort !== port) return { problem: `the certificates name the CRL at ${crlBaseUrl} (port ${urlPort}), not port ${port}; serve with --port ${urlPort}, ${recreate}` };
  const urlHost = url.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
  if (urlHost === host || (kWildcardHosts.includes(host) && isLoopback(urlHost))) return {};
  return {
    warning: kWildcardHosts.includes(host)
      ? `the certificates name the CRL host ${urlHost}; relying parties must resolve it to this machine`
      : `the certificates name the CRL host ${urlHost}, but this server listens on ${host}; relying parties must reach it as ${urlHost}`,
  };
}

/** Runs the server until `stop` is aborted; the command wires SIGTERM and SIGINT to it. */
export async function serveCa(ctx: CommandContext, args: CaServeArgs, stop: AbortSignal): Promise<void> {
  const ca = openCa(args.dir);
  const check = checkCrlBaseUrl(ca.state.crlBaseUrl, args.host, args.port);
  if (check.problem !== undefined) throw new UserError(`refusing to serve the test CA in ${args.dir}: ${check.problem}`);
  if (check.warning !== undefined) ctx.io.err(`ca serve: warning: ${check.warning}`);

  let app;
  try {
    app = buildCaServer(args.dir, { log: (line) => ctx.io.err(`ca serve: ${line}`) });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  let base: string;
  try {
    base = await app.listen({ host: args.host, port: args.port });
  } catch (e) {
    throw new UserError(`cannot listen on ${args.host}:${args.port}: ${(e as Error).message}`);
  }
  ctx.io.out(`serving the test CA in ${args.dir}`);
  ctx.io.out(`  CRLs: ${base}/crl/auth.crl  ${base}/crl/sign.crl  (certificates name ${ca.state.crlBaseUrl})`);
  ctx.io.out(`  OCSP: ${base}/ocsp  (POST application/ocsp-request, or GET ${base}/ocsp/<base64 request>)`);

  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });
  await app.close();
  ctx.io.err('ca serve: stopped');
}

export function registerCaServeCommand(caParser: Argv, ctx: CommandContext): Argv {
  return caParser.command(
    'serve',
    'Publish the CRLs and answer OCSP over HTTP at the address written into the certificates',
    (y) =>
      y
        .option('dir', { type: 'string', describe: 'CA directory', default: defaultCaDir(), defaultDescription: 'out/ca' })
        .option('port', { type: 'number', default: kDefaultCaServePort, describe: "TCP port (must be the one in the CA's CRL URL)" })
        .option('host', { type: 'string', default: kDefaultCaServeHost, describe: 'Address to listen on' })
        .example('$0 ca serve --dir out/ca', 'CRLs at http://127.0.0.1:8080/crl/, OCSP at http://127.0.0.1:8080/ocsp'),
    async (args) => {
      if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new UserError(`--port ${args.port} is not a TCP port`);
      const controller = new AbortController();
      const onSignal = (signal: NodeJS.Signals): void => {
        ctx.io.err(`ca serve: ${signal}: closing`);
        controller.abort();
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      try {
        await serveCa(ctx, { dir: args.dir, port: args.port, host: args.host }, controller.signal);
      } finally {
        // Nothing may keep the process alive once the server is closed.
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    },
  );
}
