/**
 * The identity side of issuance: dates of birth in the JPKI era form, the fifth-birthday
 * validity, the locality of an address, the opaque subject CN, and the checks of an identity.
 */
import { randomBytes } from 'node:crypto';
import { kJstOffsetMs } from '../../common/jst.js';
import type { Identity } from './identity.js';

export function parseBirth(birth: string): { year: number; month: number; day: number } {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birth);
  const [year, month, day] = match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [NaN, NaN, NaN];
  const check = new Date(Date.UTC(year, month - 1, day));
  if (!match || check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
    throw new TypeError(`birth date "${birth}" is not a valid YYYY-MM-DD date`);
  }
  return { year, month, day };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * A 29 February birthday falls on 1 March in common years. With the card rule "valid until the
 * day before", that ends validity at the close of 28 February, the moment Japanese law (民法
 * 第143条 with 年齢計算ニ関スル法律) counts the holder a year older.
 */
export function birthdayIn(year: number, month: number, day: number): { month: number; day: number } {
  return month === 2 && day === 29 && !isLeapYear(year) ? { month: 3, day: 1 } : { month, day };
}

/**
 * The `count`-th birthday strictly after the (JST) issue date, as the instant 00:00 JST of that
 * day. A birthday on the issue date itself does not count (J-LIS: 「発行の日後の5回目の誕生日」).
 */
export function birthdayAfter(birth: string, issued: Date, count: number): Date {
  const b = parseBirth(birth);
  if (Number.isNaN(issued.getTime())) throw new RangeError('invalid issue Date');
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`birthday count ${count} must be a positive integer`);
  const jst = new Date(issued.getTime() + kJstOffsetMs);
  const issueYear = jst.getUTCFullYear();
  const issueKey = (jst.getUTCMonth() + 1) * 100 + jst.getUTCDate();
  const thisYear = birthdayIn(issueYear, b.month, b.day);
  const firstYear = thisYear.month * 100 + thisYear.day > issueKey ? issueYear : issueYear + 1;
  const year = firstYear + count - 1;
  const { month, day } = birthdayIn(year, b.month, b.day);
  return new Date(Date.UTC(year, month - 1, day) - kJstOffsetMs);
}

/** The birthday that ends a JPKI certificate's default validity. */
export function fifthBirthdayAfter(birth: string, issued: Date): Date {
  return birthdayAfter(birth, issued, 5);
}

/** Default card-certificate notAfter: 23:59:59 JST (14:59:59Z) of the day before `fifthBirthdayAfter`. */
export function defaultCardNotAfter(birth: string, issued: Date): Date {
  return new Date(fifthBirthdayAfter(birth, issued).getTime() - 1000);
}

/** Gregorian start dates of the eras, with the one-digit codes used in the JPKI date of birth. */
export const kEras: ReadonlyArray<{ code: string; start: number }> = [
  { code: '5', start: Date.UTC(2019, 4, 1) }, // 令和
  { code: '4', start: Date.UTC(1989, 0, 8) }, // 平成
  { code: '3', start: Date.UTC(1926, 11, 25) }, // 昭和
  { code: '2', start: Date.UTC(1912, 6, 30) }, // 大正
  { code: '1', start: Date.UTC(1868, 9, 23) }, // 明治
];

/**
 * The JPKI date-of-birth value `EYYYYMMDD`: the era code of the birth date followed by the
 * Gregorian date. The reference's fixture "419900102" is 1990-01-02 with 4 = 平成, which is the
 * era of that date, so E is derived, not a constant.
 */
export function encodeJpkiBirth(birth: string): string {
  const { year, month, day } = parseBirth(birth);
  const t = Date.UTC(year, month - 1, day);
  const era = kEras.find((e) => t >= e.start);
  if (era === undefined) throw new RangeError(`birth date ${birth} is before the Meiji era`);
  return `${era.code}${birth.replace(/-/g, '')}`;
}

/** Inverse of `encodeJpkiBirth`; also accepts a bare YYYYMMDD. */
export function decodeJpkiBirth(value: string): string {
  const match = /^[1-5]?(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (!match) throw new TypeError(`"${value}" is not a JPKI date of birth (EYYYYMMDD)`);
  const birth = `${match[1]}-${match[2]}-${match[3]}`;
  parseBirth(birth);
  return birth;
}

export const kPrefectures = [
  '北海道', '青森県', '岩手県', '宮城県', '秋田県', '山形県', '福島県', '茨城県', '栃木県', '群馬県', '埼玉県', '千葉県',
  '東京都', '神奈川県', '新潟県', '富山県', '石川県', '福井県', '山梨県', '長野県', '岐阜県', '静岡県', '愛知県', '三重県',
  '滋賀県', '京都府', '大阪府', '兵庫県', '奈良県', '和歌山県', '鳥取県', '島根県', '岡山県', '広島県', '山口県', '徳島県',
  '香川県', '愛媛県', '高知県', '福岡県', '佐賀県', '長崎県', '熊本県', '大分県', '宮崎県', '鹿児島県', '沖縄県',
];

export function firstIndexFrom(text: string, chars: string, from: number): number {
  let best = -1;
  for (const c of chars) {
    const i = text.indexOf(c, from);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/**
 * Prefecture + municipality (市/区/町/村, or 郡+町/村) from a Japanese address, for the signature
 * certificate's L attribute. A heuristic: names like 余市郡 defeat it, so callers can pass
 * `locality` instead; it throws rather than guess when nothing fits.
 */
export function localityFromAddress(address: string): string {
  const text = address.trim().replace(/^〒?\s*\d{3}-?\d{4}\s*/, '');
  const prefecture = kPrefectures.find((p) => text.startsWith(p));
  if (prefecture === undefined) throw new TypeError(`cannot find a prefecture at the start of the address "${address}"; pass locality explicitly`);
  const rest = text.slice(prefecture.length);
  const county = /^([^市区]+?郡)([^市区]+?[町村])/.exec(rest);
  if (county) return prefecture + county[1] + county[2];
  // Index 0 is skipped so names beginning with the suffix character (市川市, 町田市) survive.
  let end = firstIndexFrom(rest, '市区', 1);
  if (end >= 0 && rest[end] === '市' && rest[end + 1] === '市') end++; // 四日市市, 廿日市市
  if (end < 0) end = firstIndexFrom(rest, '町村', 1);
  if (end < 0) throw new TypeError(`cannot find a municipality in the address "${address}"; pass locality explicitly`);
  return prefecture + rest.slice(0, end + 1);
}

export const kOpaqueAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** 20 random upper-case alphanumerics: the subject CN, deliberately unrelated to the holder. */
export function opaqueId(length = 20): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // Rejection sampling keeps the 36 symbols equiprobable (252 = 7 × 36).
      if (b < 252 && out.length < length) out += kOpaqueAlphabet[b % 36];
    }
  }
  return out;
}

export function checkIdentity(identity: Identity): void {
  parseBirth(identity.birth);
  if (!['1', '2', '9'].includes(identity.sex)) throw new TypeError(`sex "${identity.sex}" is not an ISO 5218 code (1, 2 or 9)`);
  if (identity.name.trim() === '') throw new TypeError('identity.name is empty');
  if (identity.address.trim() === '') throw new TypeError('identity.address is empty');
}

