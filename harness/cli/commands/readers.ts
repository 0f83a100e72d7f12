/**
 * `jpki-hil readers` and `jpki-hil info`: what PC/SC sees, and what a relying party's client reads
 * from the card in a reader — emulated or real. `info` reads through the same JpkiClient the agents
 * use, so it doubles as a quick check that a reader and card work before a scenario run.
 */
import { X509Certificate } from 'node:crypto';
import type { Argv } from 'yargs';
import { pinFormatProblem } from '../../../emulator/index.js';
import { toHex } from '../../../iso7816/bytes.js';
import type { KenhojoBasic4 } from '../../../common/card-info-format.js';
import { CardCommandError, JpkiClient, PinError, type CardPin, type CertificateKind } from '../../jpki/jpki-client.js';
import { PcscReaderProvider } from '../../readers/pcsc-reader.js';
import { ReaderError, type CardConnection, type Reader, type ReaderListing, type ReaderProvider } from '../../readers/reader.js';
import { UserError } from '../errors.js';
import type { CommandContext, CommandRegistrar } from '../command.js';

export interface CertificateSummary {
  subject: string;
  issuer: string;
  /** Upper-case hex, as OpenSSL prints it. */
  serial: string;
  notBefore: string;
  notAfter: string;
  expired: boolean;
  sha256: string;
}

export interface CardInfo {
  reader: string;
  atr: string;
  token: string;
  /** null where the card has no such certificate (a minor's card has none to sign with) or would not show it. */
  certificates: Record<CertificateKind, CertificateSummary | null>;
  /** Certificates the card holds but shows only after a PIN: the signature certificate, without the signing password. */
  locked: CertificateKind[];
  /** null where the card has no such PIN. */
  triesLeft: Record<CardPin, number | null>;
  myNumber?: string;
  basic4?: KenhojoBasic4;
}

const kCertificateKinds: readonly CertificateKind[] = ['auth', 'sign', 'authCa', 'signCa'];
const kTriedPins: readonly CardPin[] = ['auth', 'sign', 'kenhojo'];
const kCertificateLabels: Record<CertificateKind, string> = {
  auth: 'authentication certificate',
  sign: 'signature certificate',
  authCa: 'authentication CA certificate',
  signCa: 'signature CA certificate',
};
const kFileNotFound = 0x6a82;
const kSecurityStatusNotSatisfied = 0x6982;

/**
 * Runs `read`, answering 'absent' when the card has no such file (it is optional on this card) and
 * 'locked' when the card wants a PIN first.
 */
async function optional<T>(read: () => Promise<T>): Promise<T | 'absent' | 'locked'> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof CardCommandError && e.sw === kFileNotFound) return 'absent';
    if (e instanceof CardCommandError && e.sw === kSecurityStatusNotSatisfied) return 'locked';
    throw e;
  }
}

export function summarizeCertificate(der: Uint8Array, now = Date.now()): CertificateSummary {
  const cert = new X509Certificate(der);
  const notAfter = new Date(cert.validTo);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serial: cert.serialNumber.toUpperCase(),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    expired: notAfter.getTime() < now,
    sha256: cert.fingerprint256,
  };
}

export interface CardInfoOptions {
  /** Card-info PIN: also read the My Number and basic 4. */
  kenhojoPin?: string;
  /** Signing password: the card shows the signature certificate only after it. */
  signPin?: string;
}

/**
 * Reads what `info` shows through an open connection. Only the PINs given are verified (a wrong one
 * uses a try); tries left are read with the empty VERIFY, which uses none.
 */
