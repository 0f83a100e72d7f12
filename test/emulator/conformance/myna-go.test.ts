/**
 * jpki/myna, the last Go version (`_go/libmyna`; jpki-card.md §3.2, §3.3, §4.2, §4.3, §6), replayed
 * against the emulator: `ReadBinary(n)` always reads from offset 0 (Le 00 while more than 255 bytes
 * remain, else the remainder), certificates are read with `ReadBinary(7)` (exactly 7 bytes) and then
 * `ReadBinary(total)` from 0, and the token is compared after `TrimRight(" ")`.
 */
import { describe, expect, it } from 'vitest';
import {
  AID,
  Wire,
  ascii,
  berHeader,
  child,
  children,
  digestInfo,
  expectValidSignature,
  imageFile,
  issuedCards,
  kStatusQuery,
  readBinary,
  selectAp,
  selectEf,
  signApdu,
  triesSw,
  utf8,
  verifyPin,
} from './wire.js';

const cards = issuedCards({ adult: 'adult' });

/** libmyna `ReadBinary(size)`: from offset 0, Le 00 for more than 255 remaining, else the remainder. */
function goReadBinary(wire: Wire, size: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  while (offset < size) {
    const remaining = size - offset;
    const le = remaining > 255 ? 0 : remaining;
    const data = wire.ok(readBinary(offset, le));
    expect(data.length, `ReadBinary at ${offset}`).toBe(le === 0 ? 256 : le);
    parts.push(data);
    offset += data.length;
  }
  return Uint8Array.from(Buffer.concat(parts));
}

/** The certificate read of jpki_ap.go: ReadBinary(7) must give exactly 7 bytes, then ReadBinary(total). */
function readCertificate(wire: Wire, fid: string): Uint8Array {
  wire.exact(selectEf(fid), '');
  const head = goReadBinary(wire, 7);
  expect(head.length).toBe(7);
  return goReadBinary(wire, berHeader(head).total);
}

function same(a: Uint8Array, e: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(e));
}

/**
 * Go's encoding/asn1 as MYNA-GO forked it (commit f705d7a) dropped the "superfluous leading zeros in
 * length" check, so `82 00 LL` parses, but still rejects a long-form length below 0x80: a length under
 * 128 must be one byte, and a long form must not need more than the two bytes the card uses.
 */
function expectGoAcceptsLength(tlvBytes: Uint8Array): void {
  const { headerLength, valueLength } = berHeader(tlvBytes);
  const tagLength = (tlvBytes[0]! & 0x1f) === 0x1f ? 2 : 1;
  const lengthBytes = headerLength - tagLength;
  if (valueLength < 0x80) expect(lengthBytes).toBe(1);
  else expect([2, 3]).toContain(lengthBytes);
}

describe('myna (Go): token and certificates', () => {
  it('api.go: SELECT JPKI AP, SELECT 0006, ReadBinary(0x20); TrimRight(" ") gives JPKIAPICCTOKEN2 (not the Juki card JPKIAPICCTOKEN)', () => {
    const wire = new Wire(cards.adult);
    wire.exact('00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01', '');
    wire.exact('00 A4 02 0C 02 00 06', '');
    const token = wire.ok('00 B0 00 00 20');
    expect(token.length).toBe(0x20);
    const trimmed = ascii(token).replace(/ +$/, '');
    expect(trimmed).toBe('JPKIAPICCTOKEN2');
    expect(trimmed).not.toBe('JPKIAPICCTOKEN');
  });

  it('GetCert(000A): ReadBinary(7) → exactly 7 bytes, then the whole certificate again from offset 0', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    const expected = imageFile(cards.adult, 'jpki', '000A');
    expect(same(readCertificate(wire, '000A'), expected)).toBe(true);
    // The chunk reads start at 0, 256, 512, … (not at 7).
    const reads = wire.log.filter((e) => e.command.startsWith('00B0')).map((e) => e.command.slice(4, 8));
    expect(reads).toEqual(['0000', ...Array.from({ length: Math.ceil(expected.length / 256) }, (_, i) => (i * 256).toString(16).toUpperCase().padStart(4, '0'))]);
  });

  it('GetCert of the CA certificates 000B and 0002, and of 0001 after the sign password', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    for (const fid of ['000B', '0002']) expect(same(readCertificate(wire, fid), imageFile(cards.adult, 'jpki', fid)), fid).toBe(true);
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    expect(same(readCertificate(wire, '0001'), imageFile(cards.adult, 'jpki', '0001'))).toBe(true);
  });

  it('LookupPin: SELECT 0018 / 001B + 00 20 00 80 → 63C3 / 63C5 ("のこり%d回"), one less after a wrong PIN', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(kStatusQuery, '', '63C3');
    wire.exact(selectEf('001B'), '');
    wire.exact(kStatusQuery, '', '63C5');
    wire.exact(verifyPin('WRONG1'), '', '63C4');
    wire.exact(kStatusQuery, '', '63C4');
  });

  it('Sign with NewAPDUCase4(0x80,0x2A,0x00,0x80,data,0) for the auth key (0017) and the sign key (001A); both verify', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    const message = new TextEncoder().encode('myna jpki sign');
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('1234'), '');
    wire.exact(selectEf('0017'), '');
    expectValidSignature(wire.ok(signApdu(digestInfo('sha256', message))), imageFile(cards.adult, 'jpki', '000A'), 'sha256', message);
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    wire.exact(selectEf('001A'), '');
    expectValidSignature(wire.ok(signApdu(digestInfo('sha256', message))), imageFile(cards.adult, 'jpki', '0001'), 'sha256', message);
  });
});

