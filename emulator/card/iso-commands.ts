/**
 * The ISO/IEC 7816-4 commands every application of this card shares: SELECT EF, READ BINARY,
 * READ RECORD, VERIFY, CHANGE REFERENCE DATA and (as an option) GET CHALLENGE. Applets spread
 * this table and add their own.
 * SELECT by DF name is the runtime's (it changes the application, not a file).
 */
import { randomBytes } from 'node:crypto';
import type { CommandApdu } from '../../iso7816/apdu.js';
import { concat, u16, type Bytes } from '../../iso7816/bytes.js';
import { INS } from '../../iso7816/instructions.js';
import { CardError, SW } from '../../iso7816/status-words.js';
import { tlv } from '../../iso7816/tlv.js';
import type { CardContext, InstructionEntry } from './applet.js';
import { shortFid, type AccessRule, type ElementaryFile, type PinFile } from './file-system.js';
import { changePin, pinStatus, verifyPin } from './pin-verification.js';


const kEmpty = new Uint8Array(0);

export function isAllowed(ctx: CardContext, rule: AccessRule): boolean {
  return rule.kind === 'always' || rule.anyOf.some((pin) => ctx.verified.has(pin));
}

function requireNe(cmd: CommandApdu): number {
  if (cmd.ne === undefined || cmd.data.length > 0) throw new CardError(SW.WRONG_LENGTH, 'expected a case-2 command (Le, no data)');
  return cmd.ne;
}

function filesOf(ctx: CardContext): ReadonlyMap<number, ElementaryFile> {
  return ctx.applet?.files ?? new Map();
}

function findBySfi(ctx: CardContext, sfi: number): ElementaryFile | undefined {
  for (const file of filesOf(ctx).values()) if (shortFid(file.fid) === sfi) return file;
  return undefined;
}

/** The FCP template answered to SELECT EF with P2 = 00 or 04 when Le is present. */
function fileControlParameters(file: ElementaryFile): Bytes {
  const size = file.kind === 'binary' ? file.content.length : 0;
  const descriptor = file.kind === 'binary' ? 0x01 : file.kind === 'record' ? 0x02 : 0x11;
  return tlv(0x62, tlv(0x80, u16(size)), tlv(0x82, Uint8Array.of(descriptor)), tlv(0x83, u16(file.fid)));
}

/** SELECT with P1 = 02: an EF under the current DF, by its two-byte FID. */
function selectElementaryFile(cmd: CommandApdu, ctx: CardContext): Bytes {
  if (cmd.p2 !== 0x0c && cmd.p2 !== 0x00 && cmd.p2 !== 0x04) throw new CardError(SW.INCORRECT_P1P2);
  if (cmd.data.length !== 2) throw new CardError(SW.WRONG_LENGTH, 'SELECT EF takes a 2-byte file identifier');
  const fid = (cmd.data[0]! << 8) | cmd.data[1]!;
  const file = filesOf(ctx).get(fid);
  if (!file) throw new CardError(SW.FILE_NOT_FOUND);
  ctx.currentEf = file;
  return cmd.p2 !== 0x0c && cmd.ne !== undefined ? fileControlParameters(file) : kEmpty;
}

function select(cmd: CommandApdu, ctx: CardContext): Bytes {
  // P1 = 04 (by DF name) never reaches here: the runtime handles it.
  if (cmd.p1 === 0x02) return selectElementaryFile(cmd, ctx);
  throw new CardError(SW.INCORRECT_P1P2, `SELECT with P1 ${cmd.p1.toString(16)} is not supported by this card`);
}

function readBinary(cmd: CommandApdu, ctx: CardContext): Bytes {
  let file: ElementaryFile | undefined;
  let offset: number;
  if (cmd.p1 & 0x80) {
    // P1 = 100 SFI: read the EF with that short identifier, which becomes current; P2 is the offset.
    if (cmd.p1 & 0x60) throw new CardError(SW.INCORRECT_P1P2);
    const sfi = cmd.p1 & 0x1f;
    file = findBySfi(ctx, sfi);
    if (!file) throw new CardError(SW.FILE_NOT_FOUND);
    offset = cmd.p2;
  } else {
    file = ctx.currentEf;
    if (!file) throw new CardError(SW.NO_CURRENT_EF, 'select an EF first');
    offset = (cmd.p1 << 8) | cmd.p2;
  }
  const ne = requireNe(cmd);
  if (file.kind !== 'binary') throw new CardError(SW.COMMAND_INCOMPATIBLE_WITH_FILE);
  if (!isAllowed(ctx, file.read)) throw new CardError(SW.SECURITY_STATUS_NOT_SATISFIED);
  ctx.currentEf = file;
  if (offset >= file.content.length) {
    if (ctx.options.readPastEnd === '9000') return kEmpty;
    throw new CardError(SW.WRONG_P1P2_OFFSET, `offset ${offset} is at or past the end of the ${file.content.length}-byte EF`);
  }
  // Fewer bytes than Le remain: answer what there is with 9000 (never 6282 or 6Cxx).
  return file.content.slice(offset, Math.min(file.content.length, offset + ne));
}

