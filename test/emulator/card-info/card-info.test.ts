import { createHash, createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeAscii, decodeUtf8, fromHex, readU16, toHex } from '../../../iso7816/bytes.js';
import { readTlv, readTlvList, type Tlv } from '../../../iso7816/tlv.js';
import {
  buildCardInfoFiles,
  kKenhojoApInfo,
  kKenkakuApInfo,
  type CardInfoFiles,
  type CardInfoOptions,
} from '../../../emulator/issuance/card-info.js';
import type { Identity } from '../../../emulator/issuance/identity.js';
import { kTextKeyword } from '../../../emulator/issuance/png.js';
import { parseKenhojoBasic4, parseKenhojoMyNumber } from '../../../common/card-info-format.js';
import { decodePng } from './decode-png.js';

const identity: Identity = {
  name: '番号　花子',
  address: '東京都千代田区霞が関２丁目１番２号',
  birth: '1990-04-01',
  sex: '2',
  myNumber: '123456789018',
};

const options: CardInfoOptions = {
  cardExpiry: '2034-04-01',
  securityCode: '4321',
  manufactureNumber: 'MN00012345678',
  municipality: '千代田区',
};

const apKeyId = fromHex('00112233445566778899AABBCCDDEEFF');

let apKey: KeyObject;
let files: CardInfoFiles;

beforeAll(() => {
  apKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  files = buildCardInfoFiles(identity, apKey, apKeyId, options);
});

function ef(group: Record<string, Uint8Array>, fid: string): Uint8Array {
  const bytes = group[fid];
  if (!bytes) throw new Error(`no EF ${fid}`);
  return bytes;
}

function child(list: Tlv[], tag: number): Tlv {
  const found = list.find((t) => t.tag === tag);
  if (!found) throw new Error(`no tag ${tag.toString(16)}`);
  return found;
}

function sha256(data: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(data).digest());
}

/** The 265-byte card encoding `90 03 e` ‖ `91 82 01 00 n` as a node:crypto public key. */
function publicKeyFromCard(encoded: Uint8Array): KeyObject {
  expect(encoded.length).toBe(265);
  const e = readTlv(encoded, 0);
  const n = readTlv(encoded, e.size);
  expect(e.tag).toBe(0x90);
  expect(n.tag).toBe(0x91);
  expect(e.size + n.size).toBe(265);
  const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
  return createPublicKey({ key: { kty: 'RSA', n: b64u(n.value), e: b64u(e.value) }, format: 'jwk' });
}

/** The public key certified in EF 0004 (the `5F 4E` content after AKI and SKI). */
function certifiedKey(ef0004: Uint8Array): KeyObject {
  const body = child(readTlvList(readTlv(ef0004).value), 0x5f4e).value;
  return publicKeyFromCard(body.subarray(32));
}

/** Offsets listed in a DF 21 value, one big-endian uint16 each. */
function offsetsOf(df21: Uint8Array): number[] {
  return Array.from({ length: df21.length / 2 }, (_, i) => readU16(df21, 2 * i));
}

describe('kenhojo EF 0001 (My Number)', () => {
  it('is exactly 17 bytes: FF 10 0C, 12 digits, 00 00', () => {
    const bytes = ef(files.kenhojo, '0001');
    expect(bytes.length).toBe(17);
    expect(toHex(bytes.subarray(0, 3))).toBe('FF100C');
    expect(decodeAscii(bytes.subarray(3, 15))).toBe('123456789018');
    expect(toHex(bytes.subarray(15))).toBe('0000');
  });

  it('uses the configured tag byte and trailer', () => {
    const other = buildCardInfoFiles(identity, apKey, apKeyId, { ...options, myNumberTagByte: 0xdf, myNumberTrailer: fromHex('9000') });
    const bytes = ef(other.kenhojo, '0001');
    expect(bytes.length).toBe(17);
    expect(toHex(bytes)).toBe('DF100C' + toHex(Buffer.from('123456789018')) + '9000');
    expect(parseKenhojoMyNumber(bytes)).toBe('123456789018');
  });

  it('round-trips through the host-side parser', () => {
    expect(parseKenhojoMyNumber(ef(files.kenhojo, '0001'))).toBe(identity.myNumber);
  });
});

