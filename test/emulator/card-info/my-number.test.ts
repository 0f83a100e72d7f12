import { describe, expect, it } from 'vitest';
import { isValidMyNumber, myNumberCheckDigit, randomMyNumber } from '../../../emulator/issuance/my-number.js';

describe('myNumberCheckDigit', () => {
  it('computes the check digit of 12345678901 by the published formula', () => {
    // Digits from the right: P1..P11 = 1,0,9,8,7,6,5,4,3,2,1 with weights Q1..Q11 = 2,3,4,5,6,7,2,3,4,5,6.
    // Sum = 1*2 + 0*3 + 9*4 + 8*5 + 7*6 + 6*7 + 5*2 + 4*3 + 3*4 + 2*5 + 1*6
    //     = 2 + 0 + 36 + 40 + 42 + 42 + 10 + 12 + 12 + 10 + 6 = 212.
    // 212 mod 11 = 212 - 19*11 = 3, so the check digit is 11 - 3 = 8.
    expect(myNumberCheckDigit('12345678901')).toBe(8);
    expect(isValidMyNumber('123456789018')).toBe(true);
  });

  it('gives 0 when the remainder is 1', () => {
    // P1 = 3 (weight 2) and P11 = 1 (weight 6): 6 + 6 = 12, 12 mod 11 = 1 → 0.
    expect(myNumberCheckDigit('10000000003')).toBe(0);
    expect(isValidMyNumber('100000000030')).toBe(true);
  });

  it('gives 0 when the remainder is 0', () => {
    // P1 = 5 (weight 2) and P11 = 2 (weight 6): 10 + 12 = 22, 22 mod 11 = 0 → 0.
    expect(myNumberCheckDigit('20000000005')).toBe(0);
    expect(isValidMyNumber('200000000050')).toBe(true);
  });

  it('weights the 7th digit from the right with 2', () => {
    // Only P7 = 1 (the 5th character): weight 7 - 5 = 2, remainder 2 → 9.
    expect(myNumberCheckDigit('00001000000')).toBe(9);
  });

  it('rejects input that is not 11 digits', () => {
    expect(() => myNumberCheckDigit('1234567890')).toThrow(TypeError);
    expect(() => myNumberCheckDigit('1234567890a')).toThrow(TypeError);
  });
});

describe('isValidMyNumber', () => {
  it('rejects a wrong check digit, wrong length and non-digits', () => {
    expect(isValidMyNumber('123456789017')).toBe(false);
    expect(isValidMyNumber('12345678901')).toBe(false);
    expect(isValidMyNumber('1234567890188')).toBe(false);
    expect(isValidMyNumber('１23456789018')).toBe(false);
  });
});

describe('randomMyNumber', () => {
  it('produces 12 digits with a non-zero first digit and a valid check digit', () => {
    for (let i = 0; i < 200; i++) {
      const n = randomMyNumber();
      expect(n).toMatch(/^[1-9][0-9]{11}$/);
      expect(isValidMyNumber(n)).toBe(true);
    }
  });

  it('uses the injected random source', () => {
    // Always drawing 0 gives first digit 1, then ten zeros: sum = 1*6 = 6, remainder 6 → 5.
    expect(randomMyNumber(() => 0)).toBe('100000000005');
    expect(() => randomMyNumber(() => 10)).toThrow(RangeError);
  });
});
