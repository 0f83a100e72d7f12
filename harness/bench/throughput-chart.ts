/**
 * The benchmark's chart: signatures per second against the number of worker threads, the in-process
 * emulator's measured points as a line, and openssl as a step (one process at 1, `-multi N` at N).
 * A self-contained SVG — no scripts, no external fonts or images, every text escaped — that can be
 * saved as a file or put inline in an HTML page.
 */
import { escapeXml } from '../../common/markup.js';

/** A measured figure, or null with the reason it could not be measured (bench.ts's `Figure`). */
export interface ChartFigure {
  value: number | null;
  reason?: string;
}

export interface ThroughputFigures {
  /** N: worker threads of the multi figures and openssl's `-multi`. */
  workers: number;
  openssl: { single: ChartFigure; multi: ChartFigure };
  inprocess: {
    single: ChartFigure;
    multi: ChartFigure;
    /** Signatures per second measured with each number of worker threads; without it, 1 (single) and N (multi). */
    byWorkers?: { workers: number; signPerSec: ChartFigure }[];
  };
}

const kWidth = 640;
const kHeight = 420;
const kPlot = { left: 80, right: 24, top: 44, bottom: 104 };
const kColours = { inprocess: '#1f6fb2', openssl: '#c8501e', grid: '#dddddd', axis: '#333333' };
const kFont = 'font-family="sans-serif"';

/** The smallest 1, 2, 2.5 or 5 × 10^k at or above `max`: the top of the y axis. */
export function niceCeiling(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= max * (1 - 1e-12)) return step * power;
  return 10 * power;
}

const number = (n: number): string => (Math.round(n * 100) / 100).toLocaleString('en-US');
const coordinate = (n: number): string => (Math.round(n * 10) / 10).toString();

/** The in-process points: the per-worker-count figures, or 1 and N from single and multi. */
function inprocessPoints(f: ThroughputFigures): { workers: number; value: number }[] {
  const measured = f.inprocess.byWorkers?.length
    ? f.inprocess.byWorkers.map((p) => ({ workers: p.workers, value: p.signPerSec.value }))
    : [
        { workers: 1, value: f.inprocess.single.value },
        { workers: f.workers, value: f.inprocess.multi.value },
      ];
  const points = new Map<number, number>();
  for (const p of measured) if (p.value !== null && Number.isFinite(p.value)) points.set(p.workers, p.value);
  return [...points].map(([workers, value]) => ({ workers, value })).sort((a, b) => a.workers - b.workers);
}

function xTicks(maxWorkers: number): number[] {
  if (maxWorkers <= 16) return Array.from({ length: maxWorkers }, (_, i) => i + 1);
  const step = Math.ceil(maxWorkers / 8);
  const ticks = [1];
  for (let x = step; x < maxWorkers; x += step) ticks.push(x);
  ticks.push(maxWorkers);
  return ticks;
}

