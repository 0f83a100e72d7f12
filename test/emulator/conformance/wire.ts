/**
 * Shared plumbing for the client conformance tests: a wire that sends hex C-APDUs to a powered
 * emulated card and holds every answer to the rules all clients share (jpki-card.md §9: never 61xx
 * or 6Cxx, data only with 9000), the AIDs and command shapes of §2-§5, and the host-side checks a
 * client makes (DigestInfo, RSA verification, BER headers). Parsers here are written from the
 * reference, independently of the emulator's own TLV code, so that a bug there cannot hide itself.
 */
import { X509Certificate, constants, createHash, publicDecrypt, verify, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, expect } from 'vitest';
import type { CardDefinition } from '../../../emulator/index.js';
import { issueFixture, powered, tempDir, type IssuedFixture } from '../../support/cards.js';

// ---------------------------------------------------------------------------------------------
// Hex and bytes

/** "00 A4 04 0C" → "00A4040C". */
export function h(text: string): string {
  const compact = text.replace(/[\s:]/g, '').toUpperCase();
  if (!/^(?:[0-9A-F]{2})*$/.test(compact)) throw new TypeError(`not hex: ${text}`);
  return compact;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

export function bytes(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h(text), 'hex'));
}

/** One byte as two hex digits (throws outside 0..255). */
export function b(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`${value} is not a byte`);
  return value.toString(16).toUpperCase().padStart(2, '0');
}

export function asciiHex(text: string): string {
  return hex(Uint8Array.from(Buffer.from(text, 'latin1')));
}

export function ascii(data: Uint8Array): string {
  return Buffer.from(data).toString('latin1');
}

export function utf8(data: Uint8Array): string {
  return Buffer.from(data).toString('utf8');
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

export function sha(alg: 'sha1' | 'sha256' | 'sha384' | 'sha512', data: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash(alg).update(data).digest());
}

// ---------------------------------------------------------------------------------------------
// AIDs and command shapes (jpki-card.md §2.1, §2.2, §4.2, §5.2)

export const AID = {
  jpki: 'D392F000260100000001',
  kenhojo: 'D3921000310001010408',
  kenkaku: 'D3921000310001010402',
  juki: 'D3921000310001010100',
} as const;

/** SELECT by DF name with P2 = 0C, no Le: what every client sends (§2.2). */
export function selectAp(aid: string): string {
  return h(`00 A4 04 0C 0A ${aid}`);
}

/** SELECT EF by FID under the current DF: `00 A4 02 0C 02 hi lo` (§2.2). */
export function selectEf(fid: string): string {
  return h(`00 A4 02 0C 02 ${fid}`);
}

/** VERIFY `00 20 00 P2 Lc <ASCII PIN>`; P2 80 = the current PIN EF (§4.2). */
export function verifyPin(pin: string, p2 = 0x80): string {
  return `002000${b(p2)}${b(pin.length)}${asciiHex(pin)}`;
}

/** The empty VERIFY (remaining-tries query), case 1: `00 20 00 80` (§4.2, §9). */
export const kStatusQuery = '00200080';

/** CHANGE REFERENCE DATA after VERIFY: `00 24 01 80 Lc <new PIN>` (§4.2). */
export function changePin(pin: string): string {
  return `00240180${b(pin.length)}${asciiHex(pin)}`;
}

/** READ BINARY with a short Le byte as the client writes it (00 = 256). */
export function readBinary(offset: number, leByte: number): string {
  return `00B0${b(offset >> 8)}${b(offset & 0xff)}${b(leByte)}`;
}

/** COMPUTE DIGITAL SIGNATURE `80 2A 00 80 Lc <data> 00` (§5.2). */
export function signApdu(data: Uint8Array): string {
  return `802A0080${b(data.length)}${hex(data)}00`;
}

/** `63Cx` for x tries left, as the card answers a status query. */
export function triesSw(remaining: number): string {
  return `63C${remaining.toString(16).toUpperCase()}`;
}

// ---------------------------------------------------------------------------------------------
// DigestInfo (§5.3) and signature checks

export type HashAlg = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** The DER DigestInfo prefixes of HPKI's DIGEST_INFO_1/256/384/512 and JRS's SHA-1 one (§5.3). */
export const kDigestInfoPrefix: Record<HashAlg, string> = {
  sha1: '3021300906052B0E03021A05000414',
  sha256: '3031300D060960864801650304020105000420',
  sha384: '3041300D060960864801650304020205000430',
  sha512: '3051300D060960864801650304020305000440',
};

export function digestInfo(alg: HashAlg, message: Uint8Array): Uint8Array {
  return concatBytes([bytes(kDigestInfoPrefix[alg]), sha(alg, message)]);
}

export function certificateKey(der: Uint8Array): KeyObject {
  return new X509Certificate(der).publicKey;
}

/**
 * What a client does with the 256 bytes the card returns: the RSA public operation gives back
 * exactly the DigestInfo that was sent under PKCS#1 v1.5 type-1 padding (MYNA `pkey_verify`), and
 * a standard RSASSA-PKCS1-v1_5 verifier accepts the signature over the message.
 */
export function expectValidSignature(signature: Uint8Array, certificateDer: Uint8Array, alg: HashAlg, message: Uint8Array): void {
  expect(signature.length).toBe(256);
  const key = certificateKey(certificateDer);
  const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
  expect(hex(recovered)).toBe(hex(digestInfo(alg, message)));
  expect(verify(alg, message, key, signature)).toBe(true);
}

// ---------------------------------------------------------------------------------------------
// BER: the header parse every certificate reader does (§3.3) and a plain TLV walk (§6.2)

