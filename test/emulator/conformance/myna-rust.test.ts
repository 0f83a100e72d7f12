/**
 * jpki/myna, the Rust rewrite (jpki-card.md §3.2, §3.3, §4.2, §5.3, §6.3, §7), replayed against the
 * emulator: `read_binary_all()` (a 7-byte header read, then the rest from offset 7 with Le 00 while
 * more than 255 bytes remain, else the exact remainder), the token, `pin status`, `text mynumber`,
 * `text attrs`, `text basic-info`, the visual AP flow, CHANGE REFERENCE DATA, the 住基AP READ
 * RECORD, and the `mpa` signing loop.
 */
import { describe, expect, it } from 'vitest';
import {
  AID,
  Wire,
  ascii,
  berHeader,
  changePin,
  child,
  children,
  digestInfo,
  expectValidSignature,
  h,
  hex,
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

const kManufactureNumber = 'XY12345678901';

const cards = issuedCards({
  adult: { definition: 'adult', change: (d) => ({ ...d, card: { ...d.card, manufactureNumber: kManufactureNumber } }) },
});

/** MYNA `read_binary_all()` on the current EF: the commands it sent and the bytes it assembled. */
function readBinaryAll(wire: Wire): { content: Uint8Array; commands: string[] } {
  const commands = [readBinary(0, 7)];
  const head = wire.ok(commands[0]!);
  expect(head.length).toBe(7);
  const { total } = berHeader(head);
  const parts = [head];
  let offset = 7;
  while (offset < total) {
    const remaining = total - offset;
    const le = remaining > 0xff ? 0x00 : remaining;
    const command = readBinary(offset, le);
    commands.push(command);
    const data = wire.ok(command);
    if (data.length === 0) break;
    expect(data.length, `read at ${offset}`).toBe(le === 0 ? 256 : le);
    parts.push(data);
    offset += data.length;
  }
  return { content: Uint8Array.from(Buffer.concat(parts)), commands };
}

function sameBytes(a: Uint8Array, e: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(e));
}

/** `myna text mynumber` (§6.3), steps 1-5; returns the 17 bytes. */
function textMyNumber(wire: Wire, pin: string): Uint8Array {
  wire.exact('00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08', '');
  wire.exact('00 A4 02 0C 02 00 11', '');
  wire.exact(verifyPin(pin), '');
  wire.exact('00 A4 02 0C 02 00 01', '');
  return wire.ok('00 B0 00 00 11');
}

function myNumberOf(ef0001: Uint8Array): string {
  // `xF 10 0C` + 12 ASCII digits (+ 2 trailing bytes); MYNA's BER parser takes the 2-byte tag.
  const tlv = berHeader(ef0001);
  expect(tlv.tag & 0x1fff).toBe(0x1f10);
  expect(tlv.valueLength).toBe(12);
  return ascii(ef0001.subarray(tlv.headerLength, tlv.total));
}

describe('myna (Rust): JPKI AP reads', () => {
  it('the v0.6 builds of 2026-03-11/12 skip readers whose ATR does not start with 3b888001: the default ATR passes the guard', () => {
    const wire = new Wire(cards.adult);
    expect(hex(wire.card.atr).toLowerCase().startsWith('3b888001')).toBe(true);
  });

  it('reads the token with 00 B0 00 00 20: 32 bytes, "JPKIAPICCTOKEN2" padded with spaces; not JPKIAPGPSETOKEN, so no auth PIN before 000A', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0006'), '');
    const token = wire.ok('00 B0 00 00 20');
    expect(token.length).toBe(32);
    expect(ascii(token)).toBe('JPKIAPICCTOKEN2'.padEnd(32, ' '));
    expect(ascii(token).replace(/[\0\s]+$/, '')).toBe('JPKIAPICCTOKEN2');
  });

  it('read_binary_all of the auth certificate 000A: 00 B0 00 00 07, then from offset 7 (7, 263, 519, …) with Le 00 / exact remainder', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('000A'), '');
    const { content, commands } = readBinaryAll(wire);
    const expected = imageFile(cards.adult, 'jpki', '000A');
    expect(sameBytes(content, expected)).toBe(true);
    expect(commands[1]).toBe(readBinary(7, 0));
    expect(commands[2]).toBe(readBinary(263, expected.length - 263 > 255 ? 0 : expected.length - 263));
    const last = expected.length - 7 - 256 * (commands.length - 2);
    expect(commands.at(-1)).toBe(readBinary(7 + 256 * (commands.length - 2), last & 0xff));
  });

  it('read_binary_all of the CA certificates 000B and 0002 gives the EF contents', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    for (const fid of ['000B', '0002']) {
      wire.exact(selectEf(fid), '');
      expect(sameBytes(readBinaryAll(wire).content, imageFile(cards.adult, 'jpki', fid)), fid).toBe(true);
    }
  });

  it('the sign certificate 0001: the 7-byte header read answers 6982 before the password and the whole EF after it', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0001'), '');
    wire.exact(readBinary(0, 7), '', '6982');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('jpki2026'.toUpperCase()), ''); // MYNA upper-cases the password
    wire.exact(selectEf('0001'), '');
    expect(sameBytes(readBinaryAll(wire).content, imageFile(cards.adult, 'jpki', '0001'))).toBe(true);
  });
});

