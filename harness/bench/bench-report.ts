/**
 * The benchmark as one small self-contained HTML page (`jpki-hil bench --html <file>`): the table
 * of the terminal, the notes under it and the throughput chart inline — no scripts, no external
 * styles, fonts or images, so the file can be attached to a CI run or mailed as it is.
 */
import { benchTable, type BenchResult } from './bench.js';
import { escapeHtml } from '../../common/markup.js';
import { populationChartSvg, throughputChartSvg } from './throughput-chart.js';

const kStyle = `
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
th { background: #f3f3f3; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; }
figure { margin: 1.5em 0; }
`;

/** Where a login's time goes, step by step, with a bar for each step's share. */
function loginPhasesTable(r: BenchResult): string {
  const phases = r.portal.phasesMs;
  if (!phases) return '';
  const total = Object.values(phases).reduce((a, b) => a + b, 0);
  if (!(total > 0)) return '';
  const rows = Object.entries(phases).map(([step, ms]) => {
    const share = (100 * ms) / total;
    return `<tr><td>${escapeHtml(step)}</td><td class="n">${escapeHtml(ms.toFixed(2))}</td><td class="n">${escapeHtml(share.toFixed(0))} %</td><td><svg width="200" height="10" role="img" aria-label="${escapeHtml(`${share.toFixed(0)} %`)}"><rect width="${(2 * share).toFixed(1)}" height="10" fill="#1f6fb2"/></svg></td></tr>`;
  });
  return `<h2>Where a portal login's time goes</h2>
<p class="meta">${escapeHtml(`Mean milliseconds per login of each step, as the ${r.portal.cards} clients saw it (${r.portal.logins ?? '?'} logins); the card's signature is on the client side.`)}</p>
<table data-table="login-phases"><thead><tr><th>step</th><th>ms</th><th>share</th><th></th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`;
}

export function benchReportHtml(r: BenchResult): string {
  const { rows, notes } = benchTable(r);
  const [header = [], ...body] = rows;
  const table = [
    '<table>',
    `<thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...body.map((row) => `<tr>${row.map((cell, i) => (i === 0 ? `<td>${escapeHtml(cell)}</td>` : `<td class="n">${escapeHtml(cell)}</td>`)).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jpki-hil benchmark ${escapeHtml(r.date)}</title>
<style>${kStyle}</style>
</head>
<body>
<h1>jpki-hil benchmark</h1>
<p class="meta">${escapeHtml(`${r.date} · Node ${r.node} · ${r.workers} worker threads · ${r.portal.cards} cards at the portal`)}</p>
${table}
<ul>
${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}
</ul>
${loginPhasesTable(r)}
<figure>
${throughputChartSvg(r)}<figcaption>${escapeHtml('Signatures per second through the card’s APDU path in-process, by worker threads, against openssl speed rsa2048 in the same run.')}</figcaption>
</figure>
${
  r.population && r.population.length > 0
    ? `<figure>
${populationChartSvg(r.population)}<figcaption>${escapeHtml('Complete portal logins per second (bars) and the p99 of a login (line) as the population of cards grows, the same clients at every size.')}</figcaption>
</figure>`
    : ''
}
</body>
</html>
`;
}
