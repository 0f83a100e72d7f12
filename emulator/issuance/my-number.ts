/**
 * 個人番号 (My Number): 11 digits followed by a check digit. The check digit algorithm is the one
 * published with the ordinance on the My Number (個人番号の検査用数字を算出する算式): number the first
 * eleven digits P1..P11 from the right, weight them Qn = n+1 for n = 1..6 and n-5 for n = 7..11,
 * take the remainder of the weighted sum modulo 11, and the check digit is 0 when the remainder is
 * 0 or 1, else 11 - remainder.
 */
import { randomInt } from 'node:crypto';

/** Returns an integer in [0, bound); injectable so that tests and seeded scenarios are repeatable. */
export type RandomInt = (bound: number) => number;

const kElevenDigits = /^[0-9]{11}$/;
const kTwelveDigits = /^[0-9]{12}$/;

export function myNumberCheckDigit(first11: string): number {
  if (!kElevenDigits.test(first11)) {
    throw new TypeError(`the check digit is computed over exactly 11 ASCII digits, got "${first11}"`);
  }
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    // P_n counts from the right: P1 is the 11th character, P11 the first.
    const digit = first11.charCodeAt(11 - n) - 0x30;
    const weight = n <= 6 ? n + 1 : n - 5;
    sum += digit * weight;
  }
  const remainder = sum % 11;
  return remainder <= 1 ? 0 : 11 - remainder;
}

/**
 * True for 12 ASCII digits whose last digit is the check digit of the first 11. A leading 0 is
 * accepted: the check digit rule does not exclude it, only our generator avoids it.
 */
export function isValidMyNumber(s: string): boolean {
  if (!kTwelveDigits.test(s)) return false;
  return myNumberCheckDigit(s.slice(0, 11)) === s.charCodeAt(11) - 0x30;
}

/**
 * A fresh 12-digit number with a valid check digit. The first digit is never 0 so that the number
 * survives anything that stores it as an integer (spreadsheets, JSON numbers) without losing a digit.
 */
export function randomMyNumber(rng: RandomInt = randomInt): string {
  // A misbehaving injected generator would otherwise produce "10" for one digit and a 13-character number.
  const draw = (bound: number): number => {
    const value = rng(bound);
    if (!Number.isInteger(value) || value < 0 || value >= bound) {
      throw new RangeError(`random source returned ${value}, expected an integer in [0, ${bound})`);
    }
    return value;
  };
  let first11 = String(1 + draw(9));
  for (let i = 1; i < 11; i++) first11 += String(draw(10));
  return first11 + String(myNumberCheckDigit(first11));
}
