/**
 * hebingchang/pymyna (jpki-card.md §3.2, §3.3, §4.1, §6.1-§6.3), replayed against the emulator:
 * `_read_binary(offset, length, length_bytes)` as `00 B0 hi lo` + a 1-byte or a 3-byte
 * (`00 hi lo`, extended) Le; the token compared after `rstrip()`; certificates read as a 4-byte
 * header and then one extended-Le READ BINARY of the whole certificate; the kenhojo files with
 * the lengths PYMYNA asserts, the SHA-256 values of EF 0003 and the EF 0003 signature checked with
 * the key of EF 0004.
 */
import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AID, Wire, ascii, b, berHeader, child, children, hex, imageFile, issuedCards, selectAp, selectEf, sha, tlvs, utf8, verifyPin } from './wire.js';

const cards = issuedCards({ adult: 'adult' });

/** iso7816.py `_read_binary(offset, length, length_bytes=1)`. */
function pyReadBinary(offset: number, length: number, lengthBytes: 1 | 3 = 1): string {
  const le = lengthBytes === 1 ? b(length & 0xff) : `00${b(length >> 8)}${b(length & 0xff)}`;
  return `00B0${b(offset >> 8)}${b(offset & 0xff)}${le}`;
}

function same(a: Uint8Array, e: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(e));
}

/** jpki_ap.py certificate read: 4-byte header, then the whole certificate with one extended Le. */
function readCertificate(wire: Wire, fid: string): Uint8Array {
  wire.exact(selectEf(fid), '');
  const header = wire.ok(pyReadBinary(0, 4));
  expect(header.length).toBe(4);
  const size = berHeader(header).total;
  const command = pyReadBinary(0, size, 3);
  expect(command).toBe(`00B0000000${b(size >> 8)}${b(size & 0xff)}`); // [0x00,0xB0,0x00,0x00, 0x00, hi, lo]
  const certificate = wire.ok(command);
  expect(certificate.length).toBe(size);
  return certificate;
}

/** text_ap.py get_all_files() after VERIFY of 0011: the raw bytes of EF 0001..0005. */
function readTextFiles(wire: Wire): Record<'0001' | '0002' | '0003' | '0004' | '0005', Uint8Array> {
  wire.exact(selectAp(AID.kenhojo), '');
  const pin = cards.adult.image.pins.kenhojo.value;
  expect(pin).toMatch(/^\d{4}$/); // PYMYNA asserts 4 digits
  wire.exact(selectEf('0011'), '');
  wire.exact(verifyPin(pin), '');
  wire.exact(selectEf('0001'), '');
  const f1 = wire.ok(pyReadBinary(0, 17));
  wire.exact(selectEf('0002'), '');
  const len = wire.ok(pyReadBinary(2, 1));
  expect(len.length).toBe(1);
  expect(len[0]! < 0x80, 'PYMYNA takes the byte at offset 2 as the whole outer length').toBe(true);
  const f2 = wire.ok(pyReadBinary(0, 3 + len[0]!));
  wire.exact(selectEf('0003'), '');
  const f3 = wire.ok(pyReadBinary(0, 336, 3));
  wire.exact(selectEf('0004'), '');
  const f4 = wire.ok(pyReadBinary(0, 568, 3));
  wire.exact(selectEf('0005'), '');
  const f5 = wire.ok(pyReadBinary(0, 256, 3));
  return { '0001': f1, '0002': f2, '0003': f3, '0004': f4, '0005': f5 };
}

describe('pymyna: JPKI AP', () => {
  it('the token: SELECT 0006, _read_binary(0, 0x20); rstrip() == "JPKIAPICCTOKEN2" (else "Invalid AP! Maybe not a My Number Card?")', () => {
    const wire = new Wire(cards.adult);
    wire.exact('00A4040C0AD392F000260100000001', '');
    wire.exact('00A4020C020006', '');
    const token = wire.ok(pyReadBinary(0, 0x20));
    expect(token.length).toBe(32);
    expect(ascii(token).trimEnd()).toBe('JPKIAPICCTOKEN2');
  });

  it('the auth certificate: 00 B0 00 00 04, then one extended-Le read 00 B0 00 00 00 hi lo of the whole certificate → 9000', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    expect(same(readCertificate(wire, '000A'), imageFile(cards.adult, 'jpki', '000A'))).toBe(true);
  });

  it('the CA certificates, and the sign certificate after VERIFY of 001B with sign_pin.upper()', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    for (const fid of ['000B', '0002']) expect(same(readCertificate(wire, fid), imageFile(cards.adult, 'jpki', fid)), fid).toBe(true);
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('jpki2026'.toUpperCase()), '');
    expect(same(readCertificate(wire, '0001'), imageFile(cards.adult, 'jpki', '0001'))).toBe(true);
  });
});

