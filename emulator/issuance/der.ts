/**
 * A small DER encoder and a strict DER decoder: enough ASN.1 to build X.509 certificates and
 * CRLs for the test CA and to read our own output back. Deliberately not a general BER parser:
 * the decoder rejects indefinite lengths and non-minimal length forms, so anything it accepts
 * is something OpenSSL will also accept byte for byte.
 */
import { concat, decodeAscii, decodeUtf8, toHex, utf8, type Bytes } from '../../iso7816/bytes.js';

/** Universal tags used by X.509, as their identifier octets. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  ENUMERATED: 0x0a,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const kConstructed = 0x20;
const kContextClass = 0x80;

// ---------------------------------------------------------------------------------------------
// Encoder

export function encodeDerLength(length: number): Bytes {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid DER length ${length}`);
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

/** One TLV. `identifier` is the identifier octet (tag numbers above 30 are never needed here). */
export function derTlv(identifier: number, ...content: Uint8Array[]): Bytes {
  if (!Number.isInteger(identifier) || identifier < 0 || identifier > 0xff || (identifier & 0x1f) === 0x1f) {
    throw new RangeError(`identifier 0x${identifier.toString(16)} is not a single-octet DER tag`);
  }
  const body = concat(...content);
  return concat(Uint8Array.of(identifier), encodeDerLength(body.length), body);
}

export function derBoolean(value: boolean): Bytes {
  // DER fixes TRUE as FF; BER would allow any non-zero octet.
  return derTlv(Tag.BOOLEAN, Uint8Array.of(value ? 0xff : 0x00));
}

/** Minimal two's-complement octets of a signed integer. */
function twosComplement(value: bigint): Bytes {
  const octets: number[] = [];
  let v = value;
  for (;;) {
    const low = Number(v & 0xffn);
    octets.unshift(low);
    v >>= 8n;
    // Stop once the remaining value is pure sign extension of the octet just written.
    if ((v === 0n && (low & 0x80) === 0) || (v === -1n && (low & 0x80) !== 0)) break;
  }
  return Uint8Array.from(octets);
}

/**
 * INTEGER. A bigint or number is signed; a byte string is taken as an unsigned magnitude (the
 * usual shape of serial numbers and RSA moduli), so a leading 00 is added when its top bit is set.
 */
export function derInteger(value: bigint | number | Uint8Array): Bytes {
  return derTlv(Tag.INTEGER, integerContent(value));
}

export function derEnumerated(value: number): Bytes {
  return derTlv(Tag.ENUMERATED, integerContent(value));
}

function integerContent(value: bigint | number | Uint8Array): Bytes {
  if (value instanceof Uint8Array) {
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start++;
    const magnitude = value.subarray(start);
    if (magnitude.length === 0) return Uint8Array.of(0);
    return (magnitude[0] ?? 0) & 0x80 ? concat([0], magnitude) : Uint8Array.from(magnitude);
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`INTEGER ${value} is not a safe integer; pass a bigint`);
  }
  return twosComplement(BigInt(value));
}

export function derBitString(bytes: Uint8Array, unusedBits = 0): Bytes {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`invalid unused-bit count ${unusedBits} for a ${bytes.length}-byte BIT STRING`);
  }
  const last = bytes[bytes.length - 1] ?? 0;
  if ((last & ((1 << unusedBits) - 1)) !== 0) throw new RangeError('DER requires the unused bits of a BIT STRING to be zero');
  return derTlv(Tag.BIT_STRING, Uint8Array.of(unusedBits), bytes);
}

/**
 * A named-bit BIT STRING (KeyUsage and the like). DER drops trailing zero bits, so the encoding
 * depends on the highest bit set; callers pass bit numbers and need not count.
 */
export function derNamedBits(bits: readonly number[]): Bytes {
  if (bits.length === 0) return derBitString(new Uint8Array(0));
  const highest = Math.max(...bits);
  const out = new Uint8Array((highest >> 3) + 1);
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0) throw new RangeError(`invalid bit number ${bit}`);
    out[bit >> 3] = (out[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  }
  return derBitString(out, 7 - (highest & 7));
}

