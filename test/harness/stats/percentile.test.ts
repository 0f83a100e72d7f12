import { describe, expect, it } from 'vitest';
import { percentile } from '../../../harness/stats/percentile.js';

describe('percentile (nearest rank)', () => {
  it('gives the smallest value with at least p % at or below it', () => {
    expect(percentile([1, 2], 50)).toBe(1);
    expect(percentile([1, 2, 3], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 75)).toBe(3);
    expect(percentile([1, 2, 3, 4], 76)).toBe(4);
    expect(percentile([7], 99)).toBe(7);
  });

  it('p0 is the smallest, p100 the largest, p99 of 100 values the 99th', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 95)).toBe(95);
  });

  it('is NaN for no values and refuses a p outside 0–100', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});
