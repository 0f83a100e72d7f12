/**
 * The Kotlin Android IsoDep client `HndIsoDep` (package com.example.immutablestorageforjpki;
 * jpki-card.md §3.2, §3.3, §4.3, §5.1, §5.2), replayed against the emulator: `isJPKI()` (token
 * `trimEnd() == "JPKIAPICCTOKEN2"`), the certificate read (9 bytes first, then from 0 with
 * `Le = (size - offset).toUByte()`, so the first Le is the size mod 256 and may be odd), and
 * `signDataUsingAuthKey` / `signData` (`80 2A 00 80 Lc data 00`). Every step requires 9000.
 */
import { describe, expect, it } from 'vitest';
import {
  AID,
  Wire,
  ascii,
  berHeader,
  digestInfo,
  expectValidSignature,
  imageFile,
  issuedCards,
  readBinary,
  selectAp,
  selectEf,
  signApdu,
  verifyPin,
} from './wire.js';

const cards = issuedCards({ adult: 'adult' });

/** HndIsoDep's status-word messages. */
function message(sw: string): string {
  if (sw === '9000') return 'ok';
  if (sw === '6300') return 'verification failed';
  if (/^63C[0-9A-F]$/.test(sw)) return `attempts ${parseInt(sw.slice(3), 16)}`;
  if (sw === '6A88') return 'reference data not found';
  if (sw === '6A82') return 'file or application not found';
  return `error ${sw}`;
}

/** readBinary(9), parse tag/length, then read from 0 with Le = (size - offset).toUByte() until offset >= size. */
function readCertificate(wire: Wire, fid: string): { content: Uint8Array; les: number[] } {
  wire.exact(selectEf(fid), '');
  const head = wire.ok(readBinary(0, 9));
  expect(head.length).toBe(9);
  const size = berHeader(head).total;
  const parts: Uint8Array[] = [];
  const les: number[] = [];
  let offset = 0;
  while (offset < size) {
    const le = (size - offset) & 0xff; // toUByte()
    les.push(le);
    const r = wire.send(readBinary(offset, le));
    expect(message(r.sw), `read at ${offset}`).toBe('ok');
    expect(r.data.length).toBe(Math.min(le === 0 ? 256 : le, size - offset));
    parts.push(r.data);
    offset += r.data.length;
  }
  return { content: Uint8Array.from(Buffer.concat(parts)), les };
}

function same(a: Uint8Array, e: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(e));
}

describe('HndIsoDep (Kotlin IsoDep)', () => {
  it('isJPKI(): SELECT JPKI AP, SELECT 0006, readBinary(0x20); trimEnd() == "JPKIAPICCTOKEN2"', () => {
    const wire = new Wire(cards.adult);
    wire.exact('00A4040C0AD392F000260100000001', '');
    wire.exact('00A4020C020006', '');
    expect(ascii(wire.ok('00B0000020')).trimEnd()).toBe('JPKIAPICCTOKEN2');
  });

  it('reads the auth certificate: 9-byte header, then Le = (size − offset) mod 256 from 0 (first Le = size & 0xFF), whole EF', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    const expected = imageFile(cards.adult, 'jpki', '000A');
    const { content, les } = readCertificate(wire, '000A');
    expect(same(content, expected)).toBe(true);
    expect(les[0]).toBe(expected.length & 0xff);
    expect(les.slice(1).every((le) => le === 0)).toBe(true);
    // The first chunk ends at size mod 256, so the later ones start at unaligned offsets.
    const offsets = wire.log.filter((e) => e.command.startsWith('00B0')).slice(1).map((e) => parseInt(e.command.slice(4, 8), 16));
    expect(offsets[0]).toBe(0);
    if (expected.length % 256 !== 0) expect(offsets[1]).toBe(expected.length % 256);
  });

  it('an odd first Le is answered with exactly that many bytes (e.g. 0x27 from offset 0)', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('000A'), '');
    const data = wire.ok(readBinary(0, 0x27));
    expect(data.length).toBe(0x27);
    expect(same(data, imageFile(cards.adult, 'jpki', '000A').subarray(0, 0x27))).toBe(true);
  });

  it('reads the CA certificates and, after the sign PIN, the sign certificate the same way', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    for (const fid of ['000B', '0002']) expect(same(readCertificate(wire, fid).content, imageFile(cards.adult, 'jpki', fid)), fid).toBe(true);
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    expect(same(readCertificate(wire, '0001').content, imageFile(cards.adult, 'jpki', '0001'))).toBe(true);
  });

  it('signDataUsingAuthKey: SELECT 0018, VERIFY, SELECT 0017, 80 2A 00 80 Lc data 00 → 256 bytes + 9000 that verify', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('1234'), '');
    wire.exact(selectEf('0017'), '');
    const data = new TextEncoder().encode('immutable storage record');
    const command = signApdu(digestInfo('sha256', data));
    expect(command.endsWith('00')).toBe(true);
    expectValidSignature(wire.ok(command), imageFile(cards.adult, 'jpki', '000A'), 'sha256', data);
  });

  it('signData: SELECT 001B, VERIFY, SELECT 001A, sign → verifies against the sign certificate', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    wire.exact(selectEf('001A'), '');
    const data = new TextEncoder().encode('immutable storage record');
    expectValidSignature(wire.ok(signApdu(digestInfo('sha256', data))), imageFile(cards.adult, 'jpki', '0001'), 'sha256', data);
  });

  it('status words map to its messages: wrong PIN → "attempts 2", unknown EF → "file or application not found"', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    expect(message(wire.send(verifyPin('9999')).sw)).toBe('attempts 2');
    expect(message(wire.send(selectEf('0099')).sw)).toBe('file or application not found');
    expect(message(wire.send('00A4040C0AD3921000310001019999').sw)).toBe('file or application not found');
  });
});