export function derOctetString(bytes: Uint8Array): Bytes {
  return derTlv(Tag.OCTET_STRING, bytes);
}

export function derNull(): Bytes {
  return Uint8Array.of(Tag.NULL, 0x00);
}

export function derOid(dotted: string): Bytes {
  return derTlv(Tag.OBJECT_IDENTIFIER, oidContent(dotted));
}

function oidContent(dotted: string): Bytes {
  if (!/^\d+(?:\.\d+)+$/.test(dotted)) throw new TypeError(`not a dotted OID: "${dotted}"`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [first, second, ...rest] = arcs as [bigint, bigint, ...bigint[]];
  if (first > 2n || (first < 2n && second >= 40n)) throw new RangeError(`OID ${dotted}: invalid first two arcs`);
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  }
  return Uint8Array.from(out);
}

export function derUtf8String(text: string): Bytes {
  return derTlv(Tag.UTF8String, utf8(text));
}

const kPrintable = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function isPrintableString(text: string): boolean {
  return kPrintable.test(text);
}

export function derPrintableString(text: string): Bytes {
  if (!isPrintableString(text)) throw new TypeError(`"${text}" has characters outside PrintableString`);
  return derTlv(Tag.PrintableString, utf8(text));
}

export function derIa5String(text: string): Bytes {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(text)) throw new TypeError(`"${text}" has characters outside IA5String (ASCII)`);
  return derTlv(Tag.IA5String, utf8(text));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Sub-second precision is dropped: RFC 5280 forbids fractional seconds in certificates. */
export function derUtcTime(date: Date): Bytes {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new RangeError(`UTCTime cannot hold the year ${year}`);
  return derTlv(Tag.UTCTime, utf8(pad(year % 100, 2) + timeOfYear(date)));
}

export function derGeneralizedTime(date: Date): Bytes {
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`GeneralizedTime cannot hold the year ${year}`);
  return derTlv(Tag.GeneralizedTime, utf8(pad(year, 4) + timeOfYear(date)));
}

function timeOfYear(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  return (
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    'Z'
  );
}

/** The X.509 `Time` choice as RFC 5280 §4.1.2.5 requires: UTCTime through 2049, GeneralizedTime after. */
export function derTime(date: Date): Bytes {
  const year = date.getUTCFullYear();
  return year >= 1950 && year <= 2049 ? derUtcTime(date) : derGeneralizedTime(date);
}

export function derSequence(...children: Uint8Array[]): Bytes {
  return derTlv(Tag.SEQUENCE, ...children);
}

/** SET / SET OF. DER orders the elements by their encodings, so callers may pass them in any order. */
export function derSet(...children: Uint8Array[]): Bytes {
  const sorted = [...children].sort(compareBytes);
  return derTlv(Tag.SET, ...sorted);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function contextIdentifier(tagNumber: number, constructed: boolean): number {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) throw new RangeError(`context tag [${tagNumber}] is out of range`);
  return kContextClass | (constructed ? kConstructed : 0) | tagNumber;
}

/** `[n] EXPLICIT`: wraps complete encodings. */
export function derExplicit(tagNumber: number, ...inner: Uint8Array[]): Bytes {
  return derTlv(contextIdentifier(tagNumber, true), ...inner);
}

/**
 * `[n] IMPLICIT`: replaces the tag of one complete encoding, keeping its constructed bit (a
 * SEQUENCE stays constructed, an OCTET STRING stays primitive).
 */
export function derImplicit(tagNumber: number, encoded: Uint8Array): Bytes {
  const node = parseDer(encoded);
  return derTlv(contextIdentifier(tagNumber, node.constructed), node.value);
}

/** `[n] IMPLICIT` primitive built from raw content octets (e.g. a URI GeneralName `[6]`). */
export function derContextPrimitive(tagNumber: number, content: Uint8Array): Bytes {
  return derTlv(contextIdentifier(tagNumber, false), content);
}