describe('myna (Go): text AP', () => {
  it('VerifyPinA (0014, the 12-digit My Number) then ReadBinary(17) of 0001: the My Number TLV `xF 10 0C` + digits', () => {
    const wire = new Wire(cards.adult);
    const myNumber = cards.adult.image.identity.myNumber;
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0014'), '');
    wire.exact(verifyPin(myNumber), '');
    wire.exact(selectEf('0001'), '');
    const data = goReadBinary(wire, 17);
    expect(same(data, imageFile(cards.adult, 'kenhojo', '0001'))).toBe(true);
    expect(data[1]).toBe(0x10);
    expect(data[2]).toBe(0x0c);
    expect(ascii(data.subarray(3, 15))).toBe(myNumber);
  });

  it('TextAttrs: ReadBinary(7) then the whole 0002 from 0; outer private tag 32, fields 33-37, lengths Go’s forked asn1 accepts', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0011'), '');
    wire.exact(verifyPin(cards.adult.image.pins.kenhojo.value), '');
    const data = readCertificate(wire, '0002');
    expect(same(data, imageFile(cards.adult, 'kenhojo', '0002'))).toBe(true);
    expect(berHeader(data).tag).toBe(0xff20);
    expectGoAcceptsLength(data);
    const fields = children(data);
    for (const f of fields) expectGoAcceptsLength(data.subarray(f.offset, f.offset + f.size));
    expect(fields.map((f) => f.tag)).toEqual([0xdf21, 0xdf22, 0xdf23, 0xdf24, 0xdf25]);
    const identity = cards.adult.image.identity;
    expect(utf8(child(fields, 0xdf22).value)).toBe(identity.name);
    expect(utf8(child(fields, 0xdf23).value)).toBe(identity.address);
    expect(ascii(child(fields, 0xdf24).value)).toBe(identity.birth.replaceAll('-', ''));
    expect(['1', '2', '9']).toContain(ascii(child(fields, 0xdf25).value));
  });

  it('ReadBinary(336) of 0003 (256 + 80 bytes): tags 48 { 49 hash, 50 hash, 51 signature }', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0011'), '');
    wire.exact(verifyPin(cards.adult.image.pins.kenhojo.value), '');
    wire.exact(selectEf('0003'), '');
    const data = goReadBinary(wire, 336);
    expect(same(data, imageFile(cards.adult, 'kenhojo', '0003'))).toBe(true);
    const fields = children(data);
    expect(berHeader(data).tag).toBe(0xff30);
    expect(child(fields, 0xdf31).value.length).toBe(32);
    expect(child(fields, 0xdf32).value.length).toBe(32);
    expect(child(fields, 0xdf33).value.length).toBe(256);
  });

  it('TextBasicInfo: ReadBinary(256) of 0005 (one Le 00 read), private tags 64 { 65 APInfo len 4, 66 KeyID len 16 }', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0005'), '');
    const data = goReadBinary(wire, 256);
    expect(wire.log.at(-1)!.command).toBe('00B0000000');
    expect(same(data, imageFile(cards.adult, 'kenhojo', '0005'))).toBe(true);
    const fields = children(data);
    expect(berHeader(data).tag).toBe(0xff40);
    expect(child(fields, 0xdf41).value.length).toBe(4);
    expect(child(fields, 0xdf42).value.length).toBe(16);
  });

  it('the kenhojo PIN status query on 0011 answers 63Cx with the card’s limit', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0011'), '');
    wire.exact(kStatusQuery, '', triesSw(cards.adult.image.pins.kenhojo.limit));
  });
});
