/**
 * `jpki-hil mypage serve`: the Sendai-like My Page with card linking through an xID-like app,
 * trusting the test CA of a CA directory the way a relying party does. The phone side is the xID
 * app (harness/agents/phone/xid-app.ts) or a person reading the QR code.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { startMyPage } from '../../portal/mypage/server.js';
import { CaDirectoryError, portalOptionsFromCaDir } from '../../portal/portal-options.js';
import { UserError } from '../errors.js';
import type { CommandContext } from '../main.js';
import { defaultCaDir, outDir } from '../paths.js';

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
  const caDir = resolve(args.ca);
  if (!existsSync(caDir)) throw new UserError(`no test CA at ${caDir}\n  create one with: jpki-hil ca init --dir ${args.ca}`);
  let trust;
  try {
    const options = portalOptionsFromCaDir(caDir, { db: ':memory:' });
    trust = { verifier: options.verifier, cardInfoPublicKey: options.cardInfoPublicKey };
  } catch (e) {
    if (e instanceof CaDirectoryError) throw new UserError(e.message);
    throw new UserError(`cannot use the test CA in ${caDir}: ${(e as Error).message}`);
  }
  let page;
  try {
    page = await startMyPage({ ...trust, host: args.host, port: args.port, db: args.db === ':memory:' ? args.db : resolve(args.db), testMode: args.testMode });
  } catch (e) {
    throw new UserError(`cannot start My Page on ${args.host}:${args.port}: ${(e as Error).message}`);
  }
  ctx.io.out(`My Page: ${page.url}/`);
  ctx.io.out(`  trusting the test CA in ${caDir}; database ${args.db}${args.testMode ? `; outbox at ${page.url}/api/test/outbox` : ''}`);
  await new Promise<void>((done) => {
    if (stop.aborted) done();
    else stop.addEventListener('abort', () => done(), { once: true });
  });
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
          y
            .option('port', { type: 'number', default: kDefaultMyPagePort, describe: 'TCP port (0: any free port)' })
            .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
            .option('ca', { type: 'string', default: defaultCaDir(), defaultDescription: 'out/ca', describe: 'Test CA directory to trust' })
            .option('db', { type: 'string', default: outDir('mypage', 'mypage.db'), defaultDescription: 'out/mypage/mypage.db', describe: "SQLite file for accounts (':memory:' for none)" })
            .option('test-mode', { type: 'boolean', default: true, describe: 'Serve the e-mail outbox at /api/test/outbox and error details' })
            .example('$0 mypage serve', 'My Page on http://127.0.0.1:8460/'),
        async (args) => {
          const stop = new AbortController();
          const onSignal = (): void => stop.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          try {
            await serveMyPage(ctx, { port: args.port, host: args.host, ca: args.ca, db: args.db, testMode: args['test-mode'] }, stop.signal);
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        },
      )
      .demandCommand(1, 'Name a mypage command: serve.'),
  );
}