// ---------------------------------------------------------------------------------------------
// Decoder

export type TagClass = 'universal' | 'application' | 'context' | 'private';

export interface DerNode {
  /** The identifier octets as one number, as the project's TLV code writes tags (0x30, 0xA0, 0x9F21, ...). */
  readonly tag: number;
  readonly tagClass: TagClass;
  readonly tagNumber: number;
  readonly constructed: boolean;
  /** Content octets. */
  readonly value: Bytes;
  /** The whole TLV, header included (what a signature covers, e.g. tbsCertificate). */
  readonly encoded: Bytes;
  /** Offset of the TLV in the buffer given to `parseDer`. */
  readonly offset: number;
  readonly headerLength: number;
  /** Parsed content of constructed nodes; empty for primitive ones. */
  readonly children: readonly DerNode[];
}

const kClasses: readonly TagClass[] = ['universal', 'application', 'context', 'private'];

/** Parses exactly one DER TLV covering all of `bytes`, recursively. */
export function parseDer(bytes: Uint8Array): DerNode {
  const node = readNode(bytes, 0, 0);
  if (node.encoded.length !== bytes.length) {
    throw new RangeError(`${bytes.length - node.encoded.length} trailing bytes after the DER value at offset ${node.encoded.length}`);
  }
  return node;
}

/** Parses consecutive TLVs (e.g. the content of an OCTET STRING that holds several). */
export function parseDerSequence(bytes: Uint8Array): DerNode[] {
  const out: DerNode[] = [];
  for (let p = 0; p < bytes.length; ) {
    const node = readNode(bytes, p, 0);
    out.push(node);
    p += node.encoded.length;
  }
  return out;
}

const kMaxDepth = 64;

function readNode(bytes: Uint8Array, offset: number, depth: number): DerNode {
  if (depth > kMaxDepth) throw new RangeError(`DER nested deeper than ${kMaxDepth} levels at offset ${offset}`);
  let p = offset;
  const first = bytes[p++];
  if (first === undefined) throw new RangeError(`no DER value at offset ${offset}`);
  let tag = first;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (let i = 0; ; i++) {
      const b = bytes[p++];
      if (b === undefined) throw new RangeError(`truncated tag at offset ${offset}`);
      if (i === 0 && b === 0x80) throw new RangeError(`non-minimal tag at offset ${offset}`);
      if (i >= 3) throw new RangeError(`tag too long at offset ${offset}`);
      tag = tag * 256 + b;
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    if (tagNumber < 0x1f) throw new RangeError(`non-minimal high tag number ${tagNumber} at offset ${offset}`);
  }
  const lengthByte = bytes[p++];
  if (lengthByte === undefined) throw new RangeError(`truncated length at offset ${p - 1}`);
  let length = lengthByte;
  if (lengthByte === 0x80) throw new RangeError(`indefinite length (BER, not DER) at offset ${p - 1}`);
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    if (count > 4) throw new RangeError(`length of ${count} octets at offset ${p - 1} is too large`);
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = bytes[p++];
      if (b === undefined) throw new RangeError(`truncated length at offset ${p - 1}`);
      if (i === 0 && b === 0) throw new RangeError(`non-minimal length at offset ${p - 1}`);
      length = length * 256 + b;
    }
    if (length < 0x80) throw new RangeError(`long-form length ${length} at offset ${offset} should be short form`);
  }
  const headerLength = p - offset;
  if (p + length > bytes.length) {
    throw new RangeError(`DER value at offset ${offset} claims ${length} bytes but only ${bytes.length - p} remain`);
  }
  const value = bytes.subarray(p, p + length);
  const constructed = (first & kConstructed) !== 0;
  const children: DerNode[] = [];
  if (constructed) {
    for (let q = 0; q < length; ) {
      const child = readNode(value, q, depth + 1);
      children.push(shift(child, p));
      q += child.encoded.length;
    }
  }
  return {
    tag,
    tagClass: kClasses[first >> 6] ?? 'universal',
    tagNumber,
    constructed,
    value,
    encoded: bytes.subarray(offset, p + length),
    offset,
    headerLength,
    children,
  };
}

