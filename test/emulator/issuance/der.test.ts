import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, toHex } from '../../../iso7816/bytes.js';
import {
  decodeBitString,
  decodeBoolean,
  decodeInteger,
  decodeNamedBits,
  decodeOid,
  decodeString,
  decodeTime,
  derBitString,
  derBoolean,
  derContextPrimitive,
  derEnumerated,
  derExplicit,
  derGeneralizedTime,
  derIa5String,
  derImplicit,
  derInteger,
  derNamedBits,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derUtcTime,
  derUtf8String,
  dumpDer,
  encodeDerLength,
  parseDer,
  parseDerSequence,
} from '../../../emulator/issuance/der.js';

describe('DER encoder', () => {
  it('encodes lengths in short and minimal long form', () => {
    expect(toHex(encodeDerLength(0))).toBe('00');
    expect(toHex(encodeDerLength(127))).toBe('7F');
    expect(toHex(encodeDerLength(128))).toBe('8180');
    expect(toHex(encodeDerLength(255))).toBe('81FF');
    expect(toHex(encodeDerLength(256))).toBe('820100');
    expect(toHex(encodeDerLength(0x10000))).toBe('83010000');
  });

  it('encodes INTEGER with correct sign padding', () => {
    const cases: Array<[bigint | number, string]> = [
      [0, '020100'],
      [1, '020101'],
      [127, '02017F'],
      [128, '02020080'],
      [255, '020200FF'],
      [256, '02020100'],
      [-1, '0201FF'],
      [-128, '020180'],
      [-129, '0202FF7F'],
      [-256, '0202FF00'],
      [0x0a000001n, '02040A000001'],
      [0x80000000n, '02050080000000'],
      [(1n << 64n) - 1n, '020900FFFFFFFFFFFFFFFF'],
    ];
    for (const [value, hex] of cases) {
      expect(toHex(derInteger(value)), String(value)).toBe(hex);
      expect(decodeInteger(parseDer(fromHex(hex)))).toBe(BigInt(value));
    }
  });

  it('treats bytes as an unsigned magnitude', () => {
    expect(toHex(derInteger(fromHex('80')))).toBe('02020080');
    expect(toHex(derInteger(fromHex('00007F')))).toBe('02017F');
    expect(toHex(derInteger(fromHex('0000')))).toBe('020100');
    expect(toHex(derInteger(new Uint8Array(0)))).toBe('020100');
  });

  it('rejects unsafe numbers', () => {
    expect(() => derInteger(2 ** 60)).toThrow(/bigint/);
  });

  it('encodes OIDs, including large arcs', () => {
    expect(toHex(derOid('1.2.840.113549.1.1.11'))).toBe('06092A864886F70D01010B');
    expect(toHex(derOid('2.5.29.17'))).toBe('0603551D11');
    // Expected bytes from `openssl asn1parse -genstr OID:1.2.392.200149.8.5.5.1`.
    expect(toHex(derOid('1.2.392.200149.8.5.5.1'))).toBe('060A2A83088C9B5508050501');
    for (const oid of ['1.2.392.200149.8.5.5.4', '2.999.3', '1.3.6.1.5.5.7.2.1', '0.39', '2.25.329800735698586629295641978511506172918']) {
      expect(decodeOid(parseDer(derOid(oid)))).toBe(oid);
    }
    expect(() => derOid('1.40')).toThrow();
    expect(() => derOid('3.1')).toThrow();
    expect(() => derOid('1')).toThrow();
  });

  it('encodes strings and checks their character sets', () => {
    expect(toHex(derPrintableString('JP'))).toBe('13024A50');
    expect(toHex(derUtf8String('公'))).toBe('0C03E585AC');
    expect(toHex(derIa5String('http://a'))).toBe('1608687474703A2F2F61');
    expect(() => derPrintableString('a_b')).toThrow(/PrintableString/);
    expect(() => derIa5String('é')).toThrow(/IA5String/);
    expect(decodeString(parseDer(derUtf8String('番号 花子')))).toBe('番号 花子');
  });

  it('encodes simple types', () => {
    expect(toHex(derBoolean(true))).toBe('0101FF');
    expect(toHex(derBoolean(false))).toBe('010100');
    expect(decodeBoolean(parseDer(derBoolean(true)))).toBe(true);
    expect(toHex(derNull())).toBe('0500');
    expect(toHex(derEnumerated(1))).toBe('0A0101');
    expect(toHex(derOctetString(fromHex('0102')))).toBe('04020102');
    expect(toHex(derBitString(fromHex('0102')))).toBe('0303000102');
    expect(() => derBitString(fromHex('01'), 1)).toThrow(/zero/);
  });

  it('encodes named bit strings without trailing zero bits', () => {
    expect(toHex(derNamedBits([0]))).toBe('03020780'); // digitalSignature
    expect(toHex(derNamedBits([0, 1]))).toBe('030206C0'); // + nonRepudiation
    expect(toHex(derNamedBits([5, 6]))).toBe('03020106'); // keyCertSign + cRLSign
    expect(toHex(derNamedBits([8]))).toBe('0303070080');
    expect(decodeNamedBits(parseDer(derNamedBits([0, 5, 6])))).toEqual([0, 5, 6]);
    expect(decodeBitString(parseDer(derNamedBits([0]))).unusedBits).toBe(7);
  });

  it('chooses UTCTime until 2049 and GeneralizedTime from 2050 (RFC 5280)', () => {
    const t2049 = new Date('2049-12-31T23:59:59.999Z');
    const t2050 = new Date('2050-01-01T00:00:00Z');
    expect(toHex(derTime(t2049))).toBe(toHex(derUtcTime(t2049)));
    expect(Buffer.from(derTime(t2049).subarray(2)).toString()).toBe('491231235959Z');
    expect(derTime(t2050)[0]).toBe(0x18);
    expect(Buffer.from(derTime(t2050).subarray(2)).toString()).toBe('20500101000000Z');
    expect(derTime(new Date('1949-06-01T00:00:00Z'))[0]).toBe(0x18);
    expect(() => derUtcTime(t2050)).toThrow();
    for (const d of ['1950-01-01T00:00:00Z', '1999-12-31T12:34:56Z', '2030-02-17T14:59:59Z', '2050-01-01T00:00:00Z', '9999-12-31T23:59:59Z']) {
      expect(decodeTime(parseDer(derTime(new Date(d)))).toISOString()).toBe(new Date(d).toISOString());
    }
    expect(decodeTime(parseDer(derGeneralizedTime(new Date('2020-02-29T00:00:00Z')))).toISOString()).toBe('2020-02-29T00:00:00.000Z');
  });

  it('sorts SET elements and handles context tags', () => {
    expect(toHex(derSet(fromHex('0201FF'), fromHex('020101')))).toBe('3106020101' + '0201FF');
    expect(toHex(derExplicit(0, derInteger(2)))).toBe('A003020102');
    expect(toHex(derImplicit(0, derOctetString(fromHex('AB'))))).toBe('8001AB');
    expect(toHex(derImplicit(1, derSequence(derNull())))).toBe('A1020500');
    expect(toHex(derContextPrimitive(6, fromHex('61')))).toBe('860161');
    expect(() => derExplicit(31, derNull())).toThrow();
  });
});