export function throughputChartSvg(figures: ThroughputFigures): string {
  const points = inprocessPoints(figures);
  const single = figures.openssl.single.value;
  const multi = figures.openssl.multi.value;
  const maxWorkers = Math.max(1, figures.workers, ...points.map((p) => p.workers));
  const top = niceCeiling(Math.max(0, ...points.map((p) => p.value), single ?? 0, multi ?? 0));

  const plotWidth = kWidth - kPlot.left - kPlot.right;
  const plotHeight = kHeight - kPlot.top - kPlot.bottom;
  // Half a step of room either side, so that 1 and N are not on the frame.
  const x = (workers: number): number => kPlot.left + ((workers - 0.5) / maxWorkers) * plotWidth;
  const y = (value: number): number => kPlot.top + plotHeight - (value / top) * plotHeight;
  const bottom = kPlot.top + plotHeight;

  const out: string[] = [];
  const title = 'JPKI signatures per second against worker threads';
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${kWidth}" height="${kHeight}" viewBox="0 0 ${kWidth} ${kHeight}" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${kWidth}" height="${kHeight}" fill="#ffffff"/>`,
    `<text x="${kWidth / 2}" y="24" text-anchor="middle" ${kFont} font-size="15" font-weight="bold" fill="${kColours.axis}">${escapeXml(title)}</text>`,
  );

  // Grid and y axis.
  const yTickCount = 5;
  for (let i = 0; i <= yTickCount; i++) {
    const value = (top * i) / yTickCount;
    const ty = coordinate(y(value));
    out.push(
      `<line x1="${kPlot.left}" y1="${ty}" x2="${kWidth - kPlot.right}" y2="${ty}" stroke="${kColours.grid}" stroke-width="1"/>`,
      `<text x="${kPlot.left - 8}" y="${ty}" dy="4" text-anchor="end" ${kFont} font-size="11" fill="${kColours.axis}">${escapeXml(number(value))}</text>`,
    );
  }
  for (const workers of xTicks(maxWorkers)) {
    const tx = coordinate(x(workers));
    out.push(
      `<line x1="${tx}" y1="${bottom}" x2="${tx}" y2="${bottom + 5}" stroke="${kColours.axis}" stroke-width="1"/>`,
      `<text x="${tx}" y="${bottom + 18}" text-anchor="middle" ${kFont} font-size="11" fill="${kColours.axis}">${workers}</text>`,
    );
  }
  out.push(
    `<line x1="${kPlot.left}" y1="${kPlot.top}" x2="${kPlot.left}" y2="${bottom}" stroke="${kColours.axis}" stroke-width="1"/>`,
    `<line x1="${kPlot.left}" y1="${bottom}" x2="${kWidth - kPlot.right}" y2="${bottom}" stroke="${kColours.axis}" stroke-width="1"/>`,
    `<text x="${kPlot.left + plotWidth / 2}" y="${bottom + 38}" text-anchor="middle" ${kFont} font-size="12" fill="${kColours.axis}">${escapeXml('worker threads (openssl: processes)')}</text>`,
    `<text transform="translate(18 ${coordinate(kPlot.top + plotHeight / 2)}) rotate(-90)" text-anchor="middle" ${kFont} font-size="12" fill="${kColours.axis}">${escapeXml('signatures/s (RSA-2048)')}</text>`,
  );

  // openssl: one process at 1, a step up to -multi N at N.
  const opensslLabel = `openssl speed rsa2048 (1 process at 1, -multi ${figures.workers} at ${figures.workers})`;
  if (single !== null || multi !== null) {
    const from = { workers: 1, value: single ?? multi! };
    const to = { workers: maxWorkers, value: multi ?? single! };
    const path = `M${coordinate(x(from.workers))} ${coordinate(y(from.value))} H${coordinate(x(to.workers))} V${coordinate(y(to.value))}`;
    out.push(`<g data-series="openssl" class="openssl-line">`);
    out.push(`<path d="${path}" fill="none" stroke="${kColours.openssl}" stroke-width="2" stroke-dasharray="7 4"/>`);
    for (const [workers, value] of [
      [1, single],
      [figures.workers, multi],
    ] as const) {
      if (value === null) continue;
      const px = coordinate(x(workers));
      const py = coordinate(y(value));
      out.push(
        `<rect x="${coordinate(x(workers) - 4)}" y="${coordinate(y(value) - 4)}" width="8" height="8" fill="${kColours.openssl}"><title>${escapeXml(`openssl, ${workers} process${workers === 1 ? '' : 'es'}: ${number(value)} signatures/s`)}</title></rect>`,
        `<text x="${px}" y="${py}" dx="6" dy="-8" ${kFont} font-size="10" fill="${kColours.openssl}">${escapeXml(number(value))}</text>`,
      );
    }
    out.push('</g>');
  }

  // The in-process emulator: the measured points joined.
  if (points.length > 0) {
    out.push(`<g data-series="inprocess" class="inprocess-line">`);
    out.push(
      `<polyline points="${points.map((p) => `${coordinate(x(p.workers))},${coordinate(y(p.value))}`).join(' ')}" fill="none" stroke="${kColours.inprocess}" stroke-width="2.5"/>`,
    );
    for (const p of points) {
      const px = coordinate(x(p.workers));
      const py = coordinate(y(p.value));
      out.push(
        `<circle cx="${px}" cy="${py}" r="4.5" fill="${kColours.inprocess}"><title>${escapeXml(`in-process emulator, ${p.workers} worker thread${p.workers === 1 ? '' : 's'}: ${number(p.value)} signatures/s`)}</title></circle>`,
        `<text x="${px}" y="${py}" dx="6" dy="16" ${kFont} font-size="10" fill="${kColours.inprocess}">${escapeXml(number(p.value))}</text>`,
      );
    }
    out.push('</g>');
  }

  // Legend, with why a series is missing when it is.
  const missing = (what: string, ...fs: ChartFigure[]): string => {
    const reasons = fs.filter((f) => f.value === null).map((f) => f.reason ?? 'not measured');
    return reasons.length ? ` — ${what} not measured: ${[...new Set(reasons)].join('; ')}` : '';
  };
  const legendY = bottom + 62;
  out.push(
    `<g ${kFont} font-size="12" fill="${kColours.axis}">`,
    `<line x1="${kPlot.left}" y1="${legendY}" x2="${kPlot.left + 28}" y2="${legendY}" stroke="${kColours.inprocess}" stroke-width="2.5"/>`,
    `<text x="${kPlot.left + 36}" y="${legendY + 4}">${escapeXml(`in-process emulator (APDU path, one card copy per thread)${points.length === 0 ? missing('all points', figures.inprocess.single, figures.inprocess.multi) : ''}`)}</text>`,
    `<line x1="${kPlot.left}" y1="${legendY + 20}" x2="${kPlot.left + 28}" y2="${legendY + 20}" stroke="${kColours.openssl}" stroke-width="2" stroke-dasharray="7 4"/>`,
    `<text x="${kPlot.left + 36}" y="${legendY + 24}">${escapeXml(`${opensslLabel}${missing('some figures', figures.openssl.single, figures.openssl.multi)}`)}</text>`,
    '</g>',
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** One population size of the bench (bench.ts's `population` entries). */
export interface PopulationPoint {
  cards: number;
  loginsPerSec: ChartFigure;
  p99Ms: ChartFigure;
}

/**
 * Portal logins per second (bars, left axis) and the p99 login latency (line, right axis)
 * against the number of cards, one slot per size measured. Self-contained SVG like the chart above.
 */
export function populationChartSvg(points: readonly PopulationPoint[]): string {
  const measured = points.filter((p) => p.loginsPerSec.value !== null);
  const topRate = niceCeiling(Math.max(0, ...measured.map((p) => p.loginsPerSec.value!)));
  const topP99 = niceCeiling(Math.max(0, ...measured.map((p) => p.p99Ms.value ?? 0)));
  const plotWidth = kWidth - kPlot.left - 80;
  const plotHeight = kHeight - kPlot.top - kPlot.bottom;
  const bottom = kPlot.top + plotHeight;
  const slot = plotWidth / Math.max(1, points.length);
  const x = (i: number): number => kPlot.left + slot * (i + 0.5);
  const yRate = (v: number): number => bottom - (v / topRate) * plotHeight;
  const yP99 = (v: number): number => bottom - (v / topP99) * plotHeight;
  const title = 'Portal logins per second and p99 latency against the number of cards';
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${kWidth}" height="${kHeight}" viewBox="0 0 ${kWidth} ${kHeight}" role="img" aria-labelledby="population-title">`,
    `<title id="population-title">${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${kWidth}" height="${kHeight}" fill="#ffffff"/>`,
    `<text x="${kWidth / 2}" y="24" text-anchor="middle" ${kFont} font-size="15" font-weight="bold" fill="${kColours.axis}">${escapeXml(title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const ty = coordinate(yRate((topRate * i) / 5));
    out.push(
      `<line x1="${kPlot.left}" y1="${ty}" x2="${kPlot.left + plotWidth}" y2="${ty}" stroke="${kColours.grid}" stroke-width="1"/>`,
      `<text x="${kPlot.left - 8}" y="${ty}" dy="4" text-anchor="end" ${kFont} font-size="11" fill="${kColours.inprocess}">${escapeXml(number((topRate * i) / 5))}</text>`,
      `<text x="${kPlot.left + plotWidth + 8}" y="${ty}" dy="4" ${kFont} font-size="11" fill="${kColours.openssl}">${escapeXml(number((topP99 * i) / 5))}</text>`,
    );
  }
  out.push(
    `<line x1="${kPlot.left}" y1="${bottom}" x2="${kPlot.left + plotWidth}" y2="${bottom}" stroke="${kColours.axis}" stroke-width="1"/>`,
    `<text x="${kPlot.left + plotWidth / 2}" y="${bottom + 38}" text-anchor="middle" ${kFont} font-size="12" fill="${kColours.axis}">cards</text>`,
    `<text transform="translate(18 ${coordinate(kPlot.top + plotHeight / 2)}) rotate(-90)" text-anchor="middle" ${kFont} font-size="12" fill="${kColours.inprocess}">logins/s</text>`,
    `<text transform="translate(${kWidth - 14} ${coordinate(kPlot.top + plotHeight / 2)}) rotate(90)" text-anchor="middle" ${kFont} font-size="12" fill="${kColours.openssl}">p99 ms</text>`,
  );
  out.push('<g data-series="logins">');
  points.forEach((p, i) => {
    out.push(`<text x="${coordinate(x(i))}" y="${bottom + 18}" text-anchor="middle" ${kFont} font-size="11" fill="${kColours.axis}">${p.cards.toLocaleString('en-US')}</text>`);
    const v = p.loginsPerSec.value;
    if (v === null) return;
    const w = Math.min(40, slot * 0.5);
    out.push(
      `<rect x="${coordinate(x(i) - w / 2)}" y="${coordinate(yRate(v))}" width="${coordinate(w)}" height="${coordinate(bottom - yRate(v))}" fill="${kColours.inprocess}"><title>${escapeXml(`${p.cards} cards: ${number(v)} logins/s`)}</title></rect>`,
    );
  });
  out.push('</g>', '<g data-series="p99">');
  const line = points.flatMap((p, i) => (p.p99Ms.value === null ? [] : [`${coordinate(x(i))},${coordinate(yP99(p.p99Ms.value))}`]));
  if (line.length > 0) out.push(`<polyline points="${line.join(' ')}" fill="none" stroke="${kColours.openssl}" stroke-width="2.5"/>`);
  points.forEach((p, i) => {
    if (p.p99Ms.value === null) return;
    out.push(`<circle cx="${coordinate(x(i))}" cy="${coordinate(yP99(p.p99Ms.value))}" r="4" fill="${kColours.openssl}"><title>${escapeXml(`${p.cards} cards: p99 ${number(p.p99Ms.value)} ms`)}</title></circle>`);
  });
  out.push('</g>', '</svg>');
  return `${out.join('\n')}\n`;
}