/** Child offsets are reported relative to the outermost buffer, which is what a dump wants. */
function shift(node: DerNode, by: number): DerNode {
  return { ...node, offset: node.offset + by, children: node.children.map((c) => shift(c, by)) };
}

function expectTag(node: DerNode, tag: number, what: string): void {
  if (node.tag !== tag) throw new TypeError(`expected ${what} (tag 0x${tag.toString(16)}), found tag 0x${node.tag.toString(16)} at offset ${node.offset}`);
}

/** The i-th child, or an error that says where the structure was short. */
export function childAt(node: DerNode, index: number, what = `element ${index}`): DerNode {
  const child = node.children[index];
  if (child === undefined) throw new RangeError(`${what} is missing from the value at offset ${node.offset}`);
  return child;
}

export function decodeBoolean(node: DerNode): boolean {
  expectTag(node, Tag.BOOLEAN, 'BOOLEAN');
  if (node.value.length !== 1 || (node.value[0] !== 0 && node.value[0] !== 0xff)) throw new TypeError(`invalid DER BOOLEAN at offset ${node.offset}`);
  return node.value[0] === 0xff;
}

/** INTEGER or ENUMERATED content as a signed bigint. */
export function decodeInteger(node: DerNode): bigint {
  if (node.tag !== Tag.INTEGER && node.tag !== Tag.ENUMERATED) expectTag(node, Tag.INTEGER, 'INTEGER');
  const v = node.value;
  if (v.length === 0) throw new TypeError(`empty INTEGER at offset ${node.offset}`);
  if (v.length > 1 && ((v[0] === 0 && ((v[1] ?? 0) & 0x80) === 0) || (v[0] === 0xff && ((v[1] ?? 0) & 0x80) !== 0))) {
    throw new TypeError(`non-minimal INTEGER at offset ${node.offset}`);
  }
  let out = BigInt.asIntN(8, BigInt(v[0] ?? 0));
  for (let i = 1; i < v.length; i++) out = (out << 8n) | BigInt(v[i] ?? 0);
  return out;
}