describe('kenhojo EF 0002 (basic 4)', () => {
  it('has a short-form outer length, DF 21 08 first, and offsets pointing at DF 22..DF 25', () => {
    const bytes = ef(files.kenhojo, '0002');
    expect(toHex(bytes.subarray(0, 2))).toBe('FF20');
    expect(bytes[2]).toBe(bytes.length - 3); // PYMYNA reads the byte at offset 2 and then 3 + that many
    expect(toHex(bytes.subarray(3, 6))).toBe('DF2108');
    const offsets = offsetsOf(bytes.subarray(6, 14));
    expect(offsets[0]).toBe(14); // PYMYNA skips 11 bytes of outer content
    offsets.forEach((offset, i) => expect(readTlv(bytes, offset).tag).toBe(0xdf22 + i));
    const last = readTlv(bytes, offsets[3] ?? 0);
    expect((offsets[3] ?? 0) + last.size).toBe(bytes.length);
  });

  it('round-trips an identity with Japanese characters through parseKenhojoBasic4', () => {
    expect(parseKenhojoBasic4(ef(files.kenhojo, '0002'))).toEqual({
      name: identity.name,
      address: identity.address,
      birth: identity.birth,
      sex: identity.sex,
    });
  });
});

describe('kenhojo EF 0003 (signature)', () => {
  it('is 336 bytes with the hashes of EF 0001 and of the DF 22..DF 25 span', () => {
    const bytes = ef(files.kenhojo, '0003');
    expect(bytes.length).toBe(336);
    expect(toHex(bytes.subarray(0, 5))).toBe('FF3082014B');
    const children = readTlvList(readTlv(bytes).value);
    expect(children.map((c) => c.tag)).toEqual([0xdf31, 0xdf32, 0xdf33]);
    expect(child(children, 0xdf31).value).toEqual(sha256(ef(files.kenhojo, '0001')));
    const ef0002 = ef(files.kenhojo, '0002');
    const span = ef0002.subarray(readU16(ef0002, 6));
    expect(child(children, 0xdf32).value).toEqual(sha256(span));
    expect(toHex(bytes.subarray(75, 80))).toBe('DF33820100');
  });

  it('has a signature over its first 70 content bytes that verifies with the EF 0004 key (node:crypto)', () => {
    const bytes = ef(files.kenhojo, '0003');
    const signed = bytes.subarray(5, 75);
    const signature = bytes.subarray(80);
    expect(signature.length).toBe(256);
    expect(verify('sha256', signed, certifiedKey(ef(files.kenhojo, '0004')), signature)).toBe(true);
    const tampered = Uint8Array.from(signed);
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    expect(verify('sha256', tampered, certifiedKey(ef(files.kenhojo, '0004')), signature)).toBe(false);
  });

  it('verifies with the openssl command too', () => {
    const bytes = ef(files.kenhojo, '0003');
    const dir = mkdtempSync(join(tmpdir(), 'card-info-'));
    try {
      const pem = certifiedKey(ef(files.kenhojo, '0004')).export({ type: 'spki', format: 'pem' });
      writeFileSync(join(dir, 'pub.pem'), pem);
      writeFileSync(join(dir, 'sig.bin'), bytes.subarray(80));
      writeFileSync(join(dir, 'data.bin'), bytes.subarray(5, 75));
      const out = execFileSync(
        'openssl',
        ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.bin'), join(dir, 'data.bin')],
        { encoding: 'utf8' },
      );
      expect(out.trim()).toBe('Verified OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('EF 0004 (AP certificate), kenhojo and kenkaku', () => {
  for (const group of ['kenhojo', 'kenkaku'] as const) {
    it(`${group}: 568 bytes, AKI = SKI = key id, self-signature verifies, key matches the AP key`, () => {
      const bytes = ef(files[group], '0004');
      expect(bytes.length).toBe(568);
      expect(toHex(bytes.subarray(0, 10))).toBe('7F218202335F4E820129');
      const [body, sig] = readTlvList(readTlv(bytes).value);
      expect(body?.tag).toBe(0x5f4e);
      expect(sig?.tag).toBe(0x5f37);
      expect(body?.value.length).toBe(297);
      expect(sig?.value.length).toBe(256);
      expect(body?.value.subarray(0, 16)).toEqual(apKeyId);
      expect(body?.value.subarray(16, 32)).toEqual(apKeyId);
      const key = certifiedKey(bytes);
      expect(verify('sha256', body?.value ?? new Uint8Array(), key, sig?.value ?? new Uint8Array())).toBe(true);
      expect(key.export({ format: 'jwk' })).toEqual(createPublicKey(apKey).export({ format: 'jwk' }));
    });
  }
});

describe('kenhojo EF 0005 (AP basic info)', () => {
  it('is 256 bytes: FF 40 { DF 41 APInfo, DF 42 KeyID } then FF padding', () => {
    const bytes = ef(files.kenhojo, '0005');
    expect(bytes.length).toBe(256);
    const outer = readTlv(bytes);
    expect(outer.tag).toBe(0xff40);
    const children = readTlvList(outer.value);
    expect(child(children, 0xdf41).value).toEqual(kKenhojoApInfo);
    expect(child(children, 0xdf42).value).toEqual(apKeyId);
    expect(bytes.subarray(outer.size).every((b) => b === 0xff)).toBe(true);
  });
});

describe('kenkaku EF 0001 (birth)', () => {
  it('holds the birth date, the AP key and a signature over the DF 11 TLV', () => {
    const outer = readTlv(ef(files.kenkaku, '0001'));
    expect(outer.tag).toBe(0xff10);
    const [birth, key, sig] = readTlvList(outer.value);
    expect(birth?.tag).toBe(0xdf11);
    expect(decodeAscii(birth?.value ?? new Uint8Array())).toBe('19900401');
    expect(key?.tag).toBe(0xdf12);
    expect(sig?.tag).toBe(0xdf13);
    expect(sig?.value.length).toBe(256);
    const signed = outer.value.subarray(0, birth?.size);
    expect(verify('sha256', signed, publicKeyFromCard(key?.value ?? new Uint8Array()), sig?.value ?? new Uint8Array())).toBe(true);
  });
});

describe('kenkaku EF 0002 (entries)', () => {
  it('lists nine offsets that point at DF 22..DF 2A', () => {
    const bytes = ef(files.kenkaku, '0002');
    const outer = readTlv(bytes);
    expect(outer.tag).toBe(0xff20);
    expect(outer.size).toBe(bytes.length);
    const header = readTlv(bytes, outer.size - outer.value.length);
    expect(header.tag).toBe(0xdf21);
    const offsets = offsetsOf(header.value);
    expect(offsets.length).toBe(9);
    offsets.forEach((offset, i) => expect(readTlv(bytes, offset).tag).toBe(0xdf22 + i));
  });

  it('holds the fields, decodable pictures and a signature over DF 22..DF 27', () => {
    const bytes = ef(files.kenkaku, '0002');
    const children = readTlvList(readTlv(bytes).value);
    expect(children.map((c) => c.tag)).toEqual([0xdf21, 0xdf22, 0xdf23, 0xdf24, 0xdf25, 0xdf26, 0xdf27, 0xdf28, 0xdf29, 0xdf2a]);
    expect(decodeAscii(child(children, 0xdf22).value)).toBe('19900401');
    expect(decodeAscii(child(children, 0xdf23).value)).toBe('2');
    expect(decodeAscii(child(children, 0xdf29).value)).toBe('20340401');
    expect(decodePng(child(children, 0xdf25).value).texts.get(kTextKeyword)).toBe(identity.name);
    expect(decodePng(child(children, 0xdf26).value).texts.get(kTextKeyword)).toBe(identity.address);
    expect(decodePng(child(children, 0xdf2a).value).texts.get(kTextKeyword)).toBe('4321');
    expect(decodePng(child(children, 0xdf27).value)).toMatchObject({ width: 120, height: 150 });

    const offsets = offsetsOf(child(children, 0xdf21).value);
    const signed = bytes.subarray(offsets[0], offsets[6]); // DF 22 up to the start of DF 28
    const key = publicKeyFromCard(child(children, 0xdf24).value);
    expect(verify('sha256', signed, key, child(children, 0xdf28).value)).toBe(true);
  });
});

describe('kenkaku EF 0003 (AP basic info)', () => {
  it('reads the way MYNA reads it: id (4), skipped, version (1), city', () => {
    const outer = readTlv(ef(files.kenkaku, '0003'));
    const [id, skipped, version, city] = readTlvList(outer.value);
    expect(id?.value).toEqual(kKenkakuApInfo);
    expect(skipped?.value).toEqual(apKeyId);
    expect(version?.value.length).toBe(1);
    expect(decodeUtf8(city?.value ?? new Uint8Array())).toBe('千代田区');
    expect(toHex(ef(files.kenkaku, '0003').subarray(0, 2))).toBe('FF30');
  });
});

describe('kenkaku EF 0005 (My Number picture)', () => {
  it('holds a PNG of the grouped number, the key, and a signature over DF 41 and DF 42', () => {
    const outer = readTlv(ef(files.kenkaku, '0005'));
    expect(outer.tag).toBe(0xff40);
    const [png, key, sig] = readTlvList(outer.value);
    expect([png?.tag, key?.tag, sig?.tag]).toEqual([0xdf41, 0xdf42, 0xdf43]);
    expect(decodePng(png?.value ?? new Uint8Array()).texts.get(kTextKeyword)).toBe('1234 5678 9018');
    const signed = outer.value.subarray(0, (png?.size ?? 0) + (key?.size ?? 0));
    expect(verify('sha256', signed, publicKeyFromCard(key?.value ?? new Uint8Array()), sig?.value ?? new Uint8Array())).toBe(true);
  });
});

describe('住基AP record and PIN B', () => {
  it('puts the manufacture number at characters [2..15] of the TLV value, as MYNA reads it', () => {
    const record = files.jukiRecord;
    expect(toHex(record.subarray(0, 2))).toBe('300F');
    const value = readTlv(record).value;
    expect(value.length).toBe(15);
    expect(decodeAscii(value).slice(2, 15)).toBe('MN00012345678');
  });

  it('derives PIN B from birth YYMMDD, expiry year and security code', () => {
    expect(files.pinB).toBe('900401' + '2034' + '4321');
    expect(files.pinB).toMatch(/^[0-9]{14}$/);
  });
});

describe('a long address', () => {
  // 19 + 4 * 17 characters, 3 UTF-8 bytes each: the address TLV alone is over 255 bytes.
  const long: Identity = { ...identity, address: '北海道札幌市中央区北一条西二丁目一番地' + '　札幌市役所本庁舎内第一会議室気付'.repeat(4) };

  it('switches kenhojo EF 0002 to a long-form length and stays parseable and consistent', () => {
    const out = buildCardInfoFiles(long, apKey, apKeyId, options);
    const bytes = ef(out.kenhojo, '0002');
    expect(bytes[2]).toBe(0x82); // content above 255 bytes
    expect(parseKenhojoBasic4(bytes)).toEqual({ name: long.name, address: long.address, birth: long.birth, sex: long.sex });
    const header = readTlv(bytes, 5);
    expect(header.tag).toBe(0xdf21);
    const offsets = offsetsOf(header.value);
    offsets.forEach((offset, i) => expect(readTlv(bytes, offset).tag).toBe(0xdf22 + i));
    const hashes = readTlvList(readTlv(ef(out.kenhojo, '0003')).value);
    expect(child(hashes, 0xdf32).value).toEqual(sha256(bytes.subarray(offsets[0])));
    expect(ef(out.kenhojo, '0003').length).toBe(336);
    const address = readTlvList(readTlv(ef(out.kenkaku, '0002')).value).find((t) => t.tag === 0xdf26);
    expect(decodePng(address?.value ?? new Uint8Array()).texts.get(kTextKeyword)).toBe(long.address);
  });

  it('writes 82 00 LL between 128 and 255 content bytes by default, and the harness parser reads it', () => {
    const medium: Identity = { ...identity, address: 'あ'.repeat(40) }; // 120 address bytes
    const bytes = ef(buildCardInfoFiles(medium, apKey, apKeyId, options).kenhojo, '0002');
    expect(toHex(bytes.subarray(0, 3))).toBe('FF2082');
    expect(bytes[3]).toBe(0x00);
    expect(bytes[4]).toBe(bytes.length - 5);
    expect(parseKenhojoBasic4(bytes).address).toBe(medium.address);
  });

  it('writes 81 LL between 128 and 255 content bytes with tlvLongLength minimal', () => {
    const medium: Identity = { ...identity, address: 'あ'.repeat(40) };
    const bytes = ef(buildCardInfoFiles(medium, apKey, apKeyId, { ...options, longLength: 'minimal' }).kenhojo, '0002');
    expect(bytes[2]).toBe(0x81);
    expect(bytes[3]).toBe(bytes.length - 4);
    expect(parseKenhojoBasic4(bytes).address).toBe(medium.address);
  });
});

describe('card-info TLV long lengths (option tlvLongLength)', () => {
  // Content = DF21 (11) + DF22 (3 + name) + DF23 (3 + address) + DF24 (11) + DF25 (4) = 32 + name + address bytes.
  const withContent = (contentBytes: number): Identity => ({ ...identity, name: 'BANGO HANAKO', address: 'A'.repeat(contentBytes - 32 - 12) });

  it('a basic-4 with 130 content bytes starts FF 20 82 00 82; with 94, FF 20 5E', () => {
    const long = ef(buildCardInfoFiles(withContent(130), apKey, apKeyId, options).kenhojo, '0002');
    expect(toHex(long.subarray(0, 5))).toBe('FF20820082');
    expect(long.length).toBe(5 + 130);
    const short = ef(buildCardInfoFiles(withContent(94), apKey, apKeyId, options).kenhojo, '0002');
    expect(toHex(short.subarray(0, 3))).toBe('FF205E');
    expect(short.length).toBe(3 + 94);
    for (const bytes of [long, short]) expect(parseKenhojoBasic4(bytes).sex).toBe(identity.sex);
  });

  it('the offsets and the hash in EF 0003 follow the header size of either form', () => {
    for (const longLength of ['two-byte', 'minimal'] as const) {
      const out = buildCardInfoFiles(withContent(130), apKey, apKeyId, { ...options, longLength });
      const bytes = ef(out.kenhojo, '0002');
      const headerSize = longLength === 'two-byte' ? 5 : 4;
      const header = readTlv(bytes, headerSize);
      expect(header.tag).toBe(0xdf21);
      const offsets = offsetsOf(header.value);
      offsets.forEach((offset, i) => expect(readTlv(bytes, offset).tag).toBe(0xdf22 + i));
      const hashes = readTlvList(readTlv(ef(out.kenhojo, '0003')).value);
      expect(child(hashes, 0xdf32).value).toEqual(sha256(bytes.subarray(offsets[0])));
    }
  });

  it('inner TLVs follow the option too: a 130-byte address is DF 23 82 00 82 (DF 23 81 82 when minimal)', () => {
    const wide: Identity = { ...identity, address: 'B'.repeat(130) };
    const twoByte = ef(buildCardInfoFiles(wide, apKey, apKeyId, options).kenhojo, '0002');
    expect(toHex(twoByte)).toContain(`DF23820082${toHex(new TextEncoder().encode(wide.address))}`);
    expect(parseKenhojoBasic4(twoByte).address).toBe(wide.address);
    const minimal = ef(buildCardInfoFiles(wide, apKey, apKeyId, { ...options, longLength: 'minimal' }).kenhojo, '0002');
    expect(toHex(minimal)).toContain(`DF238182${toHex(new TextEncoder().encode(wide.address))}`);
    expect(parseKenhojoBasic4(minimal).address).toBe(wide.address);
  });

  it('no kenhojo or kenkaku TLV has an 81 length by default, and none has 82 00 LL when minimal', () => {
    const headers = (bytes: Uint8Array, nested = true): string[] => {
      const out: string[] = [];
      const walk = (data: Uint8Array, depth: number): void => {
        let p = 0;
        while (p < data.length) {
          // EF 0005 is FF-padded after its TLV; kenhojo EF 0001 has two trailing bytes.
          if (data[p] === 0x00 || (data[p] === 0xff && (data[p + 1] === undefined || data[p + 1] === 0xff))) break;
          const item = readTlv(data, p);
          const tagLength = (data[p]! & 0x1f) === 0x1f ? 2 : 1;
          out.push(toHex(data.subarray(p + tagLength, p + item.size - item.value.length)));
          // Constructed private tags (FF nn) hold TLVs; the others are primitive.
          if (nested && data[p] === 0xff && depth === 0) walk(item.value, 1);
          p += item.size;
        }
      };
      walk(bytes, 0);
      return out;
    };
    // EF 0004 (the AP certificate) has only lengths under 128 or over 255, the same in both forms.
    for (const longLength of ['two-byte', 'minimal'] as const) {
      const out = buildCardInfoFiles({ ...identity, address: 'C'.repeat(200) }, apKey, apKeyId, { ...options, longLength });
      // kenhojo EF 0001's FF 10 holds the digits themselves, not TLVs.
      const all = [
        ...headers(ef(out.kenhojo, '0001'), false),
        ...['0002', '0003', '0005'].flatMap((fid) => headers(ef(out.kenhojo, fid))),
        ...['0001', '0002', '0003', '0005'].flatMap((fid) => headers(ef(out.kenkaku, fid))),
      ];
      expect(all.length).toBeGreaterThan(20);
      if (longLength === 'two-byte') {
        expect(all.filter((h) => h.startsWith('81'))).toEqual([]);
        expect(all.some((h) => h.startsWith('8200'))).toBe(true);
      } else {
        expect(all.filter((h) => h.startsWith('8200'))).toEqual([]);
        expect(all.some((h) => h.startsWith('81'))).toBe(true);
      }
    }
  });
});

describe('input checks', () => {
  it('rejects a bad My Number, key id, key size, dates and codes', () => {
    expect(() => buildCardInfoFiles({ ...identity, myNumber: '123456789017' }, apKey, apKeyId, options)).toThrow(RangeError);
    expect(() => buildCardInfoFiles(identity, apKey, apKeyId.subarray(1), options)).toThrow(RangeError);
    expect(() => buildCardInfoFiles({ ...identity, birth: '1990-02-30' }, apKey, apKeyId, options)).toThrow(RangeError);
    expect(() => buildCardInfoFiles(identity, apKey, apKeyId, { ...options, securityCode: '12a4' })).toThrow(RangeError);
    expect(() => buildCardInfoFiles(identity, apKey, apKeyId, { ...options, manufactureNumber: 'SHORT' })).toThrow(RangeError);
    expect(() => buildCardInfoFiles(identity, apKey, apKeyId, { ...options, myNumberTrailer: fromHex('00') })).toThrow(RangeError);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => buildCardInfoFiles(identity, small, apKeyId, options)).toThrow(TypeError);
    expect(() => buildCardInfoFiles(identity, createPublicKey(apKey), apKeyId, options)).toThrow(TypeError);
  });
});