export interface BerHeader {
  tag: number;
  headerLength: number;
  valueLength: number;
  /** headerLength + valueLength: the number of bytes a client reads. */
  total: number;
}

/** Tag of one or two bytes (`x & 1F == 1F` → two), length short or long form (MYNA `ber.rs`, JRS `der.rs`). */
export function berHeader(data: Uint8Array): BerHeader {
  let p = 0;
  const first = data[p++]!;
  let tag = first;
  if ((first & 0x1f) === 0x1f) tag = (first << 8) | data[p++]!;
  const l = data[p++];
  if (l === undefined) throw new RangeError('truncated BER header');
  let valueLength = l;
  if (l & 0x80) {
    valueLength = 0;
    for (let i = 0; i < (l & 0x7f); i++) {
      const next = data[p++];
      if (next === undefined) throw new RangeError('truncated BER length');
      valueLength = valueLength * 256 + next;
    }
  }
  return { tag, headerLength: p, valueLength, total: p + valueLength };
}

export interface Tlv {
  tag: number;
  /** Offset of the TLV (tag byte) in the buffer that was walked. */
  offset: number;
  value: Uint8Array;
  size: number;
}

/** Consecutive TLVs of `data` from `start` to `end` (no padding handling: the caller bounds it). */
export function tlvs(data: Uint8Array, start = 0, end = data.length): Tlv[] {
  const out: Tlv[] = [];
  let p = start;
  while (p < end) {
    const header = berHeader(data.subarray(p));
    const value = data.subarray(p + header.headerLength, p + header.total);
    if (p + header.total > end) throw new RangeError(`TLV at ${p} runs past ${end}`);
    out.push({ tag: header.tag, offset: p, value, size: header.total });
    p += header.total;
  }
  return out;
}

export function child(list: readonly Tlv[], tag: number): Tlv {
  const found = list.find((t) => t.tag === tag);
  if (!found) throw new Error(`no TLV with tag ${tag.toString(16).toUpperCase()} among ${list.map((t) => t.tag.toString(16)).join(', ')}`);
  return found;
}

/** The content TLVs of one constructed TLV at the start of `data`. */
export function children(data: Uint8Array): Tlv[] {
  const outer = berHeader(data);
  return tlvs(data, outer.headerLength, outer.total);
}

// ---------------------------------------------------------------------------------------------
// The wire

export interface Reply {
  data: Uint8Array;
  /** Response data as upper-case hex ("" when none). */
  hex: string;
  sw: string;
}

export interface Exchange {
  command: string;
  response: string;
  sw: string;
}

export type PoweredCard = ReturnType<typeof powered>;

/**
 * A powered card with a client's view of it. Every exchange is checked against the quirk every
 * client relies on (§9, §3.4): no 61xx and no 6Cxx, so the data always comes in the first R-APDU;
 * and an error SW carries no data.
 */
export class Wire {
  readonly card: PoweredCard;
  readonly log: Exchange[] = [];

  constructor(fixture: IssuedFixture) {
    this.card = powered(fixture.image);
  }

  send(command: string): Reply {
    const c = h(command);
    const r = this.card.send(c);
    this.log.push({ command: c, response: r.data, sw: r.sw });
    const sw1 = r.sw.slice(0, 2);
    expect(sw1 === '61' || sw1 === '6C', `${c} answered ${r.sw}: clients never issue GET RESPONSE or resend with a new Le`).toBe(false);
    if (r.sw !== '9000') expect(r.data, `${c} answered ${r.sw} with data`).toBe('');
    return { data: Uint8Array.from(Buffer.from(r.data, 'hex')), hex: r.data, sw: r.sw };
  }

  /** Sends and asserts the SW; returns the data. */
  expectSw(command: string, sw: string): Uint8Array {
    const r = this.send(command);
    expect(r.sw, `SW of ${h(command)}`).toBe(h(sw));
    return r.data;
  }

  /** Sends and asserts 9000; returns the data. */
  ok(command: string): Uint8Array {
    return this.expectSw(command, '9000');
  }

  /** Sends and asserts 9000 with exactly `data` (hex; "" for none). */
  exact(command: string, data: string, sw = '9000'): void {
    const r = this.send(command);
    expect(r.sw, `SW of ${h(command)}`).toBe(h(sw));
    expect(r.hex, `data of ${h(command)}`).toBe(h(data));
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures: cards issued once per test file

export interface CardSpec {
  definition: string;
  change?: (d: CardDefinition) => CardDefinition;
}

/**
 * Issues the named cards once in `beforeAll` (RSA key generation is slow) in one temporary
 * directory, which `afterAll` removes. The returned object is filled when the hooks have run.
 */
export function issuedCards<K extends string>(specs: Record<K, CardSpec | string>): Record<K, IssuedFixture> {
  const cards = {} as Record<K, IssuedFixture>;
  let dir: ReturnType<typeof tempDir> | undefined;
  beforeAll(async () => {
    dir = tempDir('jpki-conformance-');
    for (const [key, spec] of Object.entries(specs) as [K, CardSpec | string][]) {
      const s = typeof spec === 'string' ? { definition: spec } : spec;
      cards[key] = await issueFixture(dir.path, s.definition, s.change);
    }
  });
  afterAll(() => dir?.remove());
  return cards;
}

/** An EF of the card image as bytes. */
export function imageFile(fixture: IssuedFixture, applet: 'jpki' | 'kenhojo' | 'kenkaku', fid: string): Uint8Array {
  const content = fixture.image.applets[applet].files[fid];
  if (content === undefined) throw new Error(`the image has no ${applet} EF ${fid}`);
  return Uint8Array.from(Buffer.from(content, 'base64'));
}
