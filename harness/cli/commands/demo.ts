/**
 * `jpki-hil demo`: one JPKI login exchange without a browser or portal. Issues a card, then runs what a
 * relying party's login does — token, certificate, PIN, signature over a one-time nonce — against
 * the in-process emulator, and checks the result as the portal will (chain, validity, signature).
 */
import { X509Certificate, randomBytes, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { createMemoryCard, initCa, issueCard, loadCardDefinition, makeDirectories, refreshCrlsIfStale } from '../../../emulator/index.js';
import { toHex } from '../../../iso7816/bytes.js';
import { JpkiClient, PinError, sha256DigestInfo } from '../../jpki/jpki-client.js';
import { InProcessChannel } from '../../readers/in-process-channel.js';
import { UserError } from '../errors.js';
import type { CommandContext, CommandRegistrar } from '../command.js';
import { kCardDefinitionsDir, outDir } from '../paths.js';

async function demo(ctx: CommandContext, args: { out: string; trace: boolean }): Promise<void> {
  const say = (line: string): void => ctx.io.out(line);
  const caDir = join(args.out, 'ca');
  makeDirectories(args.out);
  const ca = initCa(caDir);
  if (!ca.created) refreshCrlsIfStale(ca);
  say(`test CA: ${caDir}${ca.created ? ' (created)' : ''}`);
  const definition = loadCardDefinition(join(kCardDefinitionsDir, 'adult.yaml'));
  const started = Date.now();
  const { image } = await issueCard(ca, definition);
  say(`issued card "${definition.id}" for ${image.identity.name} in ${Date.now() - started} ms`);

  let exchanges = 0;
  const card = createMemoryCard(image);
  const client = new JpkiClient(new InProcessChannel(card), (e) => {
    exchanges++;
    if (args.trace) say(`    > ${e.command}\n    < ${e.response ? `${e.response} ` : ''}${e.sw}`);
  });

  const token = await client.readToken();
  say(`1. token: ${token}`);
  const certDer = await client.readCertificate('auth');
  const cert = new X509Certificate(certDer);
  say(`2. authentication certificate: serial ${cert.serialNumber}, ${certDer.length} bytes, ${cert.subject.replace(/\n/g, ', ')}`);
  say(`3. auth PIN tries left: ${await client.pinTriesLeft('auth')}`);
  try {
    await client.verifyPin('auth', '0000' === definition.pins.auth ? '9999' : '0000');
  } catch (e) {
    if (!(e instanceof PinError)) throw e;
    say(`4. a wrong PIN is refused: ${e.triesLeft} tries left`);
  }
  await client.verifyPin('auth', definition.pins.auth);
  say(`5. right PIN accepted; tries left back to ${await client.pinTriesLeft('auth')}`);
  const nonce = randomBytes(32);
  const signature = await client.signDigestInfo('auth', sha256DigestInfo(nonce));
  say(`6. card signed the SHA-256 DigestInfo of nonce ${toHex(nonce).slice(0, 16)}...: ${signature.length}-byte signature`);

  // What the portal does with it: chain, validity, signature.
  const caCert = new X509Certificate(readFileSync(join(caDir, 'auth-ca.pem')));
  const chained = cert.verify(caCert.publicKey) && cert.checkIssued(caCert);
  const now = Date.now();
  const valid = Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
  const signatureOk = verify('sha256', nonce, cert.publicKey, signature);
  say(`7. relying-party checks: chain to the test auth CA ${chained ? 'OK' : 'FAILED'}, validity ${valid ? 'OK' : 'FAILED'}, signature ${signatureOk ? 'OK' : 'FAILED'}`);
  const basic4 = await client.readBasicFour(definition.pins.kenhojo);
  say(`8. card-info AP basic-4: ${basic4.name} / ${basic4.address} / ${basic4.birth} / sex ${basic4.sex}`);
  say(`done: ${exchanges} APDU exchanges with the in-process emulator`);
  if (!chained || !valid || !signatureOk) {
    ctx.exitCode = 1;
    throw new UserError('the login exchange did not verify (see the lines above)');
  }
}

export const registerDemoCommand: CommandRegistrar = (parser: Argv, ctx: CommandContext) =>
  parser.command(
    'demo',
    'Issue a card and run a JPKI login exchange on it in-process, checking it as a relying party would',
    (y) =>
      y
        .option('out', { type: 'string', default: outDir('demo'), defaultDescription: 'out/demo', describe: 'Where the test CA goes' })
        .option('trace', { type: 'boolean', default: false, describe: 'Print every APDU exchange' }),
    (args) => demo(ctx, { out: resolve(args.out), trace: args.trace }),
  );