export async function readCardInfo(connection: CardConnection, options: CardInfoOptions = {}): Promise<CardInfo> {
  const client = new JpkiClient(connection);
  const token = await client.readToken();
  if (options.signPin !== undefined) await client.verifyPin('sign', options.signPin);
  const certificates = {} as Record<CertificateKind, CertificateSummary | null>;
  const locked: CertificateKind[] = [];
  for (const kind of kCertificateKinds) {
    const der = await optional(() => client.readCertificate(kind));
    if (der === 'locked') locked.push(kind);
    certificates[kind] = typeof der === 'string' ? null : summarizeCertificate(der);
  }
  const triesLeft = {} as Record<CardPin, number | null>;
  for (const pin of kTriedPins) {
    const tries = await optional(() => client.pinTriesLeft(pin));
    triesLeft[pin] = typeof tries === 'string' ? null : tries;
  }
  const info: CardInfo = { reader: connection.readerName, atr: toHex(connection.atr), token, certificates, locked, triesLeft };
  if (options.kenhojoPin !== undefined) {
    info.myNumber = await client.readMyNumber(options.kenhojoPin);
    info.basic4 = await client.readBasicFour(options.kenhojoPin);
  }
  return info;
}

export function formatReaderList(readers: readonly ReaderListing[]): string {
  if (readers.length === 0) return 'no readers: plug one in, or start pcscd with the vpcd driver (bash scripts/pcsc-setup.sh)';
  const width = Math.max(...readers.map((r) => r.name.length));
  return readers.map((r) => `${r.name.padEnd(width)}  ${r.cardPresent ? `card     ATR ${r.atr ?? '?'}` : 'no card'}`).join('\n');
}

export function formatCardInfo(info: CardInfo): string {
  const lines = [`reader     ${info.reader}`, `ATR        ${info.atr}`, `token      ${info.token}`];
  for (const kind of kCertificateKinds) {
    const cert = info.certificates[kind];
    if (!cert) {
      const why = info.locked.includes(kind) ? `locked (the card shows it after the signing password: --sign-pin)` : 'none';
      lines.push(`${kCertificateLabels[kind]}: ${why}`);
      continue;
    }
    lines.push(
      `${kCertificateLabels[kind]}:`,
      `    subject  ${cert.subject}`,
      `    serial   ${cert.serial}`,
      `    valid    ${cert.notBefore} .. ${cert.notAfter}${cert.expired ? '  (EXPIRED)' : ''}`,
    );
  }
  const tries = kTriedPins.map((pin) => `${pin} ${info.triesLeft[pin] ?? 'none'}${info.triesLeft[pin] === 0 ? ' (BLOCKED)' : ''}`);
  lines.push(`tries left ${tries.join(', ')}`);
  if (info.myNumber !== undefined) lines.push(`My Number  ${info.myNumber}`);
  if (info.basic4) {
    lines.push(`name       ${info.basic4.name}`, `address    ${info.basic4.address}`, `born       ${info.basic4.birth}, sex ${info.basic4.sex}`);
  }
  return lines.join('\n');
}

/** The reader `info` reads from: the named one, else the first holding a card. */
async function chooseReader(provider: ReaderProvider, name: string | undefined): Promise<Reader> {
  if (name !== undefined) return provider.open(name);
  const readers = await provider.list();
  const withCard = readers.find((r) => r.cardPresent);
  if (withCard) return provider.open(withCard.name);
  if (readers.length === 0) throw new UserError(formatReaderList(readers));
  throw new UserError(
    `no card in any reader (${readers.map((r) => `"${r.name}"`).join(', ')}); insert one, or serve an emulated card: jpki-hil card serve --card <card.json>`,
  );
}

/** Turns what a user can fix (reader, card, PIN) into a one-line UserError; anything else stays a bug. */
function asUserError(e: unknown, readerName: string | undefined): unknown {
  if (e instanceof ReaderError) return new UserError(e.message);
  if (e instanceof PinError) {
    return new UserError(
      e.blocked
        ? `the ${e.pin} PIN of the card is blocked; unblock it at the municipal counter (emulated card: jpki-hil card reset-pin --pin ${e.pin})`
        : `wrong ${e.pin} PIN: ${e.triesLeft} tries left before it blocks`,
    );
  }
  if (e instanceof CardCommandError) return new UserError(`${e.message}; is the card in reader "${readerName ?? '?'}" a My Number Card?`);
  return e;
}

