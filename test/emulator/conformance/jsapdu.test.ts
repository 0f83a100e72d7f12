/**
 * AokiApp/jsapdu + @aokiapp/mynacard (jpki-card.md §2.2, §3.3, §4.2, §6.1-§6.3, §7), replayed against
 * the emulator: `selectDf(aid)` (P2 0C) and `selectDf(aid, true)` (P2 00, Le 00, FCI), VERIFY by
 * reference `00 20 00 (80 + EF)` without SELECT EF, and `readEfBinaryFull(sfi)` =
 * `00 B0 (80|SFI) 00 00 00 00` (SFI in P1, extended Le = 65536) which must give the whole file with
 * 9000; then the hashes the mynacard schemas check.
 */
import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AID, Wire, ascii, asciiHex, b, berHeader, child, children, h, hex, imageFile, issuedCards, sha, tlvs, utf8 } from './wire.js';

const cards = issuedCards({ adult: 'adult' });

/** selectDf(aid): P2 0C, no Le. */
function selectDf(aid: string): string {
  return h(`00 A4 04 0C 0A ${aid}`);
}

/** selectDf(aid, true): P2 00 and Le 00, asking for the FCI. */
function selectDfWithFci(aid: string): string {
  return h(`00 A4 04 00 0A ${aid} 00`);
}

/** verify.ts: p2 = 0x80 + ef (ef ≤ 0x1E), no SELECT EF before it. */
function verifyByReference(ef: number, pin: string): string {
  return `002000${b(0x80 + ef)}${b(pin.length)}${asciiHex(pin)}`;
}

/** readEfBinaryFull(sfi): CommandApdu encodes Le 65536 as the three bytes 00 00 00. */
function readEfBinaryFull(sfi: number): string {
  return `00B0${b(0x80 | sfi)}00000000`;
}

function same(a: Uint8Array, e: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(e));
}

/** decodeOffsets: the DF 21 value as big-endian uint16s. */
function decodeOffsets(value: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < value.length; i += 2) out.push((value[i]! << 8) | value[i + 1]!);
  return out;
}

describe('jsapdu: selectDf', () => {
  it('selectDf(JPKI_AP) sends 00 A4 04 0C 0A <AID> → 9000 without data (and the same for KENHOJO_AP, KENKAKU_AP)', () => {
    const wire = new Wire(cards.adult);
    for (const aid of [AID.jpki, AID.kenhojo, AID.kenkaku]) wire.exact(selectDf(aid), '');
  });

  it('selectDf(JPKI_AP, true) sends exactly 00 a4 04 00 0a d3 92 f0 00 26 01 00 00 00 01 00 → an FCI template (6F) + 9000', () => {
    const command = selectDfWithFci(AID.jpki);
    expect(command).toBe(h('00 a4 04 00 0a d3 92 f0 00 26 01 00 00 00 01 00'));
    const wire = new Wire(cards.adult);
    const fci = wire.ok(command);
    expect(fci.length).toBeGreaterThan(0);
    expect(fci[0]).toBe(0x6f);
    expect(berHeader(fci).total).toBe(fci.length);
    // If the FCI names the DF (tag 84), it is the AID that was selected.
    const names = children(fci).filter((t) => t.tag === 0x84);
    for (const n of names) expect(hex(n.value)).toBe(AID.jpki);
  });

  it('selectDf(aid, true) works for the kenhojo and kenkaku APs too, and the selected AP then answers', () => {
    const wire = new Wire(cards.adult);
    for (const aid of [AID.kenhojo, AID.kenkaku]) {
      const fci = wire.ok(selectDfWithFci(aid));
      expect(fci[0]).toBe(0x6f);
      expect(berHeader(fci).total).toBe(fci.length);
    }
    expect(wire.card.session.applet).toBe('kenkaku');
  });
});

