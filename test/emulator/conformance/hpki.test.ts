/**
 * miyako/hpki (`include/apdu.h`, `My-Number-Card_{macOS,windows}.cpp`; jpki-card.md §1.2, §3.3,
 * §5.2, §5.3, §6.2), replayed against the emulator: card identification by the ATR's historical
 * bytes, the certificate read (`00 B0 00 00 04`, size from the header, then 256-byte blocks
 * `00 B0 <block#> 00 00` and a last block with Le = the remaining size), signatures over
 * DigestInfo SHA-1/256/384/512 into a 258-byte receive buffer, and the kenhojo (APP_AUX) fields
 * found by scanning for `DF 21`..`DF 25` with one-byte lengths.
 */
import { describe, expect, it } from 'vitest';
import {
  Wire,
  ascii,
  b,
  berHeader,
  digestInfo,
  expectValidSignature,
  h,
  hex,
  imageFile,
  issuedCards,
  signApdu,
  utf8,
  verifyPin,
  type HashAlg,
} from './wire.js';

const cards = issuedCards({ adult: 'adult' });

// apdu.h
const ID_JPKI = '000041E0B381A100';
const ID_JGID = '000005E0B381A100';
const APDU_SELECT_IDENTITY_AP_JPKI = '00A4040C0AD392F000260100000001';
const APDU_SELECT_APP_AUX = '00A4040C0AD3921000310001010408';
const APDU_SELECT_CRT_AUTH_EF_JPKI = '00A4020C02000A';
const APDU_SELECT_CRT_SIGNATURE_EF_JPKI = '00A4020C020001';
const kReceiveBuffer = 258;

/** The historical bytes of an ATR (ISO 7816-3: T0's K, interface bytes per TD chain) and the TCK check. */
function historicalBytes(atr: Uint8Array): { historical: Uint8Array; tckOk: boolean } {
  const t0 = atr[1]!;
  const k = t0 & 0x0f;
  let y = t0 >> 4;
  let i = 2;
  let needsTck = false;
  for (;;) {
    if (y & 1) i++;
    if (y & 2) i++;
    if (y & 4) i++;
    if (!(y & 8)) break;
    const td = atr[i++]!;
    if ((td & 0x0f) !== 0) needsTck = true;
    y = td >> 4;
  }
  const historical = atr.subarray(i, i + k);
  const rest = atr.subarray(i + k);
  let xor = 0;
  for (const byte of atr.subarray(1)) xor ^= byte;
  return { historical, tckOk: needsTck ? rest.length === 1 && xor === 0 : rest.length === 0 };
}

/** _get_pki_type(): ID_JPKI or ID_JGID → pki_type_j, else unknown. */
function pkiType(atr: Uint8Array): 'pki_type_j' | 'pki_type_unknown' {
  const id = hex(historicalBytes(atr).historical);
  return id === ID_JPKI || id === ID_JGID ? 'pki_type_j' : 'pki_type_unknown';
}

/** The certificate read: 00 B0 00 00 04, _get_data_size, then blocks of 256 by P1 = block number. */
function readCertificate(wire: Wire, select: string): Uint8Array {
  wire.exact(select, '');
  const header = wire.ok('00B0000004');
  expect(header.length).toBe(4);
  const size = berHeader(header).total;
  const blocks: Uint8Array[] = [];
  for (let block = 0; block * 256 < size; block++) {
    const remaining = size - block * 256;
    const le = remaining >= 256 ? 0 : remaining;
    const data = wire.ok(`00B0${b(block)}00${b(le)}`);
    expect(data.length, `block ${block}`).toBe(le === 0 ? 256 : le);
    blocks.push(data);
  }
  return Uint8Array.from(Buffer.concat(blocks));
}

function same(a: Uint8Array, e: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(e));
}

function expectFitsReceiveBuffer(wire: Wire): void {
  for (const e of wire.log) expect(e.response.length / 2 + 2, e.command).toBeLessThanOrEqual(kReceiveBuffer);
}

/** Scans for 0xDF followed by the field id and reads a one-byte length. */
function scanField(data: Uint8Array, id: number): Uint8Array {
  for (let i = 0; i + 2 < data.length; i++) {
    if (data[i] === 0xdf && data[i + 1] === id) return data.subarray(i + 3, i + 3 + data[i + 2]!);
  }
  throw new Error(`no DF ${id.toString(16)}`);
}

const kDigestInfoLength: Record<HashAlg, number> = { sha1: 35, sha256: 51, sha384: 67, sha512: 83 };

describe('hpki: card identification', () => {
  it('the default contactless ATR has historical bytes 00 00 41 E0 B3 81 A1 00 = ID_JPKI → pki_type_j, with a valid TCK', () => {
    const wire = new Wire(cards.adult);
    const atr = wire.card.atr;
    const { historical, tckOk } = historicalBytes(atr);
    expect(hex(historical)).toBe(h('00 00 41 E0 B3 81 A1 00'));
    expect(tckOk).toBe(true);
    expect(pkiType(atr)).toBe('pki_type_j');
    expect(hex(wire.card.powerOn())).toBe(hex(atr));
  });
});

