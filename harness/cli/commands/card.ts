/** `jpki-hil card issue | show | apdu | reset-pin`: make a card image and work with it directly. */
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import {
  answerDetail,
  CardDefinitionError,
  decodeSignatureIdentity,
  initCa,
  isValidMyNumber,
  issueCard,
  kDefaultDefinition,
  kPinIds,
  loadCardDefinition,
  lockCardImage,
  makeDirectories,
  openCardFile,
  closeCardFile,
  parseCardDefinition,
  pinFormatProblem,
  readCardImage,
  refreshCrlsIfStale,
  serializeCardImage,
  writeFileAtomic,
  FileImageStore,
  type Card,
  type CardDefinition,
  type CardImage,
  type PinId,
} from '../../../emulator/index.js';
import { fromBase64, fromHex, toHex } from '../../../iso7816/bytes.js';
import { maskCommand } from '../../../iso7816/secret-mask.js';
import { describeSw, swHex } from '../../../iso7816/status-words.js';
import { parseResponseApdu } from '../../../iso7816/apdu.js';
import { UserError } from '../errors.js';
import { registerProbeCommands } from './card-probe.js';
import { registerServeCommands } from './serve.js';
import type { CommandContext, CommandRegistrar } from '../command.js';
import { defaultCaDir, kCardDefinitionsDir, outDir } from '../paths.js';

/** Flags of `card issue` that override a field of the definition. */
const kIdentityFlags = {
  name: 'identity.name',
  'name-kana': 'identity.nameKana',
  address: 'identity.address',
  birth: 'identity.birth',
  sex: 'identity.sex',
  'my-number': 'identity.myNumber',
  'auth-pin': 'pins.auth',
  'sign-pin': 'pins.sign',
  'kenhojo-pin': 'pins.kenhojo',
} as const;

