/**
 * The card options of issue 13 and 15 on the wire, each with its default and every other choice:
 * re-SELECT of the same AP, kenhojo EF 0004 without the PIN, GET CHALLENGE, answers longer than Ne
 * (truncate / 6Cxx / 61xx with GET RESPONSE), the signature without Le, and the card-info TLV length
 * form as issuance writes it. Option changes that act at run time are made on a copy of the image;
 * the length form acts at issuance, so those cards are issued with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  kCardOptionChoices,
  kCardOptionNames,
  kDefaultCardOptions,
  validateCardImage,
  type CardImage,
  type CardOptionName,
  type CardOptions,
} from '../../../emulator/index.js';
import { parseCardDefinition } from '../../../emulator/issuance/card-definition.js';
import { parseKenhojoBasic4 } from '../../../common/card-info-format.js';
import { issueFixture, kPackageRoot, powered, tempDir, type IssuedFixture } from '../../support/cards.js';

const kSelectJpki = '00A4040C0AD392F000260100000001';
const kSelectKenhojo = '00A4040C0AD3921000310001010408';
const kSelectAuthPin = '00A4020C020018';
const kSelectAuthKey = '00A4020C020017';
const kVerify1234 = '002000800431323334';
/** A SHA-256 DigestInfo of 32 bytes of 0x11. */
const kDigestInfo = `3031300D060960864801650304020105000420${'11'.repeat(32)}`;
const sign = (le: string): string => `802A0080${(kDigestInfo.length / 2).toString(16).toUpperCase()}${kDigestInfo}${le}`;

const dir = tempDir('jpki-options-');
let adult: IssuedFixture;
let minimal: IssuedFixture;
const longAddress = '北海道札幌市中央区北一条西二丁目一番地'; // 57 bytes: with the rest the content is over 128

beforeAll(async () => {
  adult = await issueFixture(dir.path, 'adult', (d) => ({ ...d, identity: { ...d.identity, address: longAddress + '　第一会議室気付' } }));
  minimal = await issueFixture(dir.path, 'adult', (d) => ({
    ...d,
    identity: { ...d.identity, address: longAddress + '　第一会議室気付' },
    options: { ...d.options, tlvLongLength: 'minimal' },
  }));
});
afterAll(() => dir.remove());

function cardWith(options: Partial<CardOptions> = {}, image: CardImage = adult.image): ReturnType<typeof powered> {
  return powered({ ...image, options: { ...image.options, ...options } });
}

function jpkiSignReady(card: ReturnType<typeof powered>): void {
  for (const command of [kSelectJpki, kSelectAuthPin, kVerify1234, kSelectAuthKey]) expect(card.send(command).sw, command).toBe('9000');
}

describe('the option table', () => {
  it('every option has its default first among its choices, and the defaults are the documented ones', () => {
    expect(kCardOptionNames).toEqual(Object.keys(kDefaultCardOptions));
    for (const name of kCardOptionNames) expect(kCardOptionChoices[name][0], name).toBe(kDefaultCardOptions[name]);
    expect(kDefaultCardOptions).toMatchObject({
      securityOnReselect: 'keep',
      kenhojoCertificateNeedsPin: false,
      tlvLongLength: 'two-byte',
      getChallenge: 'unsupported',
      shortLe: 'truncate',
      signWithoutLe: 'full',
    });
  });

  it('docs/card-profile.md has a row for every option naming every choice', () => {
    const doc = readFileSync(join(kPackageRoot, 'docs', 'card-profile.md'), 'utf8');
    for (const name of kCardOptionNames) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, `a table row for ${name}`).toBeDefined();
      for (const choice of kCardOptionChoices[name as CardOptionName]) expect(row, `${name} row names ${String(choice)}`).toContain(`\`${String(choice)}\``);
    }
  });

  it('a card definition accepts every choice of the new options and names the field for a bad one', () => {
    const fail = (field: string, problem: string): never => {
      throw new Error(`${field}: ${problem}`);
    };
    for (const name of ['securityOnReselect', 'tlvLongLength', 'getChallenge', 'shortLe', 'signWithoutLe'] as const) {
      for (const choice of kCardOptionChoices[name]) {
        expect(parseCardDefinition({ options: { [name]: choice } }, 'x', fail).options[name]).toBe(choice);
      }
      expect(() => parseCardDefinition({ options: { [name]: 'sometimes' } }, 'x', fail)).toThrow(`options.${name}: "sometimes" is not one of`);
    }
  });
});

describe('securityOnReselect', () => {
  for (const [choice, sw] of [
    ['keep', '9000'],
    ['clear', '6982'],
  ] as const) {
    it(`${choice}: verify, re-select the JPKI AP, select the key, sign → ${sw}`, () => {
      const card = cardWith({ securityOnReselect: choice });
      jpkiSignReady(card);
      expect(card.send(kSelectJpki).sw).toBe('9000');
      expect(card.send(kSelectAuthKey).sw).toBe('9000');
      const r = card.send(sign('00'));
      expect(r.sw).toBe(sw);
      expect(r.data.length).toBe(sw === '9000' ? 512 : 0);
    });
  }
});

