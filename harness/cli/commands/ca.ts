/** `jpki-hil ca init | revoke`: the test CA that issues every card's certificates. */
import type { Argv } from 'yargs';
import { CardFromAnotherCaError, crlNextUpdates, initCa, kRevocationReasons, publishCrls, readCardImage, revokeCardCertificate, type RevocationReason } from '../../../emulator/index.js';
import { openCa } from '../open-ca.js';
import { UserError } from '../errors.js';
import { registerCaServeCommand } from './ca-serve.js';
import type { CommandContext, CommandRegistrar } from '../command.js';
import { defaultCaDir } from '../paths.js';

export const registerCaCommands: CommandRegistrar = (parser: Argv, ctx: CommandContext) =>
  parser.command('ca', 'Create, serve and manage the test CA (authentication and signature CAs, CRLs, OCSP)', (ca) =>
    registerCaServeCommand(ca, ctx)
      .command(
        'init',
        'Create a test CA directory (does nothing when it already holds one)',
        (y) =>
          y
            .option('dir', { type: 'string', describe: 'CA directory', default: defaultCaDir(), defaultDescription: 'out/ca' })
            .option('force', { type: 'boolean', default: false, describe: 'Replace an existing CA (its cards will no longer chain to it)' })
            .option('crl-base-url', { type: 'string', describe: 'URL prefix written into certificates as the CRL distribution point' })
            .example('$0 ca init --dir out/ca', 'create the CA, or reuse the one there'),
        (args) => {
          let result;
          try {
            result = initCa(args.dir, { force: args.force, crlBaseUrl: args['crl-base-url'] });
          } catch (e) {
            throw new UserError(`--dir ${args.dir}: ${(e as Error).message}`, 2);
          }
          ctx.io.out(`${result.created ? 'created' : 'kept existing'} test CA in ${args.dir}`);
          ctx.io.out(`  authentication CA: ${args.dir}/auth-ca.pem\n  signature CA:      ${args.dir}/sign-ca.pem`);
        },
      )
      .command(
        'revoke',
        "Revoke a card's certificate and re-publish the CA's CRL",
        (y) =>
          y
            .option('dir', { type: 'string', describe: 'CA directory', default: defaultCaDir(), defaultDescription: 'out/ca' })
            .option('card', { type: 'string', demandOption: true, describe: 'Card image whose certificate to revoke' })
            .option('cert', { choices: ['sign', 'auth', 'both'] as const, default: 'sign' as const, describe: 'Which certificate' })
            .option('reason', { choices: kRevocationReasons, default: 'unspecified' as RevocationReason, describe: 'CRL reason code' })
            .example('$0 ca revoke --card out/cards/adult.json --reason affiliationChanged', 'after a move: revoke the signature certificate'),
        (args) => {
          const ca = openCa(args.dir);
          let image;
          try {
            image = readCardImage(args.card);
          } catch (e) {
            throw new UserError(`--card: ${(e as Error).message}`, 2);
          }
          const kinds = args.cert === 'both' ? (['auth', 'sign'] as const) : ([args.cert] as const);
          for (const kind of kinds) {
            let result;
            try {
              result = revokeCardCertificate(ca, image, kind, args.reason as RevocationReason);
            } catch (e) {
              throw new UserError(`${e instanceof CardFromAnotherCaError ? `--card ${args.card}: ` : ''}${(e as Error).message}`, 2);
            }
            ctx.io.out(
              result.alreadyRevoked
                ? `${kind} certificate ${result.serial} was already revoked on ${result.revoked.date} (${result.revoked.reason})`
                : `revoked ${kind} certificate ${result.serial} (${result.revoked.reason}); CRL re-published in ${args.dir}`,
            );
          }
        },
      )
      .command(
        'publish',
        'Re-publish both CRLs now (they are due one day after publication; relying parties refuse older ones)',
        (y) => y.option('dir', { type: 'string', describe: 'CA directory', default: defaultCaDir(), defaultDescription: 'out/ca' }),
        (args) => {
          const ca = openCa(args.dir);
          publishCrls(ca);
          const next = crlNextUpdates(ca);
          ctx.io.out(`re-published the CRLs of ${args.dir}; next update due ${next.auth.toISOString()}`);
        },
      )
      .demandCommand(1, 'Name a ca command: init, revoke, publish or serve.'),
  );