export function decodeOid(node: DerNode): string {
  expectTag(node, Tag.OBJECT_IDENTIFIER, 'OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let current = 0n;
  let fresh = true;
  for (const b of node.value) {
    if (fresh && b === 0x80) throw new TypeError(`non-minimal OID arc at offset ${node.offset}`);
    current = (current << 7n) | BigInt(b & 0x7f);
    fresh = (b & 0x80) === 0;
    if (fresh) {
      arcs.push(current);
      current = 0n;
    }
  }
  if (!fresh || arcs.length === 0) throw new TypeError(`truncated OID at offset ${node.offset}`);
  const [head, ...rest] = arcs as [bigint, ...bigint[]];
  const first = head < 40n ? 0n : head < 80n ? 1n : 2n;
  return [first, head - first * 40n, ...rest].join('.');
}

/** BIT STRING content without the unused-bits octet. */
export function decodeBitString(node: DerNode): { bytes: Bytes; unusedBits: number } {
  expectTag(node, Tag.BIT_STRING, 'BIT STRING');
  const unusedBits = node.value[0];
  if (unusedBits === undefined || unusedBits > 7) throw new TypeError(`invalid BIT STRING at offset ${node.offset}`);
  return { bytes: node.value.subarray(1), unusedBits };
}

/** The bit numbers set in a named-bit BIT STRING (inverse of `derNamedBits`). */
export function decodeNamedBits(node: DerNode): number[] {
  const { bytes, unusedBits } = decodeBitString(node);
  const out: number[] = [];
  const total = bytes.length * 8 - unusedBits;
  for (let bit = 0; bit < total; bit++) if (((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0) out.push(bit);
  return out;
}

export function decodeOctetString(node: DerNode): Bytes {
  expectTag(node, Tag.OCTET_STRING, 'OCTET STRING');
  return node.value;
}

/** Any of the string types X.509 uses here; UTF8String is decoded as UTF-8, the others as ASCII. */
export function decodeString(node: DerNode): string {
  switch (node.tag) {
    case Tag.UTF8String:
      return decodeUtf8(node.value);
    case Tag.PrintableString:
    case Tag.IA5String:
    case 0x14: // TeletexString: treated as Latin-1, as OpenSSL does
      return decodeAscii(node.value);
    default:
      throw new TypeError(`expected a string, found tag 0x${node.tag.toString(16)} at offset ${node.offset}`);
  }
}

export function decodeTime(node: DerNode): Date {
  const text = decodeAscii(node.value);
  let match: RegExpExecArray | null;
  let year: number;
  if (node.tag === Tag.UTCTime) {
    match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!match) throw new TypeError(`invalid UTCTime "${text}" at offset ${node.offset}`);
    const yy = Number(match[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (node.tag === Tag.GeneralizedTime) {
    match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!match) throw new TypeError(`invalid GeneralizedTime "${text}" at offset ${node.offset}`);
    year = Number(match[1]);
  } else {
    throw new TypeError(`expected UTCTime or GeneralizedTime, found tag 0x${node.tag.toString(16)} at offset ${node.offset}`);
  }
  const [, , mo, d, h, mi, s] = match.map(Number) as number[];
  const date = new Date(Date.UTC(year, (mo ?? 1) - 1, d, h, mi, s));
  date.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  return date;
}

// ---------------------------------------------------------------------------------------------
// Dump

const kUniversalNames: Readonly<Record<number, string>> = {
  0x01: 'BOOLEAN',
  0x02: 'INTEGER',
  0x03: 'BIT STRING',
  0x04: 'OCTET STRING',
  0x05: 'NULL',
  0x06: 'OBJECT IDENTIFIER',
  0x0a: 'ENUMERATED',
  0x0c: 'UTF8String',
  0x13: 'PrintableString',
  0x14: 'TeletexString',
  0x16: 'IA5String',
  0x17: 'UTCTime',
  0x18: 'GeneralizedTime',
  0x30: 'SEQUENCE',
  0x31: 'SET',
};

/** A readable, indented one-line-per-node rendering, in the spirit of `openssl asn1parse`. */
export function dumpDer(node: DerNode, indent = 0): string {
  const name = node.tagClass === 'universal' ? (kUniversalNames[node.tag] ?? `[UNIVERSAL ${node.tagNumber}]`) : `[${node.tagClass === 'context' ? '' : node.tagClass.toUpperCase() + ' '}${node.tagNumber}]`;
  let detail = '';
  try {
    switch (node.tag) {
      case Tag.OBJECT_IDENTIFIER:
        detail = decodeOid(node);
        break;
      case Tag.INTEGER:
      case Tag.ENUMERATED:
        detail = node.value.length > 16 ? `${node.value.length} bytes` : decodeInteger(node).toString();
        break;
      case Tag.BOOLEAN:
        detail = String(decodeBoolean(node));
        break;
      case Tag.UTF8String:
      case Tag.PrintableString:
      case Tag.IA5String:
        detail = JSON.stringify(decodeString(node));
        break;
      case Tag.UTCTime:
      case Tag.GeneralizedTime:
        detail = decodeTime(node).toISOString();
        break;
      default:
        if (!node.constructed && node.value.length > 0) detail = node.value.length > 32 ? `${node.value.length} bytes` : toHex(node.value);
    }
  } catch {
    detail = '(malformed)';
  }
  const line = `${' '.repeat(indent)}${name}${detail ? ' ' + detail : ''}`;
  return [line, ...node.children.map((c) => dumpDer(c, indent + 2))].join('\n');
}