describe('kenhojoCertificateNeedsPin', () => {
  const readEf0004 = (card: ReturnType<typeof powered>): { data: string; sw: string } => {
    expect(card.send(kSelectKenhojo).sw).toBe('9000');
    expect(card.send('00A4020C020004').sw).toBe('9000');
    return card.send('00B00000000238'); // extended Le 568
  };

  it('false (default): EF 0004 reads without VERIFY; EF 0001..0003 still need the PIN', () => {
    const card = cardWith();
    const r = readEf0004(card);
    expect(r.sw).toBe('9000');
    expect(Buffer.from(r.data, 'hex').toString('base64')).toBe(adult.image.applets.kenhojo.files['0004']);
    for (const fid of ['0001', '0002', '0003']) {
      expect(card.send(`00A4020C02${fid}`).sw).toBe('9000');
      expect(card.send('00B0000004').sw, fid).toBe('6982');
    }
  });

  it('true: EF 0004 answers 6982 until the kenhojo PIN is verified', () => {
    const card = cardWith({ kenhojoCertificateNeedsPin: true });
    expect(readEf0004(card).sw).toBe('6982');
    expect(card.send('00A4020C020011').sw).toBe('9000');
    expect(card.send(kVerify1234).sw).toBe('9000');
    expect(card.send('00A4020C020004').sw).toBe('9000');
    expect(card.send('00B0000004').sw).toBe('9000');
  });
});

describe('getChallenge', () => {
  it('unsupported (default): 00 84 00 00 08 answers 6D00 with no AP, in the JPKI AP and in kenhojo, whatever the CLA', () => {
    const card = cardWith();
    for (const select of [undefined, kSelectJpki, kSelectKenhojo]) {
      if (select) expect(card.send(select).sw).toBe('9000');
      for (const command of ['0084000008', '8084000008', '0084000000', '00840000']) expect(card.send(command), `${command} after ${select}`).toEqual({ data: '', sw: '6D00' });
    }
  });

  it('supported: Le random bytes (Le 00 = 256), fresh each time, in every AP', () => {
    const card = cardWith({ getChallenge: 'supported' });
    const seen = new Set<string>();
    for (const select of [undefined, kSelectJpki, kSelectKenhojo]) {
      if (select) expect(card.send(select).sw).toBe('9000');
      const r = card.send('0084000008');
      expect(r.sw).toBe('9000');
      expect(r.data.length).toBe(16);
      seen.add(r.data);
    }
    expect(seen.size).toBe(3);
    expect(card.send('0084000001').data.length).toBe(2);
    expect(card.send('0084000000').data.length).toBe(512);
    expect(card.send('00840000000100').data.length).toBe(512); // extended Le 256
  });

  it('supported: no Le → 6700, extended Le above 256 → 6700, P1-P2 other than 00 00 → 6A86, CLA 80 → 6E00', () => {
    const card = cardWith({ getChallenge: 'supported' });
    expect(card.send('00840000')).toEqual({ data: '', sw: '6700' });
    expect(card.send('008400000100')).toEqual({ data: '', sw: '6700' }); // a data field and no Le
    expect(card.send('00840000000101')).toEqual({ data: '', sw: '6700' });
    expect(card.send('0084000108')).toEqual({ data: '', sw: '6A86' });
    expect(card.send('8084000008')).toEqual({ data: '', sw: '6E00' });
  });
});

