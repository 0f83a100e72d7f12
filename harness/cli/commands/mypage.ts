/**
 * `jpki-hil mypage serve`: the Sendai-like My Page with card linking through an xID-like app,
 * trusting the test CA of a CA directory the way a relying party does. The phone side is the xID
 * app (harness/agents/phone/xid-app.ts) or a person reading the QR code.
 */
import type { Argv } from 'yargs';
import { startMyPage } from '../../portal/mypage/server.js';
import type { CommandContext } from '../command.js';
import { outDir } from '../paths.js';
import { caTrustFromCaArg, dbPathFromArg, hostCaDbOptions, serveUntilSignal, startServer, untilAborted } from './portal-serve.js';

export const kDefaultMyPagePort = 8460;

export interface MyPageServeArgs {
  port: number;
  host: string;
  ca: string;
  db: string;
  testMode: boolean;
}

/** Starts My Page and runs until `stop` is aborted; returns its URL. */
export async function serveMyPage(ctx: CommandContext, args: MyPageServeArgs, stop: AbortSignal): Promise<string> {
  const { caDir, trust } = caTrustFromCaArg(args.ca);
  const page = await startServer('My Page', args.host, args.port, () => startMyPage({ ...trust, host: args.host, port: args.port, db: dbPathFromArg(args.db), testMode: args.testMode }));
  ctx.io.out(`My Page: ${page.url}/`);
  ctx.io.out(`  trusting the test CA in ${caDir}; database ${args.db}${args.testMode ? `; outbox at ${page.url}/api/test/outbox` : ''}`);
  await untilAborted(stop);
  await page.close();
  return page.url;
}

export function registerMyPageCommand(parser: Argv, ctx: CommandContext): Argv {
  return parser.command('mypage', 'Run the Sendai-like My Page with card linking through an xID-like app', (mypage) =>
    mypage
      .command(
        'serve',
        'Serve My Page, trusting a test CA directory',
        (y) =>
          hostCaDbOptions(y.option('port', { type: 'number', default: kDefaultMyPagePort, describe: 'TCP port (0: any free port)' }), {
            default: outDir('mypage', 'mypage.db'),
            defaultDescription: 'out/mypage/mypage.db',
            describe: "SQLite file for accounts (':memory:' for none)",
          })
            .option('test-mode', { type: 'boolean', default: false, describe: 'Serve the e-mail outbox at /api/test/outbox (without credentials: for a lab only) and error details' })
            .example('$0 mypage serve', 'My Page on http://127.0.0.1:8460/'),
        (args) => serveUntilSignal((stop) => serveMyPage(ctx, { port: args.port, host: args.host, ca: args.ca, db: args.db, testMode: args['test-mode'] }, stop)),
      )
      .demandCommand(1, 'Name a mypage command: serve.'),
  );
}
