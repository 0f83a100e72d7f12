/**
 * One self-contained HTML page per run, for people (design.md rule 9): the run summary, then one
 * section per scenario with its steps, each step's APDU trace and its screenshots. Written once, in
 * onEnd. The page must open from a CI artefact or a mail attachment straight from disk (file://),
 * so it has no external URL, no fetch and no script: CSS is inline, screenshots are data: URIs, and
 * a Content-Security-Policy forbids everything else, so that even a slip in escaping cannot make
 * scenario text run. Every piece of run data goes through escapeHtml.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import {
  describeStep,
  scenarioFailure,
  type ApduRecord,
  type Attachment,
  type Failure,
  type FailureClassification,
  type RunResult,
  type ScenarioResult,
  type ScenarioStatus,
  type StepResult,
} from '../harness/runner/results.js';
import { el, escapeHtml, textEl } from '../common/markup.js';
import { formatDuration } from './list-reporter.js';
import type { Reporter } from '../harness/runner/reporter-api.js';

/** A chart made by our own code (the benchmark's throughput charts), embedded as given. */
export interface HtmlChart {
  title: string;
  /** An `<svg>` element. Trusted: it is inserted unescaped, so it must never carry run data unescaped. */
  svg: string;
}

export interface HtmlReporterOptions {
  /** Where to write the HTML; parent directories are created. Relative attachment paths are relative to its directory. */
  file: string;
  /** The page title; defaults to the suite, its version and "jpki-hil report". */
  title?: string | undefined;
  charts?: HtmlChart[] | undefined;
}

export class HtmlReporter implements Reporter {
  constructor(private readonly options: HtmlReporterOptions) {}

  async onEnd(result: RunResult): Promise<void> {
    const outputDir = dirname(resolve(this.options.file));
    const images = await loadImages(result, outputDir);
    const html = renderHtmlReport(result, { title: this.options.title, charts: this.options.charts ?? [], outputDir, images });
    await mkdir(outputDir, { recursive: true });
    await writeFile(this.options.file, html, 'utf8');
  }
}

// ---------------------------------------------------------------------------------------------
// Escaping

const text = textEl;

// ---------------------------------------------------------------------------------------------
// Screenshots

/** Image types a browser shows in an `<img>`; other attachments are linked, not embedded. */
const kEmbeddedImageTypes = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

type EmbeddedImage = { dataUri: string } | { problem: string };

function attachmentPath(attachment: Attachment, outputDir: string): string {
  return isAbsolute(attachment.path) ? attachment.path : resolve(outputDir, attachment.path);
}

/**
 * Reads every screenshot the run attached, keyed by absolute path. A file that cannot be read
 * becomes a note in the page: a lost screenshot must not cost the whole report.
 */
