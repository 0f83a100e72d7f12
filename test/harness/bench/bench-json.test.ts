/** The JSON of `bench --json`: plain numbers, and null with the reason in its group. */
import { describe, expect, it } from 'vitest';
import { benchJson, type BenchResult } from '../../../harness/bench/bench.js';

const ok = (value: number) => ({ value });
const gone = (reason: string) => ({ value: null, reason });

describe('benchJson', () => {
  it('writes figures as numbers and a missing figure as null with its group\'s reason', () => {
    const result: BenchResult = {
      date: '2026-11-23T00:00:00.000Z',
      node: 'v20',
      workers: 2,
      openssl: { single: ok(1200), multi: ok(2300) },
      inprocess: { apduPerSec: ok(100000), signPerSec: ok(1100), single: ok(1100), multi: ok(2100), byWorkers: [{ workers: 1, signPerSec: ok(1100) }] },
      pcsc: { apduPerSec: gone('pcscd is not running'), signPerSec: gone('pcscd is not running'), apduMedianMs: gone('pcscd is not running') },
      pcscWithoutFix: { apduPerSec: ok(20), signPerSec: ok(10), apduMedianMs: ok(44) },
      portal: { cards: 4, loginsPerSec: ok(60), p50Ms: ok(50), p95Ms: ok(80), p99Ms: ok(100), logins: 180, seconds: 3 },
    };
    const json = benchJson(result) as Record<string, Record<string, unknown>>;
    expect(json.openssl).toEqual({ single: 1200, multi: 2300 });
    expect(json.inprocess!.byWorkers).toEqual([{ workers: 1, signPerSec: 1100 }]);
    expect(json.pcsc).toEqual({ apduPerSec: null, signPerSec: null, apduMedianMs: null, reason: 'pcscd is not running' });
    expect(json.portal).toMatchObject({ cards: 4, loginsPerSec: 60, p50Ms: 50, p95Ms: 80, p99Ms: 100 });
    expect(json.portal!.reason).toBeUndefined();
    expect(json.workers).toBe(2);
  });
});
