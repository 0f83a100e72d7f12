/**
 * The certification and matrix pages: escaped, self-contained, with the verdicts where a reader
 * (and a test) looks for them; and Chromium renders them from a file without fetching anything.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedBrowser } from '../../../harness/browser/launch-chromium.js';
import { defaultVerifyCommand, renderCertificationHtml, renderMatrixHtml } from '../../../harness/certification/html.js';
import type { CertificationReport, DeclaredCapabilities, MatrixReport } from '../../../harness/certification/report.js';
import { tempDir } from '../../support/cards.js';

const kEvil = '<script>alert("x")</script>';

const capabilities: DeclaredCapabilities = {
  kind: 'reader',
  interface: 'contactless',
  atr: 'contactless',
  apdu: { maxCommand: 261, maxResponse: 258, extendedLength: false, chaining: false, t0: 'transparent' },
  latency: { baseMs: 12, perByteUs: 90, perIns: { '2A': 400 } },
  timeouts: { transceiveMs: 5000, appRaisesToMs: null },
  session: { timeLimitMs: null },
  select: { aidAllowList: null, selectByNameChecked: false },
  faults: { fieldDropProbability: 0, cardMoveProbability: 0.01 },
};

function report(overrides: Partial<CertificationReport> = {}): CertificationReport {
  return {
    format: 'jpki-hil-certification/1',
    suite: 'certification',
    suiteVersion: '1.2.0',
    harnessVersion: '0.1.0',
    generatedAt: '2025-04-01T09:00:00.000Z',
    reader: 'emulator',
    seed: 7,
    device: { id: 'sony-rc-s380', name: 'ソニー PaSoRi RC-S380', modelled: 'documentation', description: `NFC reader & writer ${kEvil}`, profileSha256: 'ab'.repeat(32) },
    capabilities,
    results: [
      { id: 'read-certificates-short', title: '証明書を読む (short APDU)', verdict: 'pass', durationMs: 420 },
      { id: 'read-certificate-extended', title: 'Read with extended APDUs', verdict: 'not-applicable', reason: 'the device declares no extended length', durationMs: 0 },
      { id: 'sign-both-keys', title: 'Sign with both keys', verdict: 'fail', reason: `card answered 6982 ${kEvil}`, classification: 'product', durationMs: 1530 },
    ],
    summary: { pass: 1, fail: 1, notApplicable: 1 },
    certified: false,
    ...overrides,
  };
}

const matrix: MatrixReport = {
  format: 'jpki-hil-matrix/1',
  suite: 'certification',
  suiteVersion: '1.2.0',
  harnessVersion: '0.1.0',
  generatedAt: '2025-04-01T09:00:00.000Z',
  reader: 'emulator',
  seed: 7,
  scenarios: [
    { id: 'read-certificates-short', title: '証明書を読む' },
    { id: 'sign-both-keys', title: 'Sign with both keys' },
  ],
  devices: [
    { id: 'sony-rc-s380', name: 'ソニー RC-S380', kind: 'reader', modelled: 'documentation', certified: false },
    { id: 'iphone-core-nfc', name: 'iPhone "Core NFC"', kind: 'phone', modelled: 'measured', certified: true },
  ],
  cells: {
    'sony-rc-s380': {
      'read-certificates-short': { verdict: 'pass' },
      'sign-both-keys': { verdict: 'fail', reason: `6982 ${kEvil}` },
    },
    'iphone-core-nfc': {
      'read-certificates-short': { verdict: 'not-applicable', reason: 'contactless only' },
      // sign-both-keys: no result
    },
  },
};

function cell(html: string, device: string, scenario: string): string {
  const match = new RegExp(`<td[^>]*data-device="${device}" data-scenario="${scenario}"[^>]*>.*?</td>`).exec(html);
  if (!match) throw new Error(`no cell ${device} × ${scenario}`);
  return match[0];
}

describe('certification page', () => {
  it('escapes every piece of data and runs nothing', () => {
    const html = renderCertificationHtml(report());
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('NFC reader &amp; writer');
    expect(html).not.toMatch(/\b(?:src|href)="(?:https?:)?\/\//);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('<meta charset="utf-8">');
  });

  it('says who, what and the verdict', () => {
    const html = renderCertificationHtml(report());
    expect(html).toContain('ソニー PaSoRi RC-S380');
    expect(html).toContain('sony-rc-s380');
    expect(html).toMatch(/data-testid="modelled-notice"[^>]*>.*Modelled from documentation/);
    expect(html).toMatch(/data-testid="verdict" data-certified="false">✗ Not certified/);
    expect(html).toContain('certification 1.2.0');
    expect(html).toContain('jpki-hil 0.1.0');
    expect(html).toContain('2025-04-01T09:00:00.000Z');
    expect(html).toMatch(/<dt>Seed<\/dt><dd>7<\/dd>/);
    expect(html).toMatch(/<dt>Reader<\/dt><dd>emulator<\/dd>/);
    expect(html).toMatch(/data-scenario="sign-both-keys" data-verdict="fail">.*badge fail.*card answered 6982.*\(product\)/);
    expect(html).toMatch(/data-verdict="not-applicable">.*the device declares no extended length/);
    // Declared capabilities, as dotted fields.
    expect(html).toMatch(/<td class="mono">apdu\.maxCommand<\/td><td>261<\/td>/);
    expect(html).toMatch(/<td class="mono">latency\.perIns\.2A<\/td><td>400<\/td>/);
    expect(html).toMatch(/<td class="mono">select\.aidAllowList<\/td><td>none<\/td>/);
  });

  it('shows how to verify the signature', () => {
    expect(renderCertificationHtml(report())).toContain(
      'openssl cms -verify -binary -inform DER -in certification.json.p7s -content certification.json -CAfile &lt;test CA PEM&gt; -out /dev/null',
    );
    const command = defaultVerifyCommand('certification.json.p7s', 'certification.json', 'out/ca/sign-ca.pem');
    const html = renderCertificationHtml(report({ certified: true }), { verifyCommand: command });
    expect(html).toContain(`<pre data-testid="verify-command">${command}</pre>`);
    expect(html).toMatch(/data-certified="true">✓ Certified/);
  });

  it('has no modelled notice for a measured device', () => {
    const r = report();
    const html = renderCertificationHtml({ ...r, device: { ...r.device, modelled: 'measured' } });
    expect(html).not.toContain('modelled-notice');
  });
});

describe('matrix page', () => {
  it('puts a verdict in every cell, with the reason in a title and a note', () => {
    const html = renderMatrixHtml(matrix);
    expect(html).toContain('certification 1.2.0');
    expect(html.match(/data-testid="matrix-cell"/g)).toHaveLength(4);
    expect(cell(html, 'sony-rc-s380', 'read-certificates-short')).toMatch(/data-verdict="pass">✓</);
    const failed = cell(html, 'sony-rc-s380', 'sign-both-keys');
    expect(failed).toMatch(/title="6982 &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;"/);
    expect(failed).toMatch(/data-verdict="fail">✗<sup><a href="#note-1">1<\/a><\/sup>/);
    expect(cell(html, 'iphone-core-nfc', 'read-certificates-short')).toMatch(/title="contactless only".*data-verdict="not-applicable">—/);
    expect(cell(html, 'iphone-core-nfc', 'sign-both-keys')).toMatch(/data-verdict="missing">\?/);
    expect(html).toMatch(/<li id="note-1"><strong>ソニー RC-S380<\/strong> · Sign with both keys: 6982 &lt;script&gt;/);
    expect(html).toMatch(/<li id="note-2">.*contactless only/);
    expect(html).toContain('iPhone &quot;Core NFC&quot;');
    expect(html).toMatch(/data-testid="modelled-notice"/);
    expect(html).not.toContain('<script');
    expect(html).not.toMatch(/https?:\/\//);
  });
});

describe('in Chromium', () => {
  const tmp = tempDir('jpki-hil-cert-html-');
  let browser: LaunchedBrowser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    tmp.remove();
  });

  it('renders both pages from files, fetching nothing else and raising no errors', async () => {
    const certFile = join(tmp.path, 'certification.html');
    const matrixFile = join(tmp.path, 'matrix.html');
    writeFileSync(certFile, renderCertificationHtml(report()));
    writeFileSync(matrixFile, renderMatrixHtml(matrix));
    const page = await browser!.context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });

    await page.goto(pathToFileURL(certFile).href);
    expect(await page.title()).toBe('jpki-hil certification: ソニー PaSoRi RC-S380 — not certified');
    expect(await page.getByTestId('verdict').innerText()).toBe('✗ Not certified');
    expect(await page.getByTestId('modelled-notice').isVisible()).toBe(true);
    expect(await page.locator('tr[data-scenario="sign-both-keys"]').innerText()).toContain(`card answered 6982 ${kEvil}`);
    expect(await page.locator('script').count()).toBe(0);

    await page.goto(pathToFileURL(matrixFile).href);
    const cells = page.getByTestId('matrix-cell');
    expect(await cells.count()).toBe(4);
    const failed = page.locator('[data-testid="matrix-cell"][data-device="sony-rc-s380"][data-scenario="sign-both-keys"]');
    expect(await failed.getAttribute('title')).toBe(`6982 ${kEvil}`);
    expect(await failed.getAttribute('data-verdict')).toBe('fail');
    expect(await page.getByTestId('notes').innerText()).toContain('ソニー RC-S380 · Sign with both keys');
    expect(await page.locator('script').count()).toBe(0);

    expect(requests).toEqual([pathToFileURL(certFile).href, pathToFileURL(matrixFile).href]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
