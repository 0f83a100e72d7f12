/**
 * The human pages of a certification: `certification.html` (one device: what it declares, what it
 * passed, how to check the signature) and `matrix.html` (devices × scenarios). Both are drawn only
 * from the report types, self-contained (inline CSS, no script, no external URL) so they can be
 * mailed or archived beside the signed JSON, and every piece of data goes through escapeHtml.
 */
import { el, escapeHtml } from '../../common/markup.js';
import type { CertificationReport, DeclaredCapabilities, MatrixReport, ScenarioVerdict, Verdict } from './report.js';

export interface CertificationHtmlOptions {
  /** The detached signature's file name, as it sits beside certification.json. */
  signatureFile?: string | undefined;
  /** The exact command that verifies the signature; default: the openssl command with a `<test CA PEM>` placeholder. */
  verifyCommand?: string | undefined;
}

const kDefaultSignatureFile = 'certification.json.p7s';

export function defaultVerifyCommand(signatureFile = kDefaultSignatureFile, contentFile = 'certification.json', caFile = '<test CA PEM>'): string {
  return `openssl cms -verify -binary -inform DER -in ${signatureFile} -content ${contentFile} -CAfile ${caFile} -out /dev/null`;
}

const kVerdictSymbols: Readonly<Record<Verdict, string>> = { pass: '✓', fail: '✗', 'not-applicable': '—' };
const kVerdictWords: Readonly<Record<Verdict, string>> = { pass: 'pass', fail: 'fail', 'not-applicable': 'n/a' };

// ---------------------------------------------------------------------------------------------
// Markup helpers

const text = escapeHtml;

const kStyle = `
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans JP", "Yu Gothic", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85rem; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .75rem; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
dl.facts dt { font-weight: 600; color: #57606a; }
dl.facts dd { margin: 0; }
.id { color: #57606a; font-weight: normal; }
.notice { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: .6rem .9rem; margin: 1rem 0; }
.verdict { display: inline-block; font-size: 1.25rem; font-weight: 700; border-radius: 6px; padding: .35rem .9rem; margin: 1rem 0 .25rem; }
.verdict.certified { background: #dafbe1; color: #116329; border: 1px solid #4ac26b; }
.verdict.not-certified { background: #ffebe9; color: #a40e26; border: 1px solid #ff8182; }
.badge { display: inline-block; min-width: 3.5rem; text-align: center; border-radius: 1rem; padding: 0 .5rem; font-weight: 600; font-size: .85rem; }
.badge.pass, td.cell.pass { background: #dafbe1; color: #116329; }
.badge.fail, td.cell.fail { background: #ffebe9; color: #a40e26; }
.badge.not-applicable, td.cell.not-applicable { background: #eaeef2; color: #57606a; }
td.cell.missing { background: #fff8c5; color: #7d4e00; }
td.cell { text-align: center; font-size: 1.1rem; min-width: 2.5rem; }
td.cell sup { font-size: .65rem; margin-left: .1rem; }
td.cell sup a { text-decoration: none; }
th code.id { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.legend span { margin-right: 1.5rem; }
ol.notes li { margin: .15rem 0; }
footer { margin-top: 3rem; color: #57606a; font-size: .85rem; }
`;