function loadDefinition(path: string | undefined): CardDefinition {
  if (path === undefined) {
    const bundled = join(kCardDefinitionsDir, 'adult.yaml');
    return existsSync(bundled) ? loadCardDefinition(bundled) : kDefaultDefinition;
  }
  const candidates = [resolve(path), join(kCardDefinitionsDir, path), join(kCardDefinitionsDir, `${path}.yaml`)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new UserError(`--definition: card definition "${path}" not found (looked for ${candidates.join(', ')})`, 2);
  try {
    return loadCardDefinition(found);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

function applyFlags(definition: CardDefinition, flags: Record<string, unknown>): CardDefinition {
  const raw = JSON.parse(JSON.stringify(definition)) as Record<string, Record<string, unknown>>;
  let changed = false;
  for (const [flag, field] of Object.entries(kIdentityFlags)) {
    const value = flags[flag];
    if (value === undefined) continue;
    const [section, key] = field.split('.') as [string, string];
    raw[section]![key] = String(value);
    changed = true;
  }
  if (!changed) return definition;
  const sign = flags['sign-pin'];
  if (typeof sign === 'string' && sign !== sign.toUpperCase() && /^[a-z0-9]+$/i.test(sign)) raw.pins!.sign = sign.toUpperCase();
  // Re-validate the merged definition so that a flag gets the same checks as a file.
  const fieldToFlag = new Map<string, string>(Object.entries(kIdentityFlags).map(([flag, field]) => [field, flag]));
  const cardInfo = raw.cardInfo as { myNumberTagByte?: unknown };
  cardInfo.myNumberTagByte = definition.cardInfo.myNumberTagByte === 0xdf ? 'DF' : 'FF';
  return parseCardDefinition(raw, definition.id, (field, problem) => {
    const flag = fieldToFlag.get(field);
    throw new UserError(`${flag ? `--${flag}` : field}: ${problem}`, 2);
  });
}

/** Fails before any work when `--out` cannot become a card image file. */
function checkOutPath(out: string, id: string, force: boolean): void {
  let stat;
  try {
    stat = statSync(out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UserError(`--out ${out} is a symbolic link loop; choose another path`, 2);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UserError(`--out ${out}: ${(e as Error).message}`, 2);
  }
  if (stat?.isDirectory()) throw new UserError(`--out ${out} is a directory; name the card image file, e.g. --out ${join(out, `${id}.json`)}`, 2);
  if (stat && !stat.isFile()) throw new UserError(`--out ${out} is not a regular file; choose a path for the card image file`, 2);
  if (stat && !force) throw new UserError(`${out} already exists; pass --force to replace it (its PIN state will be lost)`, 2);
  try {
    makeDirectories(dirname(out));
    accessSync(dirname(out), constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const why = { ENOTDIR: 'a part of it is not a directory', EACCES: 'permission denied', EROFS: 'read-only file system', ENOENT: 'cannot be created there' }[code] ?? (e as Error).message;
    throw new UserError(`--out ${out}: cannot write there (${why}); choose a writable path`, 2);
  }
}

async function issue(ctx: CommandContext, args: Record<string, unknown>): Promise<void> {
  const definition = applyFlags(loadDefinition(args.definition as string | undefined), args);
  const myNumber = definition.identity.myNumber;
  if (myNumber !== undefined && !isValidMyNumber(myNumber)) {
    throw new UserError(`My Number ${myNumber} has a wrong check digit; leave it out for a random valid one`, 2);
  }
  const out = resolve((args.out as string | undefined) ?? outDir('cards', `${definition.id}.json`));
  checkOutPath(out, definition.id, args.force === true);
  const caDir = resolve((args.ca as string | undefined) ?? defaultCaDir());
  let ca;
  try {
    ca = initCa(caDir);
  } catch (e) {
    throw new UserError(`--ca: ${(e as Error).message}`, 2);
  }
  if (ca.created) ctx.io.out(`created test CA in ${caDir}`);
  else if (refreshCrlsIfStale(ca)) ctx.io.out(`re-published the CRLs of ${caDir} (they were due)`);
  let issued;
  try {
    issued = await issueCard(ca, definition);
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError || e instanceof CardDefinitionError) throw new UserError(e.message, 2);
    throw e;
  }
  // Replacing an image is taking the card out of its reader: not while a process holds it.
  let lock;
  try {
    lock = lockCardImage(out);
  } catch (e) {
    throw new UserError(`--out: ${(e as Error).message}`, 2);
  }
  try {
    writeFileAtomic(out, serializeCardImage(issued.image));
  } catch (e) {
    throw new UserError(`--out ${out}: cannot write the card image (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable path`, 2);
  } finally {
    lock.release();
  }
  ctx.io.out(`issued card "${definition.id}" to ${out}`);
  ctx.io.out(`  holder:   ${issued.image.identity.name} (born ${issued.image.identity.birth})`);
  ctx.io.out(`  auth certificate serial ${issued.serials.auth}${issued.serials.sign ? `, sign certificate serial ${issued.serials.sign}` : ', no signature certificate'}`);
  ctx.io.out(`  PINs: auth ${definition.pins.auth}${issued.serials.sign ? `, sign ${definition.pins.sign}` : ''}, kenhojo ${definition.pins.kenhojo}`);
}

/** The certificate in a JPKI EF, or a UserError naming the image field when it is not one. */
function parseCertificate(path: string, fid: string, der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw new UserError(`${path}: applets.jpki.files.${fid}: is not an X.509 certificate (${der.length} bytes); issue the card again`, 2);
  }
}

function certificateSummary(label: string, cert: X509Certificate | undefined): string[] {
  if (!cert) return [`${label}: none`];
  const expired = Date.parse(cert.validTo) < Date.now();
  return [
    `${label}:`,
    `    serial   ${cert.serialNumber}`,
    `    subject  ${cert.subject.replace(/\n/g, ', ')}`,
    `    valid    ${new Date(cert.validFrom).toISOString()} .. ${new Date(cert.validTo).toISOString()}${expired ? '  (EXPIRED)' : ''}`,
  ];
}

function show(ctx: CommandContext, path: string, json: boolean): void {
  let image: CardImage;
  try {
    image = readCardImage(path);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  const files = image.applets.jpki.files;
  const cert = (fid: string): X509Certificate | undefined => (files[fid] ? parseCertificate(path, fid, fromBase64(files[fid])) : undefined);
  const authCert = cert('000A');
  const signCert = cert('0001');
  const signDer = signCert?.raw;
  const tries = Object.fromEntries(kPinIds.map((id) => [id, { remaining: image.pins[id].remaining, limit: image.pins[id].limit }]));
  if (json) {
    const serial = (c: X509Certificate | undefined): string | null => c?.serialNumber ?? null;
    ctx.io.out(
      JSON.stringify({
        label: image.label,
        identity: image.identity,
        atr: image.atr,
        lifecycle: image.lifecycle,
        cardExpiry: image.cardExpiry,
        certificates: { auth: serial(authCert), sign: serial(signCert) },
        signatureIdentity: signDer ? decodeSignatureIdentity(signDer) : null,
        tries,
        options: image.options,
      }),
    );
    return;
  }
  const lines = [
    `card ${path} ("${image.label}", ${image.lifecycle}, expires ${image.cardExpiry})`,
    `  holder     ${image.identity.name}${image.identity.nameKana ? ` (${image.identity.nameKana})` : ''}`,
    `  address    ${image.identity.address}`,
    `  born       ${image.identity.birth}, sex ${image.identity.sex}`,
    `  My Number  ${image.identity.myNumber}`,
    `  ATR        ${image.atr}`,
    ...certificateSummary('  authentication certificate', authCert),
    ...certificateSummary('  signature certificate', signCert),
    '  tries left:',
    ...kPinIds
      .filter((id) => id !== 'sign' || signDer)
      .map((id) => `    ${id.padEnd(9)} ${image.pins[id].remaining}/${image.pins[id].limit}${image.pins[id].remaining === 0 ? '  BLOCKED' : ''}`),
  ];
  ctx.io.out(lines.join('\n'));
}

function apdu(ctx: CommandContext, path: string, commands: string[], json: boolean): void {
  const parsed = commands.map((text) => {
    try {
      const bytes = fromHex(text);
      if (bytes.length < 4) throw new TypeError(`"${text}" has ${bytes.length} bytes; a command APDU has at least 4 (CLA INS P1 P2)`);
      return bytes;
    } catch (e) {
      throw new UserError(`<hex..>: ${(e as Error).message}`, 2);
    }
  });
  let card;
  try {
    card = openCardFile(path, {}, 'jpki-hil card apdu');
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  try {
    transmitAll(ctx, card, parsed, json);
  } finally {
    closeCardFile(card);
  }
}

function transmitAll(ctx: CommandContext, card: Card, parsed: Uint8Array[], json: boolean): void {
  card.powerOn();
  for (const command of parsed) {
    const raw = card.transmit(command);
    const detail = answerDetail(raw);
    const response = parseResponseApdu(raw);
    const sw = swHex(response.sw);
    if (json) {
      ctx.io.out(JSON.stringify({ command: maskCommand(command), response: toHex(response.data), sw, meaning: describeSw(response.sw), ...(detail ? { detail } : {}) }));
    } else {
      ctx.io.out(`> ${maskCommand(command)}`);
      ctx.io.out(`< ${response.data.length > 0 ? `${toHex(response.data)} ` : ''}${sw}  ${describeSw(response.sw)}${response.data.length > 0 ? ` (${response.data.length} bytes)` : ''}${detail ? ` — ${detail}` : ''}`);
    }
  }
  card.powerOff();
}

function resetPin(ctx: CommandContext, path: string, pin: PinId, newValue: string | undefined): void {
  let store: FileImageStore;
  try {
    store = new FileImageStore(path, { holder: 'jpki-hil card reset-pin' });
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  try {
    resetPinHeld(ctx, store, path, pin, newValue);
  } finally {
    store.close();
  }
}

function resetPinHeld(ctx: CommandContext, store: FileImageStore, path: string, pin: PinId, newValue: string | undefined): void {
  const state = store.image.pins[pin];
  if (pin === 'sign' && !store.image.applets.jpki.keys.sign) throw new UserError('this card has no signature certificate, so it has no signing password');
  if (newValue !== undefined) {
    const value = pin === 'sign' ? newValue.toUpperCase() : newValue;
    const problem = pinFormatProblem(pin, value);
    if (problem) throw new UserError(`--new-pin: ${problem}`, 2);
    state.value = value;
  }
  const before = state.remaining;
  state.remaining = state.limit;
  store.commit();
  ctx.io.out(`${pin} PIN of ${path}: tries ${before}/${state.limit} -> ${state.remaining}/${state.limit}${newValue !== undefined ? ', new value set' : ''}`);
}

export const registerCardCommands: CommandRegistrar = (parser: Argv, ctx: CommandContext) =>
  parser.command('card', 'Issue, inspect, serve and talk to emulated cards', (card) =>
    registerProbeCommands(registerServeCommands(card, ctx), ctx)
      .command(
        'issue',
        'Issue a card image from a card definition (default: an adult, with a test CA made if needed)',
        (y) =>
          y
            .option('out', { type: 'string', describe: 'Card image to write', defaultDescription: 'out/cards/<definition id>.json' })
            .option('ca', { type: 'string', describe: 'Test CA directory (created when missing)', defaultDescription: 'out/ca' })
            .option('definition', { type: 'string', describe: 'Card definition file, or the name of one in scenarios/cards/' })
            .option('force', { type: 'boolean', default: false, describe: 'Replace an existing card image' })
            .option('name', { type: 'string', describe: '氏名, e.g. "番号 花子"' })
            .option('name-kana', { type: 'string', describe: 'Reading in katakana' })
            .option('address', { type: 'string', describe: '住所' })
            .option('birth', { type: 'string', describe: 'Date of birth, YYYY-MM-DD' })
            .option('sex', { type: 'string', choices: ['1', '2', '9'], describe: '1 male, 2 female, 9 not applicable' })
            .option('my-number', { type: 'string', describe: '12 digits with a valid check digit (default: random)' })
            .option('auth-pin', { type: 'string', describe: 'Authentication PIN, 4 digits' })
            .option('sign-pin', { type: 'string', describe: 'Signing password, 6-16 characters A-Z 0-9' })
            .option('kenhojo-pin', { type: 'string', describe: 'Card-info PIN, 4 digits' })
            .example('$0 card issue', 'an adult card in out/cards/adult.json')
            .example('$0 card issue --definition minor --out out/cards/child.json', 'a card without a signature certificate'),
        (args) => issue(ctx, args as Record<string, unknown>),
      )
      .command(
        'show <card>',
        'Show the identity, certificates and tries left of a card image',
        (y) => y.positional('card', { type: 'string', demandOption: true, describe: 'Card image' }).option('json', { type: 'boolean', default: false }),
        (args) => show(ctx, args.card, args.json),
      )
      .command(
        'apdu <card> <hex..>',
        'Power the card on, send the APDUs in order in one session and print each response',
        (y) =>
          y
            .positional('card', { type: 'string', demandOption: true, describe: 'Card image (PIN changes are saved to it)' })
            .positional('hex', { type: 'string', array: true, demandOption: true, describe: 'Command APDUs in hex' })
            .option('json', { type: 'boolean', default: false, describe: 'One JSON object per response' })
            .example('$0 card apdu out/cards/adult.json 00A4040C0AD392F000260100000001 00A4020C020006 00B0000020', 'read the JPKI token'),
        (args) => apdu(ctx, args.card, args.hex, args.json),
      )
      .command(
        'reset-pin <card>',
        "Unblock a PIN as the municipal counter does: tries back to the limit, optionally a new value",
        (y) =>
          y
            .positional('card', { type: 'string', demandOption: true })
            .option('pin', { choices: kPinIds, demandOption: true, describe: 'Which PIN' })
            .option('new-pin', { type: 'string', describe: 'Set a new value too' }),
        (args) => resetPin(ctx, args.card, args.pin as PinId, args['new-pin']),
      )
      .demandCommand(1, 'Name a card command: issue, show, apdu, reset-pin, serve, ctl, probe or diff.'),
  );

