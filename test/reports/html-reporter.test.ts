/**
 * The HTML report opened as a person would open it: from disk (file://) in real Chromium, with
 * Playwright finding what they would look for.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedBrowser } from '../../harness/browser/launch-chromium.js';
import type { RunResult, ScenarioInfo, StepResult } from '../../harness/runner/results.js';
import { escapeHtml } from '../../common/markup.js';
import { HtmlReporter } from '../../reports/html-reporter.js';

const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-html-'));
const outDir = join(dir, 'out');
// The runner's out/ layout: the report beside the shots/ and traces/ folders its attachments are in.
const reportFile = join(outDir, 'report.html');

// Scenario text that would run, or break the page, if it were not escaped.
const kInjectedTitle = `マイナンバーカードでログイン <script>window.__jpkiInjected = true</script> & "引用" 'x'`;
const kInjectedMessage = `画面番号 B-02 が表示されない: <img src=x onerror="window.__jpkiInjected = true"> & "quotes"`;
const kLongResponse = '30820' + 'AB'.repeat(200);

/** A real PNG, 40 × 24, for the screenshot the runner attaches on failure. */
function writePng(path: string): void {
  const png = new PNG({ width: 40, height: 24 });
  for (let i = 0; i < png.data.length; i += 4) png.data.set([0xcf, 0x22, 0x2e, 0xff], i);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, PNG.sync.write(png));
}

function scenario(id: string, title: string, file = `scenarios/${id}.yaml`): ScenarioInfo {
  return { id, title, tags: ['smoke', 'ログイン'], file };
}

const loginStep: StepResult = {
  index: 0,
  kind: 'pcLogin',
  name: 'log in with the card',
  status: 'passed',
  durationMs: 412,
  apdus: [
    { time: '2026-11-23T07:00:01.000Z', command: '00A4040C0AD3921000310001010408', response: '', sw: '9000', meaning: 'normal processing', durationMs: 4 },
    { time: '2026-11-23T07:00:01.010Z', command: '0020008004313233', response: '', sw: '63C2', meaning: 'verification failed, 2 tries left', durationMs: 9 },
    { time: '2026-11-23T07:00:01.030Z', command: '00B0000000', response: kLongResponse, sw: '9000', meaning: 'normal processing', durationMs: 21 },
  ],
};

const failedStep: StepResult = {
  index: 1,
  kind: 'expectText',
  name: 'sees the main menu',
  status: 'failed',
  durationMs: 5030,
  error: { classification: 'product', message: kInjectedMessage, stack: 'Error: expected text\n    at expectText (steps.ts:10:5)' },
  attachments: [
    { name: 'screenshot', path: 'shots/menu.png', contentType: 'image/png' },
    { name: 'screenshot', path: join(outDir, 'shots', 'gone.png'), contentType: 'image/png' },
    { name: 'playwright-trace', path: join(outDir, 'traces', 'menu broken.zip'), contentType: 'application/zip' },
  ],
};

const run: RunResult = {
  info: { suite: 'smoke', suiteVersion: '0.3.1', startedAt: '2026-11-23T07:00:00.000Z', profile: 'emulated', reader: 'vpcd 0' },
  durationMs: 65_400,
  status: 'failed',
  scenarios: [
    { scenario: scenario('login-ok', 'ログインできる'), status: 'passed', attempts: 1, durationMs: 1500, steps: [{ ...loginStep }] },
    {
      scenario: scenario('menu-broken', kInjectedTitle),
      status: 'failed',
      attempts: 2,
      durationMs: 5500,
      steps: [loginStep, failedStep, { index: 2, kind: 'click', name: 'next', status: 'skipped', durationMs: 0 }],
    },
    { scenario: scenario('sometimes', 'たまに失敗する'), status: 'flaky', attempts: 2, durationMs: 3000, steps: [{ ...loginStep, apdus: [] }] },
    { scenario: scenario('needs-phone', 'スマホで署名'), status: 'skipped', attempts: 0, durationMs: 0, steps: [], error: { classification: 'lab', message: 'no phone in profile emulated' } },
  ],
};