describe('hpki: JPKI certificates and signatures', () => {
  it('auth certificate: 00 B0 00 00 04, then 00 B0 <block#> 00 00 and the last block with Le = remaining → the EF', () => {
    const wire = new Wire(cards.adult);
    wire.exact(APDU_SELECT_IDENTITY_AP_JPKI, '');
    const expected = imageFile(cards.adult, 'jpki', '000A');
    expect(same(readCertificate(wire, APDU_SELECT_CRT_AUTH_EF_JPKI), expected)).toBe(true);
    const blockReads = wire.log.filter((e) => e.command.startsWith('00B0') && e.command !== '00B0000004').map((e) => e.command);
    const full = Math.floor(expected.length / 256);
    expect(blockReads.slice(0, full)).toEqual(Array.from({ length: full }, (_, i) => `00B0${b(i)}0000`));
    expectFitsReceiveBuffer(wire);
  });

  it('signature certificate (APDU_SELECT_CRT_SIGNATURE_EF_JPKI) after VERIFY of 001B reads the same way', () => {
    const wire = new Wire(cards.adult);
    wire.exact(APDU_SELECT_IDENTITY_AP_JPKI, '');
    wire.exact('00A4020C02001B', '');
    wire.exact(verifyPin('JPKI2026'), '');
    expect(same(readCertificate(wire, APDU_SELECT_CRT_SIGNATURE_EF_JPKI), imageFile(cards.adult, 'jpki', '0001'))).toBe(true);
  });

  for (const key of ['auth', 'sign'] as const) {
    it(`${key} key: DIGEST_INFO_1/256/384/512 (35/51/67/83 bytes) each give 256 bytes + 9000 in the 258-byte buffer and verify`, () => {
      const wire = new Wire(cards.adult);
      wire.exact(APDU_SELECT_IDENTITY_AP_JPKI, '');
      wire.exact(key === 'auth' ? '00A4020C020018' : '00A4020C02001B', '');
      wire.exact(verifyPin(key === 'auth' ? '1234' : 'JPKI2026'), '');
      const certificate = imageFile(cards.adult, 'jpki', key === 'auth' ? '000A' : '0001');
      for (const alg of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
        const message = new TextEncoder().encode(`4D HPKI ${key} ${alg}`);
        const di = digestInfo(alg, message);
        expect(di.length).toBe(kDigestInfoLength[alg]);
        wire.exact(key === 'auth' ? '00A4020C020017' : '00A4020C02001A', '');
        const command = signApdu(di);
        expect(command.slice(0, 10)).toBe(`802A0080${b(di.length)}`);
        expectValidSignature(wire.ok(command), certificate, alg, message);
      }
      expectFitsReceiveBuffer(wire);
    });
  }
});

describe('hpki: APP_AUX (券面事項入力補助AP)', () => {
  it('My Number: after VERIFY of 0011, 3-byte header (APP_AUX_RESPONSE_HEADER_LENGTH) + 12 digits (MY_NUMBER_LENGTH)', () => {
    const wire = new Wire(cards.adult);
    wire.exact(APDU_SELECT_APP_AUX, '');
    wire.exact('00A4020C020011', '');
    wire.exact(verifyPin(cards.adult.image.pins.kenhojo.value), '');
    wire.exact('00A4020C020001', '');
    const data = wire.ok(`00B00000${b(3 + 12)}`);
    expect(data.length).toBe(15);
    expect(same(data, imageFile(cards.adult, 'kenhojo', '0001').subarray(0, 15))).toBe(true);
    expect(ascii(data.subarray(3, 15))).toBe(cards.adult.image.identity.myNumber);
  });

  it('basic 4: _get_data_size reads FF 20 LL as short form; the fields DF 22..DF 25 are found by scanning with one-byte lengths', () => {
    const wire = new Wire(cards.adult);
    wire.exact(APDU_SELECT_APP_AUX, '');
    wire.exact('00A4020C020011', '');
    wire.exact(verifyPin(cards.adult.image.pins.kenhojo.value), '');
    wire.exact('00A4020C020002', '');
    const header = wire.ok('00B0000004');
    expect(hex(header.subarray(0, 2))).toBe('FF20');
    expect(header[2]! < 0x80).toBe(true);
    const size = 3 + header[2]!;
    const data = wire.ok(`00B00000${b(size)}`);
    expect(same(data, imageFile(cards.adult, 'kenhojo', '0002'))).toBe(true);
    const identity = cards.adult.image.identity;
    expect(scanField(data, 0x21).length).toBe(8);
    expect(utf8(scanField(data, 0x22))).toBe(identity.name);
    expect(utf8(scanField(data, 0x23))).toBe(identity.address);
    expect(ascii(scanField(data, 0x24))).toBe(identity.birth.replaceAll('-', ''));
    expect(ascii(scanField(data, 0x25))).toBe(identity.sex);
  });
});