function page(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No network at all: the page carries its own style and runs nothing.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${text(title)}</title>`,
    `<style>${kStyle}</style>`,
    '</head>',
    `<body>${body}</body>`,
    '</html>',
    '',
  ].join('\n');
}

function facts(rows: ReadonlyArray<readonly [string, string]>): string {
  return el('dl', { class: 'facts' }, rows.map(([k, v]) => `${el('dt', {}, text(k))}${el('dd', {}, v)}`).join(''));
}

function modelledNotice(what: string): string {
  return el(
    'p',
    { class: 'notice', 'data-testid': 'modelled-notice' },
    `<strong>Modelled from documentation.</strong> ${text(what)} was modelled from public documentation (datasheets, vendor pages, published measurements), ` +
      'not measured on the device: this certification says how the card and the relying party behave through that model, not that a physical unit has been tested.',
  );
}

// ---------------------------------------------------------------------------------------------
// The certification page

/** A capability value as one line: null is "none", lists are comma-separated, empty containers say so. */
function formatValue(value: unknown): string {
  if (value === null) return 'none';
  if (value === undefined) return '—';
  if (Array.isArray(value)) return value.length === 0 ? '(empty list)' : value.map(formatValue).join(', ');
  if (typeof value === 'object') return Object.keys(value).length === 0 ? '(none)' : JSON.stringify(value);
  return String(value);
}

/** Dotted field paths (`apdu.maxCommand`) and their values, in declaration order. */
function flatten(value: unknown, prefix: string, out: Array<[string, string]>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
    return;
  }
  out.push([prefix, formatValue(value)]);
}

function capabilitiesTable(capabilities: DeclaredCapabilities): string {
  const rows: Array<[string, string]> = [];
  flatten(capabilities, '', rows);
  return el(
    'table',
    { 'data-testid': 'capabilities' },
    `<thead><tr><th>Capability</th><th>Declared</th></tr></thead><tbody>` +
      rows.map(([k, v]) => el('tr', {}, el('td', { class: 'mono' }, text(k)) + el('td', {}, text(v)))).join('') +
      '</tbody>',
  );
}

function badge(verdict: Verdict): string {
  return el('span', { class: `badge ${verdict}` }, `${kVerdictSymbols[verdict]} ${text(kVerdictWords[verdict])}`);
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function resultRow(r: ScenarioVerdict): string {
  const reason = r.reason === undefined || r.reason === '' ? '' : text(r.reason);
  const whose = r.classification === undefined ? '' : ` ${el('span', { class: 'id' }, `(${text(r.classification)})`)}`;
  return el(
    'tr',
    { 'data-testid': 'result', 'data-scenario': r.id, 'data-verdict': r.verdict },
    el('td', {}, `${text(r.title)}<br>${el('code', { class: 'id' }, text(r.id))}`) +
      el('td', {}, badge(r.verdict)) +
      el('td', {}, reason + whose) +
      el('td', { class: 'num' }, text(formatDuration(r.durationMs))),
  );
}

export function renderCertificationHtml(report: CertificationReport, options: CertificationHtmlOptions = {}): string {
  const signatureFile = options.signatureFile ?? kDefaultSignatureFile;
  const command = options.verifyCommand ?? defaultVerifyCommand(signatureFile);
  const { pass, fail, notApplicable } = report.summary;
  const body = [
    el('header', {}, el('h1', {}, text(report.device.name)) + el('div', { class: 'id' }, `${el('code', {}, text(report.device.id))} · ${text(report.capabilities.kind)}`)),
    report.device.modelled === 'documentation' ? modelledNotice(`The profile of ${report.device.name}`) : '',
    el(
      'div',
      { class: `verdict ${report.certified ? 'certified' : 'not-certified'}`, 'data-testid': 'verdict', 'data-certified': String(report.certified) },
      report.certified ? '✓ Certified' : '✗ Not certified',
    ),
    el('p', { 'data-testid': 'summary' }, text(`${pass} passed, ${fail} failed, ${notApplicable} not applicable, of ${report.results.length} scenarios.`)),
    facts([
      ['Device', `${text(report.device.name)} ${el('code', { class: 'id' }, text(report.device.id))}`],
      ['Description', text(report.device.description)],
      ['Modelled', text(report.device.modelled === 'documentation' ? 'from documentation' : 'from measurements')],
      ['Profile SHA-256', el('code', {}, text(report.device.profileSha256))],
      ['Suite', `${text(report.suite)} ${text(report.suiteVersion)}`],
      ['Harness', `jpki-hil ${text(report.harnessVersion)}`],
      ['Generated', el('time', { datetime: report.generatedAt }, text(report.generatedAt))],
      ['Reader', text(report.reader)],
      ['Seed', text(String(report.seed))],
    ]),
    el('h2', {}, 'Results'),
    el(
      'table',
      { 'data-testid': 'results' },
      '<thead><tr><th>Scenario</th><th>Verdict</th><th>Reason</th><th>Time</th></tr></thead><tbody>' + report.results.map(resultRow).join('') + '</tbody>',
    ),
    el('h2', {}, 'Declared capabilities'),
    el('p', {}, 'As declared by the device profile, like an implementation conformance statement; the scenarios that do not apply to them are marked n/a above.'),
    capabilitiesTable(report.capabilities),
    el('h2', {}, 'Verifying this certification'),
    el(
      'p',
      {},
      `${el('code', {}, 'certification.json')} is the certification; ${el('code', {}, text(signatureFile))} is its detached CMS signature (SHA-256, RSA) by the jpki-hil test CA's ` +
        'report signer. This page is drawn from the JSON and is not itself signed. With the test CA\'s digital-signature CA certificate (sign-ca.pem in the CA directory), check it with:',
    ),
    el('pre', { 'data-testid': 'verify-command' }, text(command)),
    el('p', {}, `openssl prints ${el('code', {}, 'Verification successful')} and exits 0 when the JSON is exactly what was signed.`),
    el('footer', {}, text(`jpki-hil ${report.harnessVersion} · ${report.format}`)),
  ].join('\n');
  return page(`jpki-hil certification: ${report.device.name} — ${report.certified ? 'certified' : 'not certified'}`, body);
}

