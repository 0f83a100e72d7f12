/**
 * Nearest-rank percentile (the smallest value with at least p % of the values at or below it) of
 * an ascending array; NaN when empty. p50 of [1, 2] is 1, p100 the largest, p0 the smallest.
 * Every latency figure of the bench and the doctor comes from here.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be between 0 and 100, not ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