async function loadImages(result: RunResult, outputDir: string): Promise<Map<string, EmbeddedImage>> {
  const images = new Map<string, EmbeddedImage>();
  const wanted = new Map<string, string>();
  for (const s of result.scenarios) {
    for (const step of s.steps) {
      for (const a of step.attachments ?? []) {
        if (kEmbeddedImageTypes.has(a.contentType)) wanted.set(attachmentPath(a, outputDir), a.contentType);
      }
    }
  }
  await Promise.all(
    [...wanted].map(async ([path, contentType]) => {
      try {
        const bytes = await readFile(path);
        images.set(path, { dataUri: `data:${contentType};base64,${bytes.toString('base64')}` });
      } catch (e) {
        images.set(path, { problem: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
      }
    }),
  );
  return images;
}

// ---------------------------------------------------------------------------------------------
// The page

interface RenderOptions {
  title?: string | undefined;
  charts: readonly HtmlChart[];
  outputDir: string;
  images: ReadonlyMap<string, EmbeddedImage>;
}

const kStatuses: readonly ScenarioStatus[] = ['passed', 'failed', 'flaky', 'skipped'];

const kClassificationLabels: Record<FailureClassification, string> = { product: 'product defect', harness: 'harness defect', lab: 'lab problem' };

// No default-src but 'none': images only from data: URIs, styles only inline, no script at all.
const kContentSecurityPolicy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

const kStyle = `
:root { color-scheme: light; --pass: #1a7f37; --fail: #cf222e; --flaky: #9a6700; --skip: #6e7781; --line: #d0d7de; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans CJK JP", sans-serif; margin: 1.5rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
code, .hex { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
.hex { word-break: break-all; }
table { border-collapse: collapse; margin: .5rem 0; width: 100%; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.badge { display: inline-block; min-width: 4.5em; text-align: center; border-radius: 1em; padding: 0 .6em; color: #fff; font-weight: 600; font-size: 12px; }
.badge.passed { background: var(--pass); } .badge.failed { background: var(--fail); }
.badge.flaky { background: var(--flaky); } .badge.skipped { background: var(--skip); }
.badge.interrupted { background: var(--flaky); }
details.scenario { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; padding: .25rem .75rem; }
details.scenario > summary { cursor: pointer; padding: .25rem 0; }
details.scenario.failed { border-left: 4px solid var(--fail); }
details.scenario.flaky { border-left: 4px solid var(--flaky); }
.failure { background: #ffebe9; border: 1px solid #ffcecb; border-radius: 6px; padding: .5rem .75rem; margin: .5rem 0; white-space: pre-wrap; }
.skip-reason { color: var(--skip); }
.stack { white-space: pre-wrap; font-size: 12px; }
tr.step.failed td { background: #fff5f5; }
tr.trace > td { background: #fafbfc; }
.missing { color: var(--fail); }
figure { margin: .5rem 0; }
figure img { max-width: 100%; border: 1px solid var(--line); }
.chart svg { max-width: 100%; height: auto; }
`;

function renderHtmlReport(result: RunResult, options: RenderOptions): string {
  const { info } = result;
  const title = options.title ?? `${info.suite ?? 'jpki-hil'} ${info.suiteVersion} — jpki-hil report`;
  const body = [
    text('h1', {}, title),
    renderSummary(result),
    options.charts.length > 0 ? renderCharts(options.charts) : '',
    text('h2', {}, 'Scenarios'),
    result.scenarios.length === 0 ? text('p', {}, 'No scenario ran.') : result.scenarios.map((s) => renderScenario(s, options)).join('\n'),
  ].join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(kContentSecurityPolicy)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    text('title', {}, title),
    `<style>${kStyle}</style>`,
    '</head>',
    el('body', {}, `\n${body}\n`),
    '</html>',
    '',
  ].join('\n');
}

function renderSummary(result: RunResult): string {
  const { info } = result;
  const count = (status: ScenarioStatus): number => result.scenarios.filter((s) => s.status === status).length;
  const classes: Record<FailureClassification, number> = { product: 0, harness: 0, lab: 0 };
  for (const s of result.scenarios) {
    const failed = scenarioFailure(s);
    if (failed) classes[failed.failure.classification]++;
  }
  const byClass = (Object.keys(classes) as FailureClassification[])
    .filter((c) => classes[c] > 0)
    .map((c) => `${classes[c]} ${kClassificationLabels[c]}`)
    .join(', ');
  const fact = (term: string, value: string, testId?: string): string => text('dt', {}, term) + text('dd', { 'data-testid': testId }, value);
  const facts = [
    fact('Suite', info.suite ?? '(none)', 'summary-suite'),
    fact('Suite version', info.suiteVersion, 'summary-suite-version'),
    fact('Reader', info.reader, 'summary-reader'),
    fact('Profile', info.profile ?? '(none)', 'summary-profile'),
    fact('Started', info.startedAt, 'summary-started'),
    fact('Duration', formatDuration(result.durationMs), 'summary-duration'),
    text('dt', {}, 'Status') + el('dd', {}, text('span', { class: `badge ${result.status}`, 'data-testid': 'run-status' }, result.status)),
    fact('Scenarios', String(result.scenarios.length), 'count-total'),
    ...kStatuses.map((s) => fact(s[0]!.toUpperCase() + s.slice(1), String(count(s)), `count-${s}`)),
    byClass ? fact('Failures by cause', byClass, 'summary-causes') : '',
  ].join('');
  return el('section', { 'data-testid': 'summary', 'data-status': result.status }, text('h2', {}, 'Summary') + el('dl', { class: 'facts' }, facts));
}

function renderCharts(charts: readonly HtmlChart[]): string {
  const figures = charts.map((c) => el('figure', { class: 'chart', 'data-testid': 'chart' }, text('figcaption', {}, c.title) + c.svg));
  return el('section', { 'data-testid': 'charts' }, text('h2', {}, 'Charts') + figures.join(''));
}

function renderScenario(s: ScenarioResult, options: RenderOptions): string {
  const { scenario } = s;
  const head = [
    text('span', { class: `badge ${s.status}`, 'data-testid': 'scenario-status' }, s.status),
    ' ',
    text('code', { 'data-testid': 'scenario-id' }, scenario.id),
    ' ',
    text('span', { 'data-testid': 'scenario-title' }, scenario.title),
    ' ',
    text('span', { class: 'duration' }, `(${formatDuration(s.durationMs)})`),
  ].join('');
  const attempts = s.status === 'flaky' ? `${s.attempts} (failed first, passed on attempt ${s.attempts})` : String(s.attempts);
  const facts = [
    text('dt', {}, 'File') + el('dd', {}, text('code', {}, scenario.file)),
    text('dt', {}, 'Tags') + text('dd', { 'data-testid': 'scenario-tags' }, scenario.tags.length > 0 ? scenario.tags.join(', ') : '(none)'),
    text('dt', {}, 'Attempts') + text('dd', { 'data-testid': 'scenario-attempts' }, attempts),
  ].join('');
  const parts = [el('summary', {}, head), el('dl', { class: 'facts' }, facts), renderScenarioFailure(s)];
  if (s.steps.length > 0) parts.push(renderSteps(s.steps, options));
  // Failed scenarios open by default: they are what a reader of the report has come for.
  return el(
    'details',
    { class: `scenario ${s.status}`, 'data-testid': 'scenario', 'data-scenario-id': scenario.id, 'data-status': s.status, open: s.status === 'failed' },
    parts.join('\n'),
  );
}

function renderScenarioFailure(s: ScenarioResult): string {
  const failed = scenarioFailure(s);
  if (failed) {
    const where = failed.step ? `${describeStep(failed.step)}: ` : '';
    return el('div', { class: 'failure', 'data-testid': 'failure', 'data-classification': failed.failure.classification }, renderFailure(failed.failure, where));
  }
  if (s.status === 'skipped' && s.error) return text('p', { class: 'skip-reason', 'data-testid': 'skip-reason' }, `Skipped: ${s.error.message}`);
  return '';
}

/** `product defect: step 2 …: message`, with the stack folded away under it. */
function renderFailure(failure: Failure, where = ''): string {
  const label = text('strong', { 'data-testid': 'classification' }, kClassificationLabels[failure.classification]);
  const message = text('span', { 'data-testid': 'failure-message' }, `${where}${failure.message}`);
  const stack = failure.stack ? el('details', {}, text('summary', {}, 'stack') + text('pre', { class: 'stack' }, failure.stack)) : '';
  return `${label}: ${message}${stack}`;
}

function renderSteps(steps: readonly StepResult[], options: RenderOptions): string {
  const header = el('tr', {}, ['#', 'Kind', 'Name', 'Status', 'Duration (ms)', 'Error'].map((h) => text('th', {}, h)).join(''));
  const rows = steps.flatMap((step) => {
    const cells = [
      text('td', { class: 'num' }, String(step.index + 1)),
      el('td', {}, text('code', {}, step.kind)),
      text('td', {}, step.name),
      el('td', {}, text('span', { class: `badge ${step.status}` }, step.status)),
      text('td', { class: 'num' }, String(step.durationMs)),
      el('td', {}, step.error ? renderFailure(step.error) : ''),
    ].join('');
    const row = el('tr', { class: `step ${step.status}`, 'data-testid': 'step', 'data-step-index': step.index, 'data-status': step.status }, cells);
    const extras = [renderApdus(step.apdus ?? []), renderAttachments(step.attachments ?? [], options)].filter((x) => x !== '');
    return extras.length === 0 ? [row] : [row, el('tr', { class: 'trace' }, el('td', { colspan: 6 }, extras.join('\n')))];
  });
  return el('table', { class: 'steps' }, el('thead', {}, header) + el('tbody', {}, rows.join('\n')));
}

// ---------------------------------------------------------------------------------------------
// APDU trace

/** Longer hex than this (24 bytes) is shortened in the table; the full hex is one click away. */
const kShortHexChars = 48;

function renderHex(hex: string): string {
  if (hex === '') return text('span', { class: 'none' }, '—');
  if (hex.length <= kShortHexChars) return text('code', { class: 'hex' }, hex);
  const bytes = Math.floor(hex.length / 2);
  const summary = text('code', { class: 'hex' }, `${hex.slice(0, kShortHexChars)}…`) + text('span', {}, ` (${bytes} bytes)`);
  return el('details', { class: 'hex-full' }, el('summary', { title: hex }, summary) + text('code', { class: 'hex' }, hex));
}

/** `07:00:01.010` from an ISO time: the date is the run's and would only crowd the table. */
function timeOfDay(iso: string): string {
  return /T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)/.exec(iso)?.[1] ?? iso;
}

