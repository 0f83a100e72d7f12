/**
 * `jpki-hil portal serve`: the mock portal on its own, for people who want to click through it,
 * trusting the test CA of a CA directory the way a relying party does (its certificates, its CRLs,
 * its card-info key — never its private keys).
 */
import type { Argv } from 'yargs';
import { kDefaultPcAgentUrl } from '../../portal/mynaportal/app.js';
import { startPortal } from '../../portal/mynaportal/server.js';
import type { CommandContext } from '../command.js';
import { outDir } from '../paths.js';
import { dbPathFromArg, hostCaDbOptions, portalOptionsFromCaArg, serveUntilSignal, startServer, untilAborted } from './portal-serve.js';

export const kDefaultPortalPort = 8443;

export interface PortalServeArgs {
  port: number;
  host: string;
  ca: string;
  db: string;
  agentUrl: string;
  crlMode: 'crl' | 'ocsp' | 'none';
  crlFrom: 'files' | 'cdp';
  ocspUrl?: string | undefined;
  publicUrl?: string | undefined;
  /** Requests that check a card signature, per address and minute; 0: no limit (default 60). */
  rateLimit?: number | undefined;
}

/**
 * Starts the portal and runs until `stop` is aborted (the command passes one that SIGINT/SIGTERM
 * abort; tests pass their own). Returns the URL it served.
 */
export async function servePortal(ctx: CommandContext, args: PortalServeArgs, stop: AbortSignal): Promise<string> {
  const { caDir, options } = portalOptionsFromCaArg(args.ca, {
    db: dbPathFromArg(args.db),
    pcAgentUrl: args.agentUrl,
    publicUrl: args.publicUrl,
    revocation: args.crlMode,
    crlSource: args.crlFrom,
    ocspUrl: args.ocspUrl,
    loginRateLimit: args.rateLimit === 0 ? false : { max: args.rateLimit ?? 60, timeWindowMs: 60_000 },
  });
  const portal = await startServer('the portal', args.host, args.port, () => startPortal({ ...options, host: args.host, port: args.port }));
  ctx.io.out(`portal: ${portal.url}/`);
  ctx.io.out(`  trusting the test CA in ${caDir} (revocation: ${args.crlMode === 'crl' ? `CRL from ${args.crlFrom}` : args.crlMode})`);
  ctx.io.out(`  PC agent expected at ${args.agentUrl}; database ${args.db}`);
  await untilAborted(stop);
  await portal.close();
  return portal.url;
}

export function registerPortalCommand(parser: Argv, ctx: CommandContext): Argv {
  return parser.command('portal', 'Run the mock relying-party portal (Mynaportal-like login, QR login, verification API)', (portal) =>
    portal
      .command(
        'serve',
        'Serve the portal, trusting a test CA directory',
        (y) =>
          hostCaDbOptions(y.option('port', { type: 'number', default: kDefaultPortalPort, describe: 'TCP port (0: any free port)' }), {
            default: outDir('portal', 'portal.db'),
            defaultDescription: 'out/portal/portal.db',
            describe: "SQLite file for accounts and sessions (':memory:' for none)",
          })
            .option('agent-url', { type: 'string', default: kDefaultPcAgentUrl, describe: "The PC agent's WebSocket URL, written into the login page" })
            .option('crl-mode', { choices: ['crl', 'ocsp', 'none'] as const, default: 'crl' as const, describe: 'How certificate revocation is checked' })
            .option('crl-from', {
              choices: ['files', 'cdp'] as const,
              default: 'files' as const,
              describe: "With --crl-mode crl: the CA directory's CRL files, or the certificates' distribution point (run jpki-hil ca serve)",
            })
            .option('ocsp-url', { type: 'string', describe: 'With --crl-mode ocsp: the responder, e.g. http://127.0.0.1:8080/ocsp (jpki-hil ca serve)' })
            .option('public-url', { type: 'string', describe: 'The URL phones use to reach the portal (written into QR codes)' })
            .option('rate-limit', { type: 'number', default: 60, describe: 'Requests that check a card signature, per client address and minute (0: no limit, for load tests)' })
            .example('$0 portal serve', 'serve on http://127.0.0.1:8443/ with the CA in out/ca')
            .example('$0 portal serve --crl-mode ocsp --ocsp-url http://127.0.0.1:8080/ocsp', 'check revocation with the CA server'),
        (args) =>
          serveUntilSignal((stop) =>
            servePortal(
              ctx,
              {
                port: args.port,
                host: args.host,
                ca: args.ca,
                db: args.db,
                agentUrl: args['agent-url'],
                crlMode: args['crl-mode'],
                crlFrom: args['crl-from'],
                ocspUrl: args['ocsp-url'],
                publicUrl: args['public-url'],
                rateLimit: args['rate-limit'],
              },
              stop,
            ),
          ),
      )
      .demandCommand(1, 'Name a portal command: serve.'),
  );
}