const kChart = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" data-testid="chart-svg"><rect width="60" height="40" fill="#1a7f37"/></svg>';

let browser: LaunchedBrowser;
let page: Page;
const requests: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  writePng(join(outDir, 'shots', 'menu.png'));
  await new HtmlReporter({ file: reportFile, charts: [{ title: 'signatures per second', svg: kChart }] }).onEnd(run);
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(pathToFileURL(reportFile).href);
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

const scenarioSection = (id: string): ReturnType<Page['locator']> => page.locator(`[data-testid="scenario"][data-scenario-id="${id}"]`);

describe('HtmlReporter, opened from disk in Chromium', () => {
  it('shows the run summary: suite, reader, profile, counts and overall status', async () => {
    const summary = page.getByTestId('summary');
    expect(await summary.getByTestId('summary-suite').textContent()).toBe('smoke');
    expect(await summary.getByTestId('summary-suite-version').textContent()).toBe('0.3.1');
    expect(await summary.getByTestId('summary-reader').textContent()).toBe('vpcd 0');
    expect(await summary.getByTestId('summary-profile').textContent()).toBe('emulated');
    expect(await summary.getByTestId('summary-started').textContent()).toBe('2026-11-23T07:00:00.000Z');
    expect(await summary.getByTestId('summary-duration').textContent()).toBe('65.4s');
    const counts = Object.fromEntries(
      await Promise.all(['total', 'passed', 'failed', 'flaky', 'skipped'].map(async (k) => [k, await summary.getByTestId(`count-${k}`).textContent()])),
    );
    expect(counts).toEqual({ total: '4', passed: '1', failed: '1', flaky: '1', skipped: '1' });
    expect(await summary.getByTestId('run-status').textContent()).toBe('failed');
    expect(await summary.getByTestId('summary-causes').textContent()).toBe('1 product defect');
    expect(await page.title()).toBe('smoke 0.3.1 — jpki-hil report');
  });

  it('has one section per scenario, in run order, with its status; only the failed one is open', async () => {
    const sections = page.getByTestId('scenario');
    expect(await sections.count()).toBe(4);
    const ids = await sections.evaluateAll((els) => els.map((e) => [e.getAttribute('data-scenario-id'), e.getAttribute('data-status'), e.hasAttribute('open')]));
    expect(ids).toEqual([
      ['login-ok', 'passed', false],
      ['menu-broken', 'failed', true],
      ['sometimes', 'flaky', false],
      ['needs-phone', 'skipped', false],
    ]);
    expect(await scenarioSection('login-ok').getByTestId('step').isVisible()).toBe(false);
    expect(await scenarioSection('needs-phone').getByTestId('skip-reason').textContent()).toBe('Skipped: no phone in profile emulated');
    expect(await scenarioSection('sometimes').getByTestId('scenario-attempts').textContent()).toBe('2 (failed first, passed on attempt 2)');
  });

  it("shows a failed scenario's steps with their statuses, and the failure as a product defect", async () => {
    const section = scenarioSection('menu-broken');
    const steps = section.getByTestId('step');
    expect(await steps.count()).toBe(3);
    for (const [i, status] of ['passed', 'failed', 'skipped'].entries()) {
      await steps.nth(i).waitFor({ state: 'visible' });
      expect(await steps.nth(i).getAttribute('data-status')).toBe(status);
    }
    expect(await steps.nth(1).locator('td').nth(1).textContent()).toBe('expectText');
    expect(await steps.nth(1).locator('td').nth(4).textContent()).toBe('5030');
    const failure = section.getByTestId('failure');
    expect(await failure.getAttribute('data-classification')).toBe('product');
    expect(await failure.getByTestId('classification').textContent()).toBe('product defect');
    expect(await failure.getByTestId('failure-message').textContent()).toBe(`step 2 expectText: sees the main menu: ${kInjectedMessage}`);
    expect(await section.getByTestId('scenario-tags').textContent()).toBe('smoke, ログイン');
  });

  it('shows the APDU trace with the decoded status word, and keeps long responses whole behind a click', async () => {
    const rows = scenarioSection('menu-broken').getByTestId('apdu');
    expect(await rows.count()).toBe(3);
    const pin = rows.nth(1);
    expect(await pin.isVisible()).toBe(true);
    expect(await pin.getByTestId('apdu-sw').textContent()).toBe('63C2');
    expect(await pin.getByTestId('apdu-meaning').textContent()).toBe('verification failed, 2 tries left');
    expect(await pin.locator('td').first().textContent()).toBe('07:00:01.010');
    const read = rows.nth(2);
    const shortened = (await read.locator('td').nth(2).locator('summary').textContent()) ?? '';
    expect(shortened).toMatch(/…/);
    expect(shortened).toContain('(202 bytes)');
    expect(await read.locator('td').nth(2).locator('summary').getAttribute('title')).toBe(kLongResponse);
    expect(await read.locator('td').nth(2).locator('code.hex').last().isVisible()).toBe(false);
    await read.locator('td').nth(2).locator('summary').click();
    expect(await read.locator('td').nth(2).locator('code.hex').last().textContent()).toBe(kLongResponse);
  });

  it('embeds the screenshot so that it renders, notes a missing one, and links other attachments relatively', async () => {
    const section = scenarioSection('menu-broken');
    const img = section.getByTestId('screenshot');
    expect(await img.count()).toBe(1);
    expect(await img.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const size = await img.evaluate((e) => {
      const image = e as unknown as { naturalWidth: number; naturalHeight: number; complete: boolean };
      return [image.complete, image.naturalWidth, image.naturalHeight];
    });
    expect(size).toEqual([true, 40, 24]);
    expect(await section.getByTestId('attachment-missing').textContent()).toMatch(/gone\.png could not be read \(ENOENT\)/);
    const links = await section.getByTestId('attachment').evaluateAll((els) => els.map((e) => [e.textContent, e.getAttribute('href')]));
    expect(links).toEqual([
      ['screenshot', 'shots/menu.png'],
      ['playwright-trace', 'traces/menu%20broken.zip'],
    ]);
  });

  it('shows injected markup and Japanese as text, and the injected script never ran', async () => {
    expect(await scenarioSection('menu-broken').getByTestId('scenario-title').textContent()).toBe(kInjectedTitle);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).__jpkiInjected)).toBeUndefined();
    expect(await page.locator('script').count()).toBe(0);
    const html = readFileSync(reportFile, 'utf8');
    expect(html).not.toContain('<script>');
    expect(html).toContain('マイナンバーカードでログイン &lt;script&gt;');
  });

  it('embeds the charts, fetches nothing but the file itself, and logs no error', async () => {
    expect(await page.getByTestId('chart').locator('figcaption').textContent()).toBe('signatures per second');
    expect(await page.getByTestId('chart-svg').count()).toBe(1);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});

describe('escapeHtml', () => {
  it('escapes markup and both quotes, keeps Japanese, drops control characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(escapeHtml('署名\u0000\u0007\tok\n')).toBe('署名\tok\n');
  });
});

describe('HtmlReporter on a run without screenshots or scenarios', () => {
  it('writes a page that says no scenario ran', async () => {
    const file = join(dir, 'empty', 'report.html');
    await new HtmlReporter({ file, title: 'nothing <here>' }).onEnd({ ...run, scenarios: [], status: 'interrupted' });
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<title>nothing &lt;here&gt;</title>');
    expect(html).toContain('No scenario ran.');
    expect(html).toContain('data-testid="run-status">interrupted<');
  });
});