describe('jsapdu: KENHOJO_AP with VERIFY by reference and SFI reads', () => {
  it('00 20 00 91 04 <PIN> (EF 0011), then 00 B0 81 00 00 00 00 → the whole 17-byte My Number EF + 9000', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectDf(AID.kenhojo), '');
    const pin = cards.adult.image.pins.kenhojo.value;
    const command = verifyByReference(0x11, pin);
    expect(command.slice(0, 10)).toBe('0020009104');
    wire.exact(command, '');
    const myNumber = wire.ok('00 B0 81 00 00 00 00');
    expect(myNumber.length).toBe(17);
    expect(same(myNumber, imageFile(cards.adult, 'kenhojo', '0001'))).toBe(true);
    expect(ascii(myNumber.subarray(3, 15))).toBe(cards.adult.image.identity.myNumber);
  });

  it('00 B0 82 00 00 00 00 → the whole basic-4 EF; SHA-256 from offsets[0] to the end of the outer TLV equals DF 32 of EF 0003', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectDf(AID.kenhojo), '');
    wire.exact(verifyByReference(0x11, cards.adult.image.pins.kenhojo.value), '');
    const basic4 = wire.ok('00 B0 82 00 00 00 00');
    expect(same(basic4, imageFile(cards.adult, 'kenhojo', '0002'))).toBe(true);
    const outer = berHeader(basic4);
    expect(outer.tag).toBe(0xff20);
    const fields = children(basic4);
    const offsets = decodeOffsets(child(fields, 0xdf21).value);
    expect(offsets.length).toBe(4);
    // offsets[0..3] are the file offsets of the DF 22..DF 25 TLVs.
    expect(offsets).toEqual([0xdf22, 0xdf23, 0xdf24, 0xdf25].map((tag) => child(fields, tag).offset));
    const identity = cards.adult.image.identity;
    expect(utf8(child(fields, 0xdf22).value)).toBe(identity.name);
    expect(utf8(child(fields, 0xdf23).value)).toBe(identity.address);
    expect(ascii(child(fields, 0xdf24).value)).toBe(identity.birth.replaceAll('-', ''));
    expect(ascii(child(fields, 0xdf25).value)).toBe(identity.sex);

    const signature = wire.ok('00 B0 83 00 00 00 00');
    expect(signature.length).toBe(336);
    const sigFields = children(signature);
    expect(hex(sha('sha256', basic4.subarray(offsets[0], outer.total)))).toBe(hex(child(sigFields, 0xdf32).value));
  });

  it('the My Number hash: SHA-256 of the full-file read of 0001 equals DF 31 of EF 0003', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectDf(AID.kenhojo), '');
    wire.exact(verifyByReference(0x11, cards.adult.image.pins.kenhojo.value), '');
    const myNumber = wire.ok(readEfBinaryFull(1));
    const signature = wire.ok(readEfBinaryFull(3));
    expect(hex(sha('sha256', myNumber))).toBe(hex(child(children(signature), 0xdf31).value));
  });

  it('read-certificate.ts: 00 B0 84 00 00 00 00 → 568 bytes, 7F 21 { 5F 4E issuer(16) subject(16) publicKey(e, n), 5F 37 signature }', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectDf(AID.kenhojo), '');
    wire.exact(verifyByReference(0x11, cards.adult.image.pins.kenhojo.value), '');
    const certificate = wire.ok(readEfBinaryFull(4));
    expect(certificate.length).toBe(568);
    expect(same(certificate, imageFile(cards.adult, 'kenhojo', '0004'))).toBe(true);
    expect(berHeader(certificate).tag).toBe(0x7f21);
    const parts = children(certificate);
    const body = child(parts, 0x5f4e).value;
    const publicKeyRaw = body.subarray(32);
    const [e, n] = tlvs(publicKeyRaw); // decodePublicKey: e first, then n
    expect(e!.value.length).toBeLessThanOrEqual(4);
    expect(n!.value.length).toBe(256);
    const key = createPublicKey({ key: { kty: 'RSA', n: Buffer.from(n!.value).toString('base64url'), e: Buffer.from(e!.value).toString('base64url') }, format: 'jwk' });
    // Our issuer self-signs (AKI = SKI); the structure is what the schema decodes.
    expect(verify('sha256', body, key, child(parts, 0x5f37).value)).toBe(true);
  });

  it('kenhojo PIN A (00 20 00 94 0C <My Number>) and PIN B (00 20 00 95 0E <14 digits>) open the same files', () => {
    const { image } = cards.adult;
    for (const [ef, pin] of [
      [0x14, image.identity.myNumber],
      [0x15, image.pins.kenhojoB.value],
    ] as const) {
      const wire = new Wire(cards.adult);
      wire.exact(selectDf(AID.kenhojo), '');
      wire.exact(readEfBinaryFull(1), '', '6982');
      wire.exact(verifyByReference(ef, pin), '');
      expect(same(wire.ok(readEfBinaryFull(1)), imageFile(cards.adult, 'kenhojo', '0001'))).toBe(true);
    }
  });
});

describe('jsapdu: KENKAKU_AP and JPKI_AP', () => {
  it('kenkaku PIN A: 00 20 00 93 0C <My Number> → 9000, then 00 B0 82 00 00 00 00 gives the whole ENTRIES EF', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectDf(AID.kenkaku), '');
    const command = verifyByReference(0x13, cards.adult.image.identity.myNumber);
    expect(command.slice(0, 10)).toBe('002000930C');
    wire.exact(command, '');
    const entries = wire.ok('00 B0 82 00 00 00 00');
    expect(same(entries, imageFile(cards.adult, 'kenkaku', '0002'))).toBe(true);
    expect(berHeader(entries).tag).toBe(0xff20);
    expect(berHeader(entries).total).toBe(entries.length);
    const tags = children(entries).map((t) => t.tag);
    expect(tags.slice(0, 10)).toEqual([0xdf21, 0xdf22, 0xdf23, 0xdf24, 0xdf25, 0xdf26, 0xdf27, 0xdf28, 0xdf29, 0xdf2a]);
  });

  it('kenkaku PIN B: 00 20 00 92 0E <14 digits> → 9000, BIRTH (SFI 1) reads', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectDf(AID.kenkaku), '');
    wire.exact(verifyByReference(0x12, cards.adult.image.pins.kenkakuB.value), '');
    const birth = wire.ok(readEfBinaryFull(1));
    expect(same(birth, imageFile(cards.adult, 'kenkaku', '0001'))).toBe(true);
    expect(berHeader(birth).tag).toBe(0xff10);
  });

  it('JPKI auth PIN by reference 00 20 00 98, sign PIN 00 20 00 9B; token (SFI 6), auth cert (SFI 0A) and sign cert (SFI 1) read whole', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectDf(AID.jpki), '');
    expect(ascii(wire.ok(readEfBinaryFull(6)))).toBe('JPKIAPICCTOKEN2'.padEnd(32, ' '));
    wire.exact('00 20 00 98 04 31 32 33 34', '');
    expect(same(wire.ok(readEfBinaryFull(0x0a)), imageFile(cards.adult, 'jpki', '000A'))).toBe(true);
    wire.exact(readEfBinaryFull(1), '', '6982');
    wire.exact(verifyByReference(0x1b, 'JPKI2026'), '');
    expect(verifyByReference(0x1b, 'JPKI2026').slice(0, 8)).toBe('0020009B');
    expect(same(wire.ok(readEfBinaryFull(1)), imageFile(cards.adult, 'jpki', '0001'))).toBe(true);
  });
});