// ---------------------------------------------------------------------------------------------
// The matrix page

export function renderMatrixHtml(matrix: MatrixReport): string {
  const notes: string[] = [];
  const head =
    '<thead><tr><th>Device</th><th>Certified</th>' +
    matrix.scenarios.map((s) => el('th', { scope: 'col', title: s.id }, `${text(s.title)}<br>${el('code', { class: 'id' }, text(s.id))}`)).join('') +
    '</tr></thead>';
  const rows = matrix.devices.map((d) => {
    const deviceCell = el(
      'th',
      { scope: 'row' },
      `${text(d.name)}<br>${el('code', { class: 'id' }, text(d.id))} ${el('span', { class: 'id' }, text(d.kind))}` +
        (d.modelled === 'documentation' ? ` ${el('span', { class: 'id', title: 'modelled from documentation, not measured' }, '(modelled)')}` : ''),
    );
    const certifiedCell = el('td', { class: `cell ${d.certified ? 'pass' : 'fail'}`, 'data-testid': 'matrix-certified', 'data-device': d.id }, d.certified ? '✓' : '✗');
    const cells = matrix.scenarios.map((s) => {
      const cell = matrix.cells[d.id]?.[s.id];
      if (cell === undefined) {
        return el('td', { class: 'cell missing', title: 'no result', 'data-testid': 'matrix-cell', 'data-device': d.id, 'data-scenario': s.id, 'data-verdict': 'missing' }, '?');
      }
      let mark = '';
      if (cell.reason !== undefined && cell.reason !== '') {
        notes.push(`${el('strong', {}, text(d.name))} · ${text(s.title)}: ${text(cell.reason)}`);
        const n = notes.length;
        mark = el('sup', {}, el('a', { href: `#note-${n}` }, String(n)));
      }
      return el(
        'td',
        { class: `cell ${cell.verdict}`, title: cell.reason, 'data-testid': 'matrix-cell', 'data-device': d.id, 'data-scenario': s.id, 'data-verdict': cell.verdict },
        `${kVerdictSymbols[cell.verdict]}${mark}`,
      );
    });
    return el('tr', { 'data-device': d.id }, deviceCell + certifiedCell + cells.join(''));
  });
  const modelled = matrix.devices.filter((d) => d.modelled === 'documentation').length;
  const body = [
    el('header', {}, el('h1', {}, 'Compatibility matrix') + el('div', { class: 'id' }, `${text(matrix.suite)} ${text(matrix.suiteVersion)}`)),
    modelled > 0 ? modelledNotice(modelled === matrix.devices.length ? 'Every device profile here' : `${modelled} of the ${matrix.devices.length} device profiles (marked "modelled")`) : '',
    facts([
      ['Suite', `${text(matrix.suite)} ${text(matrix.suiteVersion)}`],
      ['Harness', `jpki-hil ${text(matrix.harnessVersion)}`],
      ['Generated', el('time', { datetime: matrix.generatedAt }, text(matrix.generatedAt))],
      ['Reader', text(matrix.reader)],
      ['Seed', text(String(matrix.seed))],
      ['Devices', text(`${matrix.devices.length} (${matrix.devices.filter((d) => d.certified).length} certified)`)],
    ]),
    el('p', { class: 'legend', 'data-testid': 'legend' }, `${el('span', {}, '✓ pass')}${el('span', {}, '✗ fail')}${el('span', {}, '— not applicable')}${el('span', {}, '? no result')}`),
    el('table', { 'data-testid': 'matrix' }, head + '<tbody>' + rows.join('') + '</tbody>'),
    notes.length === 0 ? '' : el('h2', {}, 'Notes') + el('ol', { class: 'notes', 'data-testid': 'notes' }, notes.map((n, i) => el('li', { id: `note-${i + 1}` }, n)).join('')),
    el('footer', {}, text(`jpki-hil ${matrix.harnessVersion} · ${matrix.format} · each device's signed certification.json is in its own directory`)),
  ].join('\n');
  return page(`jpki-hil compatibility matrix: ${matrix.suite} ${matrix.suiteVersion}`, body);
}