describe('myna (Rust): pin status', () => {
  it('kenhojo 0011/0014/0015, visual 0013/0012 and JPKI 0018/001B: SELECT EF + 00 20 00 80 → 63Cx with the tries left', () => {
    const wire = new Wire(cards.adult);
    const pins = cards.adult.image.pins;
    const plan: [string, string, number][] = [
      [AID.kenhojo, '0011', pins.kenhojo.remaining],
      [AID.kenhojo, '0014', pins.kenhojoA.remaining],
      [AID.kenhojo, '0015', pins.kenhojoB.remaining],
      [AID.kenkaku, '0013', pins.kenkakuA.remaining],
      [AID.kenkaku, '0012', pins.kenkakuB.remaining],
      [AID.jpki, '0018', 3],
      [AID.jpki, '001B', 5],
    ];
    for (const [aid, fid, remaining] of plan) {
      wire.exact(selectAp(aid), '');
      wire.exact(selectEf(fid), '');
      const r = wire.send(kStatusQuery);
      expect(r.sw, `${aid} ${fid}`).toBe(triesSw(remaining));
      expect(r.sw.slice(0, 2)).toBe('63'); // MYNA: sw1 == 0x63 is Ok, anything else an error
    }
  });
});

describe('myna (Rust): 券面事項入力補助AP', () => {
  it('myna text mynumber: SELECT AP, SELECT 0011, VERIFY, SELECT 0001, 00 B0 00 00 11 → the 17-byte EF with the My Number', () => {
    const wire = new Wire(cards.adult);
    const data = textMyNumber(wire, cards.adult.image.pins.kenhojo.value);
    expect(data.length).toBe(17);
    expect(sameBytes(data, imageFile(cards.adult, 'kenhojo', '0001'))).toBe(true);
    expect(myNumberOf(data)).toBe(cards.adult.image.identity.myNumber);
  });

  it('myna text attrs: after the PIN, SELECT 0002, 00 B0 00 00 07, the rest from 7; FF 20 { DF 21 offsets, DF 22..DF 25 }', () => {
    const wire = new Wire(cards.adult);
    textMyNumber(wire, cards.adult.image.pins.kenhojo.value);
    wire.exact(selectEf('0002'), '');
    const { content } = readBinaryAll(wire);
    expect(sameBytes(content, imageFile(cards.adult, 'kenhojo', '0002'))).toBe(true);
    expect(berHeader(content).tag).toBe(0xff20);
    const fields = children(content);
    const identity = cards.adult.image.identity;
    expect(child(fields, 0xdf21).value.length).toBe(8);
    expect(utf8(child(fields, 0xdf22).value)).toBe(identity.name);
    expect(utf8(child(fields, 0xdf23).value)).toBe(identity.address);
    expect(ascii(child(fields, 0xdf24).value)).toBe(identity.birth.replaceAll('-', ''));
    expect(ascii(child(fields, 0xdf25).value)).toBe(identity.sex);
  });

  it('myna text basic-info: SELECT AP, SELECT 0005 and read it with no VERIFY: FF 40 { DF 41 APInfo(4), DF 42 KeyID(16) }', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0005'), '');
    const { content } = readBinaryAll(wire);
    const expected = imageFile(cards.adult, 'kenhojo', '0005');
    expect(sameBytes(content, expected.subarray(0, content.length))).toBe(true);
    expect(berHeader(content).tag).toBe(0xff40);
    const fields = children(content);
    expect(child(fields, 0xdf41).value.length).toBe(4);
    expect(child(fields, 0xdf42).value.length).toBe(16);
  });

  it('visual AP flow: My Number from kenhojo, then SELECT visual AP, SELECT 0013, VERIFY with the 12 ASCII digits → 9000, and 0002 reads', () => {
    const wire = new Wire(cards.adult);
    const myNumber = myNumberOf(textMyNumber(wire, cards.adult.image.pins.kenhojo.value));
    wire.exact('00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02', '');
    wire.exact('00 A4 02 0C 02 00 13', '');
    wire.exact(h(`00 20 00 80 0C ${Buffer.from(myNumber, 'ascii').toString('hex')}`), '');
    wire.exact(selectEf('0002'), '');
    expect(sameBytes(readBinaryAll(wire).content, imageFile(cards.adult, 'kenkaku', '0002'))).toBe(true);
  });
});

