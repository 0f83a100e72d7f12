/**
 * `jpki-hil citizen serve`: the Nobeoka-like city portal and the IdP it links city IDs through
 * (Digital Auth App / PocketSign-like OpenID Connect), both trusting the test CA of a CA directory
 * the way relying parties do. The phone side is the auth app (harness/agents/phone/auth-app.ts) or
 * a person reading the QR code.
 */
import { randomBytes } from 'node:crypto';
import type { Argv } from 'yargs';
import { startCitizenPortal } from '../../portal/citizen/server.js';
import { startIdp } from '../../portal/idp/server.js';
import type { CommandContext } from '../command.js';
import { outDir } from '../paths.js';
import { caTrustFromCaArg, dbPathFromArg, hostCaDbOptions, serveUntilSignal, startServer, untilAborted } from './portal-serve.js';

export const kDefaultCitizenPort = 8450;
export const kDefaultIdpPort = 8451;
export const kCitizenClientId = 'citizen-portal';

export interface CitizenServeArgs {
  port: number;
  idpPort: number;
  host: string;
  ca: string;
  db: string;
  testMode: boolean;
}

/** Starts the IdP and the city portal and runs until `stop` is aborted; returns both URLs. */
export async function serveCitizen(ctx: CommandContext, args: CitizenServeArgs, stop: AbortSignal): Promise<{ citizen: string; idp: string }> {
  const { caDir, trust } = caTrustFromCaArg(args.ca);
  const clientSecret = randomBytes(24).toString('base64url');
  const redirectUris: string[] = [];
  const idp = await startServer('the IdP', args.host, args.idpPort, () =>
    startIdp({
      ...trust,
      host: args.host,
      port: args.idpPort,
      cookieSecret: randomBytes(32).toString('base64url'),
      clients: [{ clientId: kCitizenClientId, clientSecret, name: 'のべおかポータル（テスト）', redirectUris: () => redirectUris }],
      testMode: args.testMode,
    }),
  );
  const citizen = await startServer('the city portal', args.host, args.port, () =>
    startCitizenPortal({
      host: args.host,
      port: args.port,
      db: dbPathFromArg(args.db),
      idp: { issuer: idp.url, clientId: kCitizenClientId, clientSecret },
      testMode: args.testMode,
    }),
  ).catch(async (e: unknown) => {
    await idp.close();
    throw e;
  });
  redirectUris.push(`${citizen.url}/link/callback`);
  ctx.io.out(`city portal: ${citizen.url}/`);
  ctx.io.out(`IdP: ${idp.url}/ (client ${kCitizenClientId}, redirect URI ${citizen.url}/link/callback)`);
  ctx.io.out(`  trusting the test CA in ${caDir}; database ${args.db}${args.testMode ? `; outbox at ${citizen.url}/api/test/outbox` : ''}`);
  await untilAborted(stop);
  await citizen.close();
  await idp.close();
  return { citizen: citizen.url, idp: idp.url };
}

export function registerCitizenCommand(parser: Argv, ctx: CommandContext): Argv {
  return parser.command('citizen', 'Run the Nobeoka-like city portal with ID linking through a Digital Auth App-like IdP', (citizen) =>
    citizen
      .command(
        'serve',
        'Serve the city portal and the IdP, trusting a test CA directory',
        (y) =>
          hostCaDbOptions(
            y
              .option('port', { type: 'number', default: kDefaultCitizenPort, describe: 'City portal TCP port (0: any free port)' })
              .option('idp-port', { type: 'number', default: kDefaultIdpPort, describe: 'IdP TCP port (0: any free port)' }),
            { default: outDir('citizen', 'citizen.db'), defaultDescription: 'out/citizen/citizen.db', describe: "SQLite file for accounts (':memory:' for none)" },
          )
            .option('test-mode', { type: 'boolean', default: false, describe: 'Serve the SMS / e-mail outbox at /api/test/outbox (without credentials: for a lab only) and error details' })
            .example('$0 citizen serve', 'city portal on http://127.0.0.1:8450/, IdP on http://127.0.0.1:8451/'),
        (args) => serveUntilSignal((stop) => serveCitizen(ctx, { port: args.port, idpPort: args['idp-port'], host: args.host, ca: args.ca, db: args.db, testMode: args['test-mode'] }, stop)),
      )
      .demandCommand(1, 'Name a citizen command: serve.'),
  );
}