function readRecord(cmd: CommandApdu, ctx: CardContext): Bytes {
  if ((cmd.p2 & 0x07) !== 0x04 || cmd.p1 === 0x00) throw new CardError(SW.INCORRECT_P1P2, 'only "read record P1" (P2 = SFI<<3 | 4) is supported');
  const sfi = cmd.p2 >> 3;
  if (sfi === 0x1f) throw new CardError(SW.INCORRECT_P1P2);
  const file = sfi === 0 ? ctx.currentEf : findBySfi(ctx, sfi);
  if (!file) throw new CardError(sfi === 0 ? SW.NO_CURRENT_EF : SW.FILE_NOT_FOUND);
  requireNe(cmd);
  if (file.kind !== 'record') throw new CardError(SW.COMMAND_INCOMPATIBLE_WITH_FILE);
  if (!isAllowed(ctx, file.read)) throw new CardError(SW.SECURITY_STATUS_NOT_SATISFIED);
  ctx.currentEf = file;
  const record = file.records[cmd.p1 - 1];
  if (!record) throw new CardError(SW.RECORD_NOT_FOUND);
  // The whole record: the runtime fits it to Ne as the `shortLe` option says.
  return record;
}

/** P2 = 80: the PIN EF that is current; P2 = 80|n: the PIN EF with short FID n (JSAPDU's form). */
function pinReference(cmd: CommandApdu, ctx: CardContext): PinFile {
  if (cmd.p2 === 0x80) {
    const file = ctx.currentEf;
    if (!file || file.kind !== 'pin') throw new CardError(SW.NO_CURRENT_EF, 'select a PIN EF first, or give its reference in P2');
    return file;
  }
  if ((cmd.p2 & 0xe0) !== 0x80 || cmd.p2 === 0x9f) throw new CardError(SW.INCORRECT_P1P2);
  const file = findBySfi(ctx, cmd.p2 & 0x1f);
  if (!file || file.kind !== 'pin') throw new CardError(SW.REFERENCE_DATA_NOT_FOUND);
  return file;
}

function verify(cmd: CommandApdu, ctx: CardContext): Bytes {
  if (cmd.p1 !== 0x00) throw new CardError(SW.INCORRECT_P1P2);
  const file = pinReference(cmd, ctx);
  if (cmd.ne !== undefined) throw new CardError(SW.WRONG_LENGTH, 'VERIFY has no Le');
  if (cmd.data.length === 0) {
    pinStatus(ctx, file.pin);
    return kEmpty;
  }
  verifyPin(ctx, file.pin, cmd.data);
  return kEmpty;
}

function changeReferenceData(cmd: CommandApdu, ctx: CardContext): Bytes {
  if (cmd.p1 !== 0x01) throw new CardError(SW.INCORRECT_P1P2, 'only P1 = 01 (new value after VERIFY) is supported');
  const file = pinReference(cmd, ctx);
  if (cmd.ne !== undefined || cmd.data.length === 0) throw new CardError(SW.WRONG_LENGTH, 'CHANGE REFERENCE DATA is case 3');
  changePin(ctx, file.pin, cmd.data);
  return kEmpty;
}

/**
 * GET CHALLENGE `00 84 00 00 Le`: Ne random bytes, Ne from 1 to 256 (short Le 00 is 256);
 * an extended Le above 256 or no Le at all answers 6700.
 */
function getChallenge(cmd: CommandApdu): Bytes {
  if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) throw new CardError(SW.INCORRECT_P1P2);
  const ne = requireNe(cmd);
  if (ne > 256) throw new CardError(SW.WRONG_LENGTH, `a challenge has at most 256 bytes, Le asks for ${ne}`);
  return Uint8Array.from(randomBytes(ne));
}

const iso = (handle: InstructionEntry['handle']): InstructionEntry => ({ cla: [0x00], handle });

/** The shared table; applets build theirs with `new Map([...kIsoInstructions, [INS.X, ...]])`. */
export const kIsoInstructions: ReadonlyMap<number, InstructionEntry> = new Map([
  [INS.SELECT, iso(select)],
  [INS.READ_BINARY, iso(readBinary)],
  [INS.READ_RECORD, iso(readRecord)],
  [INS.VERIFY, iso(verify)],
  [INS.CHANGE_REFERENCE_DATA, iso(changeReferenceData)],
  [INS.GET_CHALLENGE, { ...iso(getChallenge), enabled: (options) => options.getChallenge === 'supported' }],
]);

/** The FCI answered to SELECT by DF name with P2 = 00 and Le present: `6F { 84 AID }`. */
export function fileControlInformation(aid: Uint8Array, template: 0x6f | 0x62): Bytes {
  return concat(tlv(template, tlv(0x84, aid)));
}
