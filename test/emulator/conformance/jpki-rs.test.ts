/**
 * siketyan/jpki-rs (jpki-card.md §1.3, §3.3, §4.1, §4.2, §5.3), replayed against the emulator:
 * `read_der_size()` (7 bytes), then `read(Some(size))` from offset 0 with Le = 0 while more than
 * 0xFF bytes remain, else `total_len & 0xFF`, stopping when fewer than Le bytes come back; the CLI's
 * SHA-1 DigestInfo signatures with the auth and sign keys; `pin_status` (9000 → 0, 63Cx → x); the
 * support (kenhojo) and surface (kenkaku) APs. apdu-rs turns 61xx into an error and the PC/SC
 * receive buffer is short-APDU sized, so every answer must be complete and at most 256 + 2 bytes.
 */
import { describe, expect, it } from 'vitest';
import {
  AID,
  Wire,
  ascii,
  berHeader,
  digestInfo,
  expectValidSignature,
  hex,
  imageFile,
  issuedCards,
  kStatusQuery,
  readBinary,
  selectAp,
  selectEf,
  signApdu,
  verifyPin,
} from './wire.js';

const cards = issuedCards({ adult: 'adult' });

/** JRS `read_der_size()`: 7 bytes from 0, tag of 1 or 2 bytes, short or long length. */
function readDerSize(wire: Wire): number {
  const head = wire.ok(readBinary(0, 7));
  expect(head.length).toBe(7);
  return berHeader(head).total;
}

/** JRS `read(Some(total_len))`. */
function jrsRead(wire: Wire, totalLen: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  while (offset < totalLen) {
    const le = totalLen - offset > 0xff ? 0 : totalLen & 0xff;
    const expected = le === 0 ? 256 : le;
    const data = wire.ok(readBinary(offset, le));
    parts.push(data);
    offset += data.length;
    if (data.length < expected) break;
  }
  return Uint8Array.from(Buffer.concat(parts));
}

/** pin_status: 9000 → 0 tries reported, 63Cx → x; anything else is an error. */
function pinStatus(wire: Wire, fid: string): number {
  wire.exact(selectEf(fid), '');
  const r = wire.send(kStatusQuery);
  if (r.sw === '9000') return 0;
  expect(r.sw.slice(0, 3)).toBe('63C');
  return parseInt(r.sw.slice(3), 16);
}

function same(a: Uint8Array, e: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(e));
}

function expectShortResponses(wire: Wire): void {
  for (const e of wire.log) expect(e.response.length / 2 + 2, e.command).toBeLessThanOrEqual(258);
}

describe('jpki-rs: crypto AP', () => {
  it('reads the auth certificate: read_der_size (00 B0 00 00 07) then read from 0, Le 00 / total_len & 0xFF, full EF', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('000A'), '');
    const size = readDerSize(wire);
    const expected = imageFile(cards.adult, 'jpki', '000A');
    expect(size).toBe(expected.length);
    expect(same(jrsRead(wire, size), expected)).toBe(true);
    // The last read asks for total_len & 0xFF, which is the remainder because the earlier reads were full.
    if (size % 256 !== 0) expect(wire.log.at(-1)!.command).toBe(readBinary(Math.floor(size / 256) * 256, size & 0xff));
    expectShortResponses(wire);
  });

  it('CA certificates need no PIN; the sign certificate needs one (is_pin_required): 6982 before, the whole EF after', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    for (const fid of ['000B', '0002']) {
      wire.exact(selectEf(fid), '');
      expect(same(jrsRead(wire, readDerSize(wire)), imageFile(cards.adult, 'jpki', fid)), fid).toBe(true);
    }
    wire.exact(selectEf('0001'), '');
    wire.exact(readBinary(0, 7), '', '6982');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    wire.exact(selectEf('0001'), '');
    expect(same(jrsRead(wire, readDerSize(wire)), imageFile(cards.adult, 'jpki', '0001'))).toBe(true);
  });

  it('auth(): VERIFY 0018, SELECT 0017, SIGN with the CLI’s SHA-1 DigestInfo (Lc 0x23 = 35) → 256 bytes + 9000 that verify', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('1234'), '');
    wire.exact(selectEf('0017'), '');
    const message = new TextEncoder().encode('jpki-cli auth < challenge.bin');
    const di = digestInfo('sha1', message);
    expect(di.length).toBe(35);
    expect(hex(di.subarray(0, 15))).toBe('3021300906052B0E03021A05000414');
    const command = signApdu(di);
    expect(command.slice(0, 10)).toBe('802A008023');
    expectValidSignature(wire.ok(command), imageFile(cards.adult, 'jpki', '000A'), 'sha1', message);
    expectShortResponses(wire);
  });

  it('sign(): VERIFY 001B, SELECT 001A, SIGN with a SHA-1 DigestInfo → verifies against the sign certificate', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    wire.exact(selectEf('001A'), '');
    const message = new TextEncoder().encode('jpki-cli sign < document.txt');
    expectValidSignature(wire.ok(signApdu(digestInfo('sha1', message))), imageFile(cards.adult, 'jpki', '0001'), 'sha1', message);
  });

  it('pin_status maps 63Cx to x: auth 3, sign 5, and 2 after one wrong auth PIN', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    expect(pinStatus(wire, '0018')).toBe(3);
    expect(pinStatus(wire, '001B')).toBe(5);
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('0000'), '', '63C2');
    expect(pinStatus(wire, '0018')).toBe(2);
  });
});