describe('DER decoder', () => {
  it('builds a tree with offsets and classes', () => {
    const der = derSequence(derInteger(5), derExplicit(3, derUtf8String('x')), derSet(derNull()));
    const root = parseDer(der);
    expect(root.constructed).toBe(true);
    expect(root.children.map((c) => c.tag)).toEqual([0x02, 0xa3, 0x31]);
    const ctx = root.children[1]!;
    expect(ctx.tagClass).toBe('context');
    expect(ctx.tagNumber).toBe(3);
    expect(ctx.offset).toBe(5);
    expect(ctx.children[0]!.offset).toBe(7);
    expect(toHex(ctx.children[0]!.encoded)).toBe('0C0178');
    expect(dumpDer(root)).toContain('UTF8String "x"');
  });

  it('parses high tag numbers as written by the card (DF 22 style)', () => {
    const node = parseDer(fromHex('9F2101AA'));
    expect(node.tag).toBe(0x9f21);
    expect(node.tagNumber).toBe(0x21);
    expect(node.tagClass).toBe('context');
  });

  it('rejects non-DER input', () => {
    expect(() => parseDer(fromHex('3080'))).toThrow(/indefinite/);
    expect(() => parseDer(fromHex('04817F' + '00'.repeat(127)))).toThrow(/short form/);
    expect(() => parseDer(fromHex('0482007F'))).toThrow(/non-minimal/);
    expect(() => parseDer(fromHex('040201'))).toThrow(/remain/);
    expect(() => parseDer(fromHex('05000500'))).toThrow(/trailing/);
    expect(() => decodeInteger(parseDer(fromHex('02020001')))).toThrow(/non-minimal/);
    expect(parseDerSequence(fromHex('05000500'))).toHaveLength(2);
  });

  it('produces structures openssl asn1parse accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'der-'));
    try {
      const der = derSequence(
        derInteger(-129),
        derOid('1.2.392.200149.8.5.5.4'),
        derUtf8String('公的個人認証'),
        derTime(new Date('2050-01-01T00:00:00Z')),
        derExplicit(0, derBoolean(true)),
        derNamedBits([0, 1]),
      );
      const file = join(dir, 'x.der');
      writeFileSync(file, der);
      const out = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', file], { encoding: 'utf8' });
      expect(out).toContain('INTEGER           :-81');
      expect(out).toContain(':1.2.392.200149.8.5.5.4');
      expect(out).toContain('GENERALIZEDTIME   :20500101000000Z');
      expect(out).toContain('BOOLEAN           :255');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
