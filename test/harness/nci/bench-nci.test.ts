/** The NFC bridge's rows of the benchmark: the table, the note, and the JSON, measured or not. */
import { describe, expect, it } from 'vitest';
import { benchJson, formatBench, type BenchResult, type NciFigures } from '../../../harness/bench/bench.js';

const ok = (value: number) => ({ value });
const gone = (reason: string) => ({ value: null, reason });
const figures = (apdu: number, sign: number, median: number): NciFigures => ({ apduPerSec: ok(apdu), signPerSec: ok(sign), apduMedianMs: ok(median) });

const base: BenchResult = {
  date: '2026-11-23T00:00:00.000Z',
  node: 'v20',
  workers: 2,
  openssl: { single: ok(1000), multi: ok(2000) },
  inprocess: { apduPerSec: ok(100000), signPerSec: ok(900), single: ok(900), multi: ok(1800), byWorkers: [{ workers: 2, signPerSec: ok(1800) }] },
  pcsc: { apduPerSec: ok(3000), signPerSec: ok(600), apduMedianMs: ok(0.3) },
  pcscWithoutFix: { apduPerSec: ok(22), signPerSec: ok(11), apduMedianMs: ok(44) },
  nci: { baud115200: figures(480, 30, 2.05), baud921600: figures(1900, 160, 0.5) },
  portal: { cards: 4, loginsPerSec: ok(60), p50Ms: ok(50), p95Ms: ok(80), p99Ms: ok(100), logins: 180, seconds: 3 },
};

describe('the NFC bridge in the benchmark report', () => {
  it('has a row per baud rate, with its ratio to openssl, and the median round trips under the table', () => {
    const text = formatBench(base);
    expect(text).toMatch(/NCI bridge over a serial line, 115200 baud\s+480\s+30\s+0\.03x/);
    expect(text).toMatch(/NCI bridge over a serial line, 921600 baud\s+1,900\s+160\s+0\.16x/);
    expect(text).toContain('median APDU round trip through the NCI bridge: 2.05 ms at 115200 baud, 0.5 ms at 921600');
    // The rows sit between the PC/SC rows and the portal's.
    expect(text.indexOf('pcscd + vpcd, stock')).toBeLessThan(text.indexOf('NCI bridge over'));
    expect(text.indexOf('NCI bridge over')).toBeLessThan(text.indexOf('portal IC-card logins'));
  });

  it('says why the bridge was not measured, once', () => {
    const reason = 'socat is not installed; install it with: sudo apt-get install -y socat';
    const missing = { apduPerSec: gone(reason), signPerSec: gone(reason), apduMedianMs: gone(reason) };
    const result = { ...base, nci: { baud115200: missing, baud921600: { ...missing } } };
    const text = formatBench(result);
    expect(text).toMatch(/NCI bridge over a serial line, 115200 baud\s+n\/a \[1\]\s+n\/a \[1\]\s+n\/a/);
    expect(text.match(/socat is not installed/g)).toHaveLength(1);
    const json = benchJson(result) as { nci: Record<string, Record<string, unknown>> };
    expect(json.nci.baud115200).toEqual({ apduPerSec: null, signPerSec: null, apduMedianMs: null, reason });
  });

  it('writes the figures as numbers under nci.baud115200 and nci.baud921600', () => {
    const json = benchJson(base) as { nci: unknown };
    expect(json.nci).toEqual({
      baud115200: { apduPerSec: 480, signPerSec: 30, apduMedianMs: 2.05 },
      baud921600: { apduPerSec: 1900, signPerSec: 160, apduMedianMs: 0.5 },
    });
  });

  it('leaves the rows out of a result made before the bridge existed', () => {
    const { nci: _nci, ...old } = base;
    expect(formatBench(old)).not.toContain('NCI bridge');
  });
});