function renderApdus(apdus: readonly ApduRecord[]): string {
  if (apdus.length === 0) return '';
  const header = el('tr', {}, ['Time', 'Command', 'Response', 'SW', 'Meaning', 'Duration (ms)'].map((h) => text('th', {}, h)).join(''));
  const rows = apdus.map((a) =>
    el(
      'tr',
      { 'data-testid': 'apdu', 'data-sw': a.sw },
      [
        text('td', { title: a.time }, timeOfDay(a.time)),
        el('td', {}, renderHex(a.command)),
        el('td', {}, renderHex(a.response)),
        el('td', {}, text('code', { 'data-testid': 'apdu-sw' }, a.sw)),
        el('td', { 'data-testid': 'apdu-meaning' }, escapeHtml(a.meaning) + (a.detail ? ` — ${text('span', { 'data-testid': 'apdu-detail' }, a.detail)}` : '')),
        text('td', { class: 'num' }, String(a.durationMs)),
      ].join(''),
    ),
  );
  return el('table', { class: 'apdus', 'data-testid': 'apdu-trace' }, el('thead', {}, header) + el('tbody', {}, rows.join('\n')));
}

// ---------------------------------------------------------------------------------------------
// Attachments

/** A link relative to the report, so that the report and its out/ directory can move together. */
function relativeHref(path: string, outputDir: string): string {
  const rel = relative(outputDir, path);
  return rel.split(sep).map(encodeURIComponent).join('/');
}

function renderAttachments(attachments: readonly Attachment[], options: RenderOptions): string {
  if (attachments.length === 0) return '';
  const items = attachments.map((a) => {
    const path = attachmentPath(a, options.outputDir);
    const link = text('a', { href: relativeHref(path, options.outputDir), 'data-testid': 'attachment' }, a.name);
    const image = kEmbeddedImageTypes.has(a.contentType) ? options.images.get(path) : undefined;
    if (!image) return el('li', {}, `${link} ${text('span', {}, `(${a.contentType})`)}`);
    if ('problem' in image) {
      return el('li', {}, text('span', { class: 'missing', 'data-testid': 'attachment-missing' }, `${a.name}: ${a.path} could not be read (${image.problem})`));
    }
    const img = el('img', { src: image.dataUri, alt: a.name, 'data-testid': 'screenshot' });
    return el('li', {}, el('figure', {}, img + el('figcaption', {}, link)));
  });
  return el('ul', { class: 'attachments' }, items.join(''));
}
