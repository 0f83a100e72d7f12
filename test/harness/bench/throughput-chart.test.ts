/**
 * The benchmark chart: well-formed, self-contained SVG whatever the figures say, with the points
 * where the figures put them and every text escaped.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { niceCeiling, throughputChartSvg, type ThroughputFigures } from '../../../harness/bench/throughput-chart.js';
import { tempDir } from '../../support/cards.js';

const dir = tempDir('jpki-hil-chart-');
afterAll(() => dir.remove());

function expectWellFormed(svg: string): void {
  const file = join(dir.path, `chart-${Math.random().toString(36).slice(2)}.svg`);
  writeFileSync(file, svg);
  const r = spawnSync('xmllint', ['--noout', file], { encoding: 'utf8' });
  if (r.error) throw new Error(`xmllint is needed to check the chart (${r.error.message}); install it with: apt-get install libxml2-utils`);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

const figures = (change: Partial<ThroughputFigures> = {}): ThroughputFigures => ({
  workers: 2,
  openssl: { single: { value: 1000 }, multi: { value: 2000 } },
  inprocess: {
    single: { value: 950 },
    multi: { value: 1800 },
    byWorkers: [
      { workers: 1, signPerSec: { value: 900 } },
      { workers: 2, signPerSec: { value: 1800 } },
    ],
  },
  ...change,
});

/** Plot geometry of throughput-chart.ts: the plot's top and bottom edges in SVG units. */
const kTop = 44;
const kBottom = 316;

function circles(svg: string): { cx: number; cy: number }[] {
  return [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => ({ cx: Number(m[1]), cy: Number(m[2]) }));
}

describe('throughputChartSvg', () => {
  it('is self-contained SVG with axis labels, a legend and both series', () => {
    const svg = throughputChartSvg(figures());
    expectWellFormed(svg);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('worker threads (openssl: processes)');
    expect(svg).toContain('signatures/s (RSA-2048)');
    expect(svg).toContain('openssl speed rsa2048 (1 process at 1, -multi 2 at 2)');
    expect(svg).toMatch(/<g data-series="openssl"[^>]*>\s*<path d="M/);
    expect(svg).toContain('data-series="inprocess"');
    // Nothing fetched from elsewhere: no links, images, scripts, web fonts or style sheets.
    expect(svg).not.toMatch(/href|<image|<script|@import|@font-face|url\(/);
  });

  it('scales the y axis to a round ceiling and places every point in proportion', () => {
    const svg = throughputChartSvg(figures());
    // Ceiling 2000: openssl -multi is at the top edge, openssl single halfway.
    expect(svg).toContain(`V${kTop}"`);
    const path = /<path d="M([\d.]+) ([\d.]+) H([\d.]+) V([\d.]+)"/.exec(svg)!;
    expect(Number(path[2])).toBeCloseTo((kTop + kBottom) / 2, 0);
    const [one, two] = circles(svg);
    expect(two!.cx).toBeGreaterThan(one!.cx);
    // 900 and 1800 of 2000: heights above the axis in the ratio 1:2.
    expect((kBottom - two!.cy) / (kBottom - one!.cy)).toBeCloseTo(2, 1);
    expect(kBottom - two!.cy).toBeCloseTo((1800 / 2000) * (kBottom - kTop), 0);
    // The y tick labels run from 0 to the ceiling.
    expect(svg).toMatch(/>0<\/text>/);
    expect(svg).toMatch(/>2,000<\/text>/);
  });

  it('rounds the ceiling up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(niceCeiling(1197)).toBe(2000);
    expect(niceCeiling(1000)).toBe(1000);
    expect(niceCeiling(2100)).toBe(2500);
    expect(niceCeiling(4200)).toBe(5000);
    expect(niceCeiling(0.3)).toBeCloseTo(0.5);
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(Number.NaN)).toBe(1);
  });

  it('escapes the reasons of unmeasured figures and leaves their points out', () => {
    const svg = throughputChartSvg(
      figures({
        openssl: { single: { value: 1000 }, multi: { value: null, reason: `openssl <speed> failed: "x" & 'y'` } },
        inprocess: {
          single: { value: 950 },
          multi: { value: null, reason: 'worker threads failed' },
          byWorkers: [
            { workers: 1, signPerSec: { value: 900 } },
            { workers: 2, signPerSec: { value: null, reason: 'worker threads failed' } },
          ],
        },
      }),
    );
    expectWellFormed(svg);
    expect(svg).toContain('not measured: openssl &lt;speed&gt; failed: &quot;x&quot; &amp; &apos;y&apos;');
    expect(svg).not.toContain('<speed>');
    expect(circles(svg)).toHaveLength(1);
  });

  it('falls back to 1 and N from the single and multi figures, and thins the x ticks for many workers', () => {
    const svg = throughputChartSvg({
      workers: 64,
      openssl: { single: { value: 1000 }, multi: { value: 60_000 } },
      inprocess: { single: { value: 900 }, multi: { value: 50_000 } },
    });
    expectWellFormed(svg);
    expect(circles(svg)).toHaveLength(2);
    const ticks = [...svg.matchAll(/text-anchor="middle" font-family="sans-serif" font-size="11"[^>]*>(\d+)<\/text>/g)].map((m) => Number(m[1]));
    expect(ticks[0]).toBe(1);
    expect(ticks.at(-1)).toBe(64);
    expect(ticks.length).toBeLessThanOrEqual(10);
  });

  it('still draws axes when nothing was measured', () => {
    const none = { value: null, reason: 'skipped' };
    const svg = throughputChartSvg({ workers: 1, openssl: { single: none, multi: none }, inprocess: { single: none, multi: none } });
    expectWellFormed(svg);
    expect(svg).not.toContain('data-series');
    expect(svg).toContain('not measured: skipped');
  });
});