async function withProvider<T>(openProvider: () => ReaderProvider, work: (provider: ReaderProvider) => Promise<T>): Promise<T> {
  const provider = openProvider();
  try {
    return await work(provider);
  } catch (e) {
    throw asUserError(e, undefined);
  } finally {
    await provider.close();
  }
}

async function listCommand(ctx: CommandContext, openProvider: () => ReaderProvider, json: boolean): Promise<void> {
  const readers = await withProvider(openProvider, (p) => p.list());
  ctx.io.out(json ? JSON.stringify(readers) : formatReaderList(readers));
}

async function infoCommand(
  ctx: CommandContext,
  openProvider: () => ReaderProvider,
  args: { reader?: string; kenhojoPin?: string; signPin?: string; json: boolean },
): Promise<void> {
  // Checked before the card sees them: a typo must not cost one of the few tries.
  const kenhojoProblem = args.kenhojoPin === undefined ? undefined : pinFormatProblem('kenhojo', args.kenhojoPin);
  if (kenhojoProblem) throw new UserError(`--kenhojo-pin: ${kenhojoProblem}`);
  // The signing password is upper-case on the card; clients take it in either case.
  const signPin = args.signPin?.toUpperCase();
  const signProblem = signPin === undefined ? undefined : pinFormatProblem('sign', signPin);
  if (signProblem) throw new UserError(`--sign-pin: ${signProblem}`);
  const info = await withProvider(openProvider, async (provider) => {
    const reader = await chooseReader(provider, args.reader);
    try {
      const connection = await reader.connect();
      try {
        return await readCardInfo(connection, { kenhojoPin: args.kenhojoPin, signPin });
      } catch (e) {
        throw asUserError(e, reader.name);
      } finally {
        // Reset, so that the verified card-info PIN does not outlive the command.
        await connection.disconnect('reset').catch(() => undefined);
      }
    } finally {
      await reader.close();
    }
  });
  ctx.io.out(args.json ? JSON.stringify(info) : formatCardInfo(info));
}

/** The commands over any provider: the CLI uses PC/SC, tests may pass in-process readers. */
export function createReaderCommands(openProvider: () => ReaderProvider): CommandRegistrar {
  return (parser: Argv, ctx: CommandContext) =>
    parser
      .command(
        'readers',
        'List the PC/SC readers with card presence and ATR',
        (y) => y.option('json', { type: 'boolean', default: false, describe: 'A JSON array of { name, cardPresent, atr }' }),
        (args) => listCommand(ctx, openProvider, args.json),
      )
      .command(
        'info',
        'Read a card through the JPKI client: token, certificates, tries left, and with the card-info PIN the My Number and basic 4',
        (y) =>
          y
            .option('reader', { type: 'string', describe: 'Reader name, or a unique part of it', defaultDescription: 'the first reader with a card' })
            .option('kenhojo-pin', { type: 'string', describe: 'Card-info (券面事項入力補助) PIN: also read the My Number and basic 4 (a wrong PIN uses a try)' })
            .option('sign-pin', { type: 'string', describe: 'Signing password: the card shows the signature certificate only after it (a wrong one uses a try)' })
            .option('json', { type: 'boolean', default: false, describe: 'One JSON object' })
            .example('$0 info', 'the card in the first reader that has one')
            .example('$0 info --reader "Virtual PCD 00 01" --kenhojo-pin 1234 --sign-pin JPKI2026 --json', 'everything, from the card served in slot 1'),
        (args) => infoCommand(ctx, openProvider, { reader: args.reader, kenhojoPin: args['kenhojo-pin'], signPin: args['sign-pin'], json: args.json }),
      );
}

export const registerReaderCommands: CommandRegistrar = createReaderCommands(() => new PcscReaderProvider());
