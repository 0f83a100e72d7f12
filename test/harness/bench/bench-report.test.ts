/** The benchmark's HTML page and terminal table, from a made-up result. */
import { describe, expect, it } from 'vitest';
import { benchReportHtml } from '../../../harness/bench/bench-report.js';
import { formatBench, type BenchResult } from '../../../harness/bench/bench.js';

const measured = (value: number): { value: number } => ({ value });
const unmeasured = { value: null, reason: 'PC/SC path unavailable: <no pcscd> & more' };

const result: BenchResult = {
  date: '2026-01-02T03:04:05.000Z',
  node: '20.19.0',
  workers: 2,
  openssl: { single: measured(1000), multi: measured(2000) },
  inprocess: {
    apduPerSec: measured(90_000),
    signPerSec: measured(900),
    single: measured(900),
    multi: measured(1800),
    byWorkers: [
      { workers: 1, signPerSec: measured(910) },
      { workers: 2, signPerSec: measured(1800) },
    ],
  },
  pcsc: { apduPerSec: unmeasured, signPerSec: unmeasured, apduMedianMs: unmeasured },
  pcscWithoutFix: { apduPerSec: unmeasured, signPerSec: unmeasured, apduMedianMs: unmeasured },
  portal: { cards: 4, loginsPerSec: measured(250), p50Ms: measured(12), p95Ms: measured(20), p99Ms: measured(31), logins: 750, seconds: 3 },
};

describe('the benchmark report', () => {
  it('puts the portal row next to openssl as a ratio, and the latency percentiles under the table', () => {
    const text = formatBench(result);
    expect(text).toMatch(/portal IC-card logins\/s, 4 cards \(1 signature each\)\s+250\s+0\.25x/);
    expect(text).toContain('p50 12 ms, p95 20 ms, p99 31 ms');
    expect(text).toMatch(/in-process emulator, 1 worker thread\s+910\s+0\.91x/);
  });

  it('says why the portal was not measured', () => {
    const skipped = { value: null, reason: 'skipped (--no-portal)' };
    const text = formatBench({ ...result, portal: { cards: 4, loginsPerSec: skipped, p50Ms: skipped, p95Ms: skipped, p99Ms: skipped, logins: null, seconds: null } });
    expect(text).toMatch(/portal IC-card logins\/s, 4 cards \(1 signature each\)\s+n\/a \[2\]\s+n\/a\n/);
    expect(text).toContain('portal login latency: n/a [2]');
    expect(text).toContain('[2] skipped (--no-portal)');
  });

  it('writes one self-contained HTML page with the table and the chart, every text escaped', () => {
    const page = benchReportHtml(result);
    expect(page).toMatch(/^<!DOCTYPE html>/);
    expect(page).toContain('<td>portal IC-card logins/s, 4 cards (1 signature each)</td><td class="n"></td><td class="n">250</td><td class="n">0.25x</td>');
    // One note per reason, the cells pointing to it.
    expect(page).toContain('<td class="n">n/a [1]</td>');
    expect(page).toContain('<li>[1] PC/SC path unavailable: &lt;no pcscd&gt; &amp; more</li>');
    expect(page.match(/PC\/SC path unavailable/g)).toHaveLength(1);
    expect(page).not.toContain('<no pcscd>');
    expect(page).toMatch(/<svg [\s\S]*data-series="openssl"[\s\S]*<\/svg>/);
    expect(page).not.toMatch(/<script|<link|src=|@import/);
  });
});
