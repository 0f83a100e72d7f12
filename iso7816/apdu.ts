/**
 * ISO/IEC 7816-3/-4 command APDU codec: cases 1 to 4, short and extended.
 * Short Le 00 means 256; extended Le 00 00 (or 00 00 00 in case 2E) means 65536.
 */
import { CardError, SW } from './status-words.js';
import { concat, type Bytes } from './bytes.js';

export type ApduCase = 1 | 2 | 3 | 4;

export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  /** The command data field (empty in cases 1 and 2). */
  readonly data: Bytes;
  /** Ne, the maximum response length asked for; undefined when Le is absent (cases 1 and 3). */
  readonly ne: number | undefined;
  readonly extended: boolean;
  readonly case: ApduCase;
}

function command(bytes: Uint8Array, data: Bytes, ne: number | undefined, extended: boolean, kind: ApduCase): CommandApdu {
  // One object literal with every field in the same order: every parsed APDU has the same shape.
  return { cla: bytes[0]!, ins: bytes[1]!, p1: bytes[2]!, p2: bytes[3]!, data, ne, extended, case: kind };
}

/** Parses a C-APDU; a malformed length throws CardError(6700) as a card would answer. */
export function parseCommandApdu(bytes: Uint8Array): CommandApdu {
  const n = bytes.length;
  if (n < 4) throw new CardError(SW.WRONG_LENGTH, `a command APDU has at least 4 bytes, got ${n}`);
  if (n === 4) return command(bytes, new Uint8Array(0), undefined, false, 1);
  const b4 = bytes[4]!;
  if (n === 5) return command(bytes, new Uint8Array(0), b4 === 0 ? 256 : b4, false, 2);
  if (b4 !== 0) {
    const lc = b4;
    if (n === 5 + lc) return command(bytes, bytes.slice(5, 5 + lc), undefined, false, 3);
    if (n === 6 + lc) {
      const le = bytes[5 + lc]!;
      return command(bytes, bytes.slice(5, 5 + lc), le === 0 ? 256 : le, false, 4);
    }
    throw new CardError(SW.WRONG_LENGTH, `short Lc ${lc} does not match the ${n - 5} bytes that follow`);
  }
  // b4 = 00 and more than 5 bytes: extended length.
  if (n < 7) throw new CardError(SW.WRONG_LENGTH, 'extended length needs 3 length bytes');
  const l = (bytes[5]! << 8) | bytes[6]!;
  if (n === 7) return command(bytes, new Uint8Array(0), l === 0 ? 65536 : l, true, 2);
  if (l === 0) throw new CardError(SW.WRONG_LENGTH, 'extended Lc of 0');
  if (n === 7 + l) return command(bytes, bytes.slice(7, 7 + l), undefined, true, 3);
  if (n === 9 + l) {
    const le = (bytes[7 + l]! << 8) | bytes[8 + l]!;
    return command(bytes, bytes.slice(7, 7 + l), le === 0 ? 65536 : le, true, 4);
  }
  throw new CardError(SW.WRONG_LENGTH, `extended Lc ${l} does not match the ${n - 7} bytes that follow`);
}

export interface CommandSpec {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array | undefined;
  /** Expected response length: 1..256 short (256 encodes 00), up to 65536 extended. */
  ne?: number | undefined;
  /** Force the extended form even when short would do. */
  extended?: boolean | undefined;
}

/** Encodes a C-APDU, choosing the short form when everything fits. Host-side clients use it. */
export function encodeCommandApdu(spec: CommandSpec): Bytes {
  const data = spec.data ?? new Uint8Array(0);
  const ne = spec.ne;
  if (data.length > 65535) throw new RangeError(`command data of ${data.length} bytes exceeds 65535`);
  if (ne !== undefined && (ne < 1 || ne > 65536)) throw new RangeError(`Ne ${ne} is outside 1..65536`);
  const extended = spec.extended === true || data.length > 255 || (ne !== undefined && ne > 256);
  const header = Uint8Array.of(spec.cla, spec.ins, spec.p1, spec.p2);
  if (!extended) {
    const lc = data.length > 0 ? Uint8Array.of(data.length) : new Uint8Array(0);
    const le = ne !== undefined ? Uint8Array.of(ne === 256 ? 0 : ne) : new Uint8Array(0);
    return concat(header, lc, data, le);
  }
  const lc = data.length > 0 ? Uint8Array.of(0, data.length >> 8, data.length & 0xff) : new Uint8Array(0);
  let le = new Uint8Array(0);
  if (ne !== undefined) {
    const v = ne === 65536 ? 0 : ne;
    le = data.length > 0 ? Uint8Array.of(v >> 8, v & 0xff) : Uint8Array.of(0, v >> 8, v & 0xff);
  }
  return concat(header, lc, data, le);
}

export interface ResponseApdu {
  readonly data: Bytes;
  readonly sw: number;
}

export function encodeResponseApdu(data: Uint8Array, sw: number): Bytes {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

export function parseResponseApdu(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new RangeError(`a response APDU has at least 2 bytes (SW1 SW2), got ${bytes.length}`);
  return { data: bytes.slice(0, -2), sw: (bytes[bytes.length - 2]! << 8) | bytes[bytes.length - 1]! };
}