describe('myna (Rust): CHANGE REFERENCE DATA 00 24 01 80', () => {
  it('JPKI auth PIN 0018: VERIFY old, 00 24 01 80 04 <new> → 9000; the new PIN then verifies and the old one fails', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('1234'), '');
    wire.exact(changePin('5678'), '');
    expect(changePin('5678')).toBe(h('00 24 01 80 04 35 36 37 38'));
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('5678'), '');
    wire.exact(verifyPin('1234'), '', '63C2');
    wire.exact(verifyPin('5678'), '');
    wire.exact(kStatusQuery, '', '63C3');
  });

  it('JPKI sign password 001B: change to a new upper-case password; the new one opens 0001, the old one fails', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    wire.exact(changePin('newpass2027'.toUpperCase()), '');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '', '63C4');
    wire.exact(verifyPin('NEWPASS2027'), '');
    wire.exact(selectEf('0001'), '');
    expect(readBinaryAll(wire).content.length).toBe(imageFile(cards.adult, 'jpki', '0001').length);
  });

  it('kenhojo PIN 0011: change, then `text mynumber` works with the new PIN and the old PIN answers 63Cx', () => {
    const wire = new Wire(cards.adult);
    const old = cards.adult.image.pins.kenhojo.value;
    const limit = cards.adult.image.pins.kenhojo.limit;
    textMyNumber(wire, old);
    wire.exact(selectEf('0011'), '');
    wire.exact(changePin('9876'), '');
    expect(myNumberOf(textMyNumber(wire, '9876'))).toBe(cards.adult.image.identity.myNumber);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0011'), '');
    wire.exact(verifyPin(old), '', triesSw(limit - 1));
  });
});

describe('myna (Rust): 住基AP and mpa', () => {
  it('unknown manufacture: SELECT 住基AP, READ RECORD 00 B2 01 0C 00 → one TLV whose value chars [2..15] are the 13-char manufacture number', () => {
    const wire = new Wire(cards.adult);
    wire.exact('00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00', '');
    const record = wire.ok('00 B2 01 0C 00');
    expect(hex(record)).toBe(Buffer.from(cards.adult.image.applets.juki.records[0]!, 'base64').toString('hex').toUpperCase());
    const tlv = berHeader(record);
    expect(tlv.total).toBe(record.length);
    const value = ascii(record.subarray(tlv.headerLength, tlv.total));
    expect(value.slice(2, 15)).toBe(kManufactureNumber);
  });

  it('mpa sign(): one VERIFY of the sign password, then SELECT 001A + SIGN per digest (several), then re-read 0001; every signature verifies', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.juki), '');
    wire.ok('00 B2 01 0C 00');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    const messages = ['portal digest 1', 'portal digest 2', 'portal digest 3', 'portal digest 4'].map((m) => new TextEncoder().encode(m));
    // The portal's digests arrive base64-encoded and are sent unchanged (a DigestInfo).
    const signatures = messages.map((message) => {
      const fromPortal = Buffer.from(Buffer.from(digestInfo('sha256', message)).toString('base64'), 'base64');
      wire.exact(selectEf('001A'), '');
      return wire.ok(signApdu(Uint8Array.from(fromPortal)));
    });
    wire.exact(selectEf('0001'), '');
    const { content: certificate } = readBinaryAll(wire);
    expect(sameBytes(certificate, imageFile(cards.adult, 'jpki', '0001'))).toBe(true);
    signatures.forEach((signature, i) => expectValidSignature(signature, certificate, 'sha256', messages[i]!));
  });

  it('pkey_sign / fido with the auth key: VERIFY 0018, SELECT 0017, sign SHA256_DIGEST_INFO_PREFIX ‖ SHA-256 → 256 bytes that pkey_verify accepts', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('1234'), '');
    wire.exact(selectEf('0017'), '');
    const message = new TextEncoder().encode('fido clientDataHash');
    const di = digestInfo('sha256', message);
    expect(hex(di.subarray(0, 19))).toBe('3031300D060960864801650304020105000420');
    expectValidSignature(wire.ok(signApdu(di)), imageFile(cards.adult, 'jpki', '000A'), 'sha256', message);
  });
});
