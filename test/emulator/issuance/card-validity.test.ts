import { describe, it, expect } from 'vitest';
import {
  birthdayAfter,
  decodeJpkiBirth,
  defaultCardNotAfter,
  encodeJpkiBirth,
  fifthBirthdayAfter,
  localityFromAddress,
  opaqueId,
} from '../../../emulator/issuance/test-ca.js';

describe('fifthBirthdayAfter', () => {
  it('counts birthdays strictly after the issue date and returns 00:00 JST', () => {
    expect(fifthBirthdayAfter('1990-05-10', new Date('2024-01-22T00:00:00Z')).toISOString()).toBe('2028-05-09T15:00:00.000Z');
    expect(defaultCardNotAfter('1990-05-10', new Date('2024-01-22T00:00:00Z')).toISOString()).toBe('2028-05-09T14:59:59.000Z');
  });

  it('does not count a birthday on the issue date itself', () => {
    expect(fifthBirthdayAfter('1990-01-22', new Date('2024-01-22T03:00:00Z')).toISOString()).toBe('2029-01-21T15:00:00.000Z');
  });

  it('uses the Japanese calendar date of issue', () => {
    // 15:30Z on the 21st is already the 22nd (the birthday) in Japan, so that birthday does not count.
    expect(fifthBirthdayAfter('1990-01-22', new Date('2024-01-21T15:30:00Z')).toISOString()).toBe('2029-01-21T15:00:00.000Z');
    // 14:30Z on the 21st is still the 21st in Japan: the next day's birthday is the first one.
    expect(fifthBirthdayAfter('1990-01-22', new Date('2024-01-21T14:30:00Z')).toISOString()).toBe('2028-01-21T15:00:00.000Z');
  });

  it('moves a 29 February birthday to 1 March in common years', () => {
    // Issued 2024-06-01: birthdays 2025-03-01, 2026-03-01, 2027-03-01, 2028-02-29, 2029-03-01.
    expect(fifthBirthdayAfter('2000-02-29', new Date('2024-06-01T00:00:00Z')).toISOString()).toBe('2029-02-28T15:00:00.000Z');
    expect(defaultCardNotAfter('2000-02-29', new Date('2024-06-01T00:00:00Z')).toISOString()).toBe('2029-02-28T14:59:59.000Z');
    // Issued on 1 March of a common year: that day's "birthday" is the issue date, so it does not count.
    expect(fifthBirthdayAfter('2000-02-29', new Date('2023-03-01T00:00:00Z')).toISOString()).toBe('2028-02-28T15:00:00.000Z');
    // Issued on 28 February of a common year: the 1 March birthday is the first.
    expect(fifthBirthdayAfter('2000-02-29', new Date('2023-02-28T00:00:00Z')).toISOString()).toBe('2027-02-28T15:00:00.000Z');
  });

  it('generalises to the n-th birthday (card expiry uses the 10th)', () => {
    expect(birthdayAfter('1990-05-10', new Date('2024-01-22T00:00:00Z'), 1).toISOString()).toBe('2024-05-09T15:00:00.000Z');
    expect(birthdayAfter('1990-05-10', new Date('2024-01-22T00:00:00Z'), 10).toISOString()).toBe('2033-05-09T15:00:00.000Z');
    expect(() => birthdayAfter('1990-05-10', new Date(), 0)).toThrow(/positive/);
  });

  it('rejects invalid dates', () => {
    expect(() => fifthBirthdayAfter('1990-02-30', new Date())).toThrow(/YYYY-MM-DD/);
    expect(() => fifthBirthdayAfter('19900101', new Date())).toThrow(/YYYY-MM-DD/);
    expect(() => fifthBirthdayAfter('1990-01-01', new Date(NaN))).toThrow();
  });
});

describe('JPKI date of birth (EYYYYMMDD)', () => {
  it('matches the reference fixture', () => {
    expect(encodeJpkiBirth('1990-01-02')).toBe('419900102');
  });

  it('takes the era code from the birth date', () => {
    expect(encodeJpkiBirth('1989-01-07')).toBe('319890107');
    expect(encodeJpkiBirth('1989-01-08')).toBe('419890108');
    expect(encodeJpkiBirth('2019-04-30')).toBe('420190430');
    expect(encodeJpkiBirth('2019-05-01')).toBe('520190501');
    expect(encodeJpkiBirth('1926-12-24')).toBe('219261224');
    expect(encodeJpkiBirth('1926-12-25')).toBe('319261225');
    expect(encodeJpkiBirth('1912-07-29')).toBe('119120729');
    expect(() => encodeJpkiBirth('1850-01-01')).toThrow(/Meiji/);
  });

  it('decodes back, with or without the era code', () => {
    expect(decodeJpkiBirth('419900102')).toBe('1990-01-02');
    expect(decodeJpkiBirth('19900102')).toBe('1990-01-02');
    expect(() => decodeJpkiBirth('4199001')).toThrow();
    expect(() => decodeJpkiBirth('419900231')).toThrow();
  });
});

describe('localityFromAddress', () => {
  it.each([
    ['東京都千代田区千代田1-1', '東京都千代田区'],
    ['東京都清瀬市中里5丁目842番地', '東京都清瀬市'],
    ['神奈川県横浜市中区日本大通1', '神奈川県横浜市'],
    ['三重県四日市市諏訪町1-5', '三重県四日市市'],
    ['千葉県市川市八幡1-1-1', '千葉県市川市'],
    ['東京都町田市森野2-2-22', '東京都町田市'],
    ['長野県大町市大町3887', '長野県大町市'],
    ['北海道虻田郡倶知安町北1条東3丁目', '北海道虻田郡倶知安町'],
    ['奈良県大和郡山市北郡山町248-4', '奈良県大和郡山市'],
    ['福島県郡山市朝日1-23-7', '福島県郡山市'],
    ['東京都新宿区市谷本村町5-1', '東京都新宿区'],
    ['東京都大島町元町1-1-14', '東京都大島町'],
    ['〒100-0013 東京都千代田区霞が関2-1-2', '東京都千代田区'],
  ])('%s → %s', (address, locality) => {
    expect(localityFromAddress(address)).toBe(locality);
  });

  it('refuses to guess', () => {
    expect(() => localityFromAddress('1 Test Street')).toThrow(/locality/);
    expect(() => localityFromAddress('東京都')).toThrow(/locality/);
  });
});

describe('opaqueId', () => {
  it('is 20 upper-case alphanumerics and random', () => {
    const ids = Array.from({ length: 50 }, () => opaqueId());
    for (const id of ids) expect(id).toMatch(/^[A-Z0-9]{20}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
