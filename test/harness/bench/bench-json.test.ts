/** The JSON of `bench --json`: plain numbers, and null with the reason in its group. */
import { describe, expect, it } from 'vitest';
import { benchJson, benchRatios, type BenchResult } from '../../../harness/bench/bench.js';
import { combineRounds, cpuMicrosPerApdu, processCpuNs } from '../../../harness/bench/served-process.js';

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

  it('divides the served card\'s signatures by the openssl measured between its rounds, and older results by the run\'s', () => {
    const base: BenchResult = {
      date: '2026-12-03T00:00:00.000Z',
      node: 'v20',
      workers: 2,
      openssl: { single: ok(4000), multi: ok(8000) },
      inprocess: { apduPerSec: ok(1), signPerSec: ok(1), single: ok(1), multi: ok(1), byWorkers: [] },
      pcsc: { apduPerSec: ok(1), signPerSec: ok(1), apduMedianMs: ok(1) },
      pcscWithoutFix: { apduPerSec: ok(1), signPerSec: ok(1), apduMedianMs: ok(1) },
      portal: { cards: 4, loginsPerSec: ok(1), p50Ms: ok(1), p95Ms: ok(1), p99Ms: ok(1), logins: 1, seconds: 1 },
    };
    const served = { referenceApduPerSec: ok(8000), referenceMedianMs: ok(0.12), apduPerSec: ok(7600), apduMedianMs: ok(0.13), signPerSec: ok(2000) };
    const paired = benchRatios({
      ...base,
      servedProcess: { ...served, selectSignPerSec: ok(1500), opensslSignPerSec: ok(3200), referenceCpuUsPerApdu: ok(27), apduCpuUsPerApdu: ok(36), rounds: 6 },
    });
    // CPU per APDU: lower is leaner, so the ratio is the reference's ÷ card serve's.
    expect(paired.servedProcessApduCpuVsReferenceVicc).toBe(0.75);
    const besideNode = benchRatios({
      ...base,
      servedProcess: { ...served, nodeReferenceApduPerSec: ok(8000), nodeReferenceCpuUsPerApdu: ok(35), apduPerSecBesideNode: ok(7800), apduCpuUsPerApduBesideNode: ok(35) },
    });
    expect(besideNode.servedProcessApduVsNodeVicc).toBe(0.975);
    // Logins against the openssl around them, older results against the run's.
    expect(benchRatios({ ...base, portal: { ...base.portal, loginsPerSec: ok(600), opensslSignPerSec: ok(3000) } }).portalLoginsVsOpenssl).toBe(0.2);
    expect(benchRatios({ ...base, portal: { ...base.portal, loginsPerSec: ok(600) } }).portalLoginsVsOpenssl).toBe(0.15);
    expect(besideNode.servedProcessApduCpuVsNodeVicc).toBe(1);
    expect(paired.servedProcessApduVsNodeVicc).toBeNull();
    expect(paired.servedProcessApduVsReferenceVicc).toBe(0.95);
    expect(paired.servedProcessSignVsOpenssl).toBe(0.625);
    expect(paired.servedProcessSelectSignVsOpenssl).toBe(0.469);
    const older = benchRatios({ ...base, servedProcess: served });
    expect(older.servedProcessSignVsOpenssl).toBe(0.5);
    expect(older.servedProcessSelectSignVsOpenssl).toBeNull();
    expect(older.servedProcessApduCpuVsReferenceVicc).toBeNull();
  });
});

describe('combineRounds', () => {
  it('adds counts and times of the rounds and takes the median of their medians', () => {
    const rounds = [
      { count: 100, seconds: 0.5, perSec: 200, medianMs: 0.3 },
      { count: 300, seconds: 0.5, perSec: 600, medianMs: 0.1 },
      { count: 200, seconds: 1, perSec: 200, medianMs: 0.2 },
    ];
    expect(combineRounds(rounds)).toEqual({ count: 600, seconds: 2, perSec: 300, medianMs: 0.2 });
    expect(combineRounds([])).toEqual({ count: 0, seconds: 0, perSec: 0, medianMs: NaN });
  });

  it('sums the card process\'s CPU time only when every round measured it', () => {
    const measured = combineRounds([
      { count: 1000, seconds: 0.5, perSec: 2000, medianMs: 0.1, cardCpuNs: 30e6 },
      { count: 3000, seconds: 0.5, perSec: 6000, medianMs: 0.1, cardCpuNs: 90e6 },
    ]);
    expect(measured.cardCpuNs).toBe(120e6);
    expect(cpuMicrosPerApdu(measured)).toBe(30);
    const partly = combineRounds([
      { count: 1000, seconds: 0.5, perSec: 2000, medianMs: 0.1, cardCpuNs: 30e6 },
      { count: 1000, seconds: 0.5, perSec: 2000, medianMs: 0.1 },
    ]);
    expect(partly.cardCpuNs).toBeUndefined();
    expect(cpuMicrosPerApdu(partly)).toBeUndefined();
  });
});

describe('processCpuNs', () => {
  it('reads a process\'s CPU time from /proc, all threads summed, and nothing for a process that is not there', () => {
    const before = processCpuNs(process.pid);
    expect(before).toBeGreaterThan(0);
    let x = 0;
    const end = Date.now() + 30;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect(processCpuNs(process.pid)!).toBeGreaterThan(before!);
    expect(processCpuNs(2 ** 22 + 1)).toBeUndefined();
  });
});