describe('jpki-rs: support AP (券面事項入力補助AP) and surface AP (券面AP)', () => {
  it('support AP: VERIFY 0011, SELECT 0001, read(Some(17)) → one 00 B0 00 00 11 with the 17-byte My Number EF', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.kenhojo), '');
    expect(pinStatus(wire, '0011')).toBe(cards.adult.image.pins.kenhojo.limit);
    wire.exact(selectEf('0011'), '');
    wire.exact(verifyPin(cards.adult.image.pins.kenhojo.value), '');
    wire.exact(selectEf('0001'), '');
    const data = jrsRead(wire, 17);
    expect(wire.log.at(-1)!.command).toBe('00B0000011');
    expect(same(data, imageFile(cards.adult, 'kenhojo', '0001'))).toBe(true);
    expect(ascii(data.subarray(3, 15))).toBe(cards.adult.image.identity.myNumber);
  });

  it('support AP attributes: read_der_size + read of 0002 gives the EF', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0011'), '');
    wire.exact(verifyPin(cards.adult.image.pins.kenhojo.value), '');
    wire.exact(selectEf('0002'), '');
    expect(same(jrsRead(wire, readDerSize(wire)), imageFile(cards.adult, 'kenhojo', '0002'))).toBe(true);
  });

  it('surface AP: PIN B (EF_PIN_B 0012) is DoB YYMMDD + expiry YYYY + CVC; VERIFY → 9000, then 0002 reads in full', () => {
    const wire = new Wire(cards.adult);
    const { image } = cards.adult;
    const pinB = image.pins.kenkakuB.value;
    expect(pinB).toMatch(/^\d{14}$/);
    expect(pinB.slice(0, 6)).toBe(image.identity.birth.replaceAll('-', '').slice(2));
    expect(pinB.slice(6, 10)).toBe(image.cardExpiry.slice(0, 4));
    wire.exact(selectAp(AID.kenkaku), '');
    expect(pinStatus(wire, '0012')).toBe(image.pins.kenkakuB.limit);
    expect(pinStatus(wire, '0013')).toBe(image.pins.kenkakuA.limit);
    wire.exact(selectEf('0012'), '');
    wire.exact(verifyPin(pinB), '');
    wire.exact(selectEf('0002'), '');
    expect(same(jrsRead(wire, readDerSize(wire)), imageFile(cards.adult, 'kenkaku', '0002'))).toBe(true);
    expectShortResponses(wire);
  });

  it('surface AP: PIN A (EF_PIN_A 0013) with the My Number also opens 0002', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.kenkaku), '');
    wire.exact(selectEf('0013'), '');
    wire.exact(verifyPin(cards.adult.image.identity.myNumber), '');
    wire.exact(selectEf('0002'), '');
    expect(readDerSize(wire)).toBe(imageFile(cards.adult, 'kenkaku', '0002').length);
  });
});