describe('shortLe: an answer longer than Ne', () => {
  let fullSignature: string;
  beforeAll(() => {
    const card = cardWith();
    jpkiSignReady(card);
    fullSignature = card.send(sign('00')).data;
    expect(fullSignature.length).toBe(512);
  });

  it('truncate (default): the first Ne bytes with 9000 — signature with Le 30, FCI and FCP with Le 01, the 住基 record with Le 05', () => {
    const card = cardWith();
    jpkiSignReady(card);
    expect(card.send(sign('30'))).toEqual({ data: fullSignature.slice(0, 96), sw: '9000' });
    expect(card.send('00A4040C0AD392F000260100000001').sw).toBe('9000');
    expect(card.send('00A404000AD392F00026010000000101')).toEqual({ data: '6F', sw: '9000' });
    expect(card.send('00A40200020006' + '01')).toEqual({ data: '62', sw: '9000' });
    expect(card.send('00A4040C0AD3921000310001010100').sw).toBe('9000');
    const record = card.send('00B2010C00');
    expect(record.sw).toBe('9000');
    expect(card.send('00B2010C05')).toEqual({ data: record.data.slice(0, 10), sw: '9000' });
  });

  it('6Cxx: no data and 6C + the exact length; sending again with that Le gives the whole answer', () => {
    const card = cardWith({ shortLe: '6Cxx' });
    jpkiSignReady(card);
    expect(card.send(sign('30'))).toEqual({ data: '', sw: '6C00' });
    expect(card.send(sign('00'))).toEqual({ data: fullSignature, sw: '9000' });
    expect(card.send('00A404000AD392F00026010000000101')).toEqual({ data: '', sw: '6C0E' });
    expect(card.send('00A404000AD392F0002601000000010E')).toEqual({ data: '6F0C840AD392F000260100000001', sw: '9000' });
    // READ BINARY is not shortened: Ne bytes is its whole answer, and past the end it gives what remains.
    expect(card.send('00A4020C020006').sw).toBe('9000');
    expect(card.send('00B0000005').data.length).toBe(10);
    expect(card.send('00B0001E10')).toEqual({ data: card.send('00B0001E02').data, sw: '9000' });
  });

  it('61xx: the first Ne bytes with 61 + what is left, the rest by GET RESPONSE; GET RESPONSE after another command answers 6985', () => {
    const card = cardWith({ shortLe: '61xx' });
    jpkiSignReady(card);
    const first = card.send(sign('30'));
    expect(first).toEqual({ data: fullSignature.slice(0, 96), sw: '61D0' });
    const second = card.send('00C0000040');
    expect(second).toEqual({ data: fullSignature.slice(96, 224), sw: '6190' });
    const rest = card.send('00C0000000');
    expect(rest).toEqual({ data: fullSignature.slice(224), sw: '9000' });
    expect(card.send('00C0000000')).toEqual({ data: '', sw: '6985' });
    // A whole answer within Ne is not split.
    expect(card.send(sign('00'))).toEqual({ data: fullSignature, sw: '9000' });
    // Another command drops what was waiting.
    expect(card.send(sign('10')).sw).toBe('61F0');
    expect(card.send(kSelectAuthKey).sw).toBe('9000');
    expect(card.send('00C0000000')).toEqual({ data: '', sw: '6985' });
  });

  it('GET RESPONSE is not an instruction of a truncate or 6Cxx card (6D00)', () => {
    for (const shortLe of ['truncate', '6Cxx'] as const) {
      const card = cardWith({ shortLe });
      jpkiSignReady(card);
      card.send(sign('30'));
      expect(card.send('00C0000000')).toEqual({ data: '', sw: '6D00' });
    }
  });
});

describe('signWithoutLe: COMPUTE DIGITAL SIGNATURE as case 3', () => {
  it('full (default): the 256-byte signature with 9000, as with Le 00', () => {
    const card = cardWith();
    jpkiSignReady(card);
    const withLe = card.send(sign('00'));
    expect(card.send(sign(''))).toEqual(withLe);
  });

  it('6700: no data and 6700; with Le the signature still comes', () => {
    const card = cardWith({ signWithoutLe: '6700' });
    jpkiSignReady(card);
    expect(card.send(sign(''))).toEqual({ data: '', sw: '6700' });
    expect(card.send(sign('00')).data.length).toBe(512);
  });
});

describe('tlvLongLength at issuance', () => {
  const ef0002 = (fixture: IssuedFixture): Uint8Array => Uint8Array.from(Buffer.from(fixture.image.applets.kenhojo.files['0002']!, 'base64'));

  it('two-byte (default): kenhojo EF 0002 of 128..255 content bytes starts FF 20 82 00 LL and reads back', () => {
    const bytes = ef0002(adult);
    expect(bytes.length - 5).toBeGreaterThanOrEqual(128);
    expect(bytes.length - 5).toBeLessThan(256);
    expect(Buffer.from(bytes.subarray(0, 4)).toString('hex')).toBe('ff208200');
    expect(bytes[4]).toBe(bytes.length - 5);
    expect(parseKenhojoBasic4(bytes).address).toBe(adult.definition.identity.address);
    expect(adult.image.options.tlvLongLength).toBe('two-byte');
  });

  it('minimal: FF 20 81 LL, recorded in the image', () => {
    const bytes = ef0002(minimal);
    expect(Buffer.from(bytes.subarray(0, 3)).toString('hex')).toBe('ff2081');
    expect(parseKenhojoBasic4(bytes).address).toBe(minimal.definition.identity.address);
    expect(minimal.image.options.tlvLongLength).toBe('minimal');
  });

  it('an image issued before the option existed records the form its bytes have, and keeps its other stored options', () => {
    const strip = (image: CardImage): unknown => {
      const { tlvLongLength: _dropped, ...rest } = image.options;
      return JSON.parse(JSON.stringify({ ...image, options: { ...rest, kenhojoCertificateNeedsPin: true } }));
    };
    const old = validateCardImage(strip(minimal.image));
    expect(old.options.tlvLongLength).toBe('minimal');
    expect(old.options.kenhojoCertificateNeedsPin).toBe(true);
    expect(validateCardImage(strip(adult.image)).options.tlvLongLength).toBe('two-byte');
  });
});