describe('pymyna: 券面事項入力補助AP (text_ap.py)', () => {
  it('reads 0001 (17), 0002 ((2,1) then (0, 3+len)), 0003 (0,336,3), 0004 (0,568,3), 0005 (0,256,3) with the lengths PYMYNA asserts', () => {
    const wire = new Wire(cards.adult);
    const files = readTextFiles(wire);
    expect(wire.log.map((e) => e.command).filter((c) => c.startsWith('00B0'))).toEqual([
      '00B0000011',
      '00B0000201',
      `00B00000${b(files['0002'].length)}`,
      '00B00000000150',
      '00B00000000238',
      '00B00000000100',
    ]);
    expect(files['0001'].length).toBe(17);
    expect(files['0003'].length).toBe(336);
    expect(files['0004'].length).toBe(568);
    expect(files['0005'].length).toBe(256);
    for (const fid of ['0001', '0002', '0003', '0004', '0005'] as const) {
      expect(same(files[fid], imageFile(cards.adult, 'kenhojo', fid)), fid).toBe(true);
    }
  });

  it('TextMyNumber asn1_decode_raw(…, 16) and TextAttrs: content[11:] holds DF 22..DF 25 (name, address, YYYYMMDD, sex)', () => {
    const wire = new Wire(cards.adult);
    const files = readTextFiles(wire);
    const myNumber = berHeader(files['0001']);
    expect(myNumber.tag & 0xff).toBe(0x10);
    expect(ascii(files['0001'].subarray(myNumber.headerLength, myNumber.total))).toBe(cards.adult.image.identity.myNumber);

    const raw = files['0002'].subarray(3); // outer content, short-form length
    expect(hex(raw.subarray(0, 3))).toBe('DF2108');
    const fields = tlvs(raw, 11);
    expect(fields.map((f) => f.tag)).toEqual([0xdf22, 0xdf23, 0xdf24, 0xdf25]);
    const identity = cards.adult.image.identity;
    expect(utf8(fields[0]!.value)).toBe(identity.name);
    expect(utf8(fields[1]!.value)).toBe(identity.address);
    const birth = ascii(fields[2]!.value);
    const [y, m, d] = [Number(birth.slice(0, 4)), Number(birth.slice(4, 6)), Number(birth.slice(6, 8))];
    expect(`${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`).toBe(identity.birth);
    expect(ascii(fields[3]!.value)).toBe(identity.sex);
  });

  it('TextSignature: sha256 of all 17 bytes of EF 0001 equals DF 31, and sha256 of the basic-4 content[11:] equals DF 32', () => {
    const wire = new Wire(cards.adult);
    const files = readTextFiles(wire);
    const signature = children(files['0003']);
    expect(hex(sha('sha256', files['0001']))).toBe(hex(child(signature, 0xdf31).value));
    expect(hex(sha('sha256', files['0002'].subarray(3 + 11)))).toBe(hex(child(signature, 0xdf32).value));
  });

  it('the EF 0003 signature over the first 70 content bytes verifies (SHA256withRSA) with the key of EF 0004 (n/e TLVs, tags 17/16)', () => {
    const wire = new Wire(cards.adult);
    const files = readTextFiles(wire);
    // TextCertificate: 7F 21 { 5F 4E AKI(16) ‖ SKI(16) ‖ public key ; 5F 37 signature }, len(keys) == 297.
    const certificate = children(files['0004']);
    const keys = child(certificate, 0x5f4e).value;
    expect(keys.length).toBe(297);
    expect(child(certificate, 0x5f37).value.length).toBe(256);
    const publicKey = tlvs(keys, 32);
    const e = publicKey.find((t) => (t.tag & 0x1f) === 16);
    const n = publicKey.find((t) => (t.tag & 0x1f) === 17);
    expect(e && n).toBeTruthy();
    const key = createPublicKey({
      key: { kty: 'RSA', n: Buffer.from(n!.value).toString('base64url'), e: Buffer.from(e!.value).toString('base64url') },
      format: 'jwk',
    });
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const outer = berHeader(files['0003']);
    const raw = files['0003'].subarray(outer.headerLength);
    const allDigest = raw.subarray(0, 70);
    expect(hex(allDigest.subarray(0, 3))).toBe('DF3120');
    expect(hex(allDigest.subarray(35, 38))).toBe('DF3220');
    const rsaSignature = child(children(files['0003']), 0xdf33).value;
    expect(verify('sha256', allDigest, key, rsaSignature)).toBe(true);
  });
});
