/**
 * The runner end to end through `jpki-hil run`, on small scenarios written into a temporary
 * directory: what it writes (JUnit checked by xmllint against the JUnit schema, JSON, an HTML report
 * opened in Chromium), how it classifies failures (a broken card is a product defect, a reader that
 * goes away is a lab problem), retries, sharding and merging, and its refusals.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../harness/cli/main.js';
import { launchChromium, type LaunchedBrowser } from '../../../harness/browser/launch-chromium.js';
import { startMyPage } from '../../../harness/portal/mypage/server.js';
import { portalOptionsFromCaDir } from '../../../harness/portal/mynaportal/portal-options.js';
import type { RunResult } from '../../../harness/runner/results.js';
import { kPackageRoot, tempDir } from '../../support/cards.js';

interface CliResult {
  code: number;
  out: string;
  err: string;
}

async function cli(...argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const dir = tempDir('jpki-hil-runner-');
afterAll(() => dir.remove());

function scenario(folder: string, name: string, text: string): string {
  const d = join(dir.path, folder);
  mkdirSync(d, { recursive: true });
  const file = join(d, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

function results(out: string): RunResult {
  return JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
}

const statusOf = (r: RunResult, id: string): string | undefined => r.scenarios.find((s) => s.scenario.id === id)?.status;

describe('jpki-hil run: reports', () => {
  const out = join(dir.path, 'out-reports');
  let result: CliResult;
  let browser: LaunchedBrowser;

  beforeAll(async () => {
    scenario(
      'reports',
      'login',
      `id: inline-login
title: First login reaches the registration form
card: adult
portal: mynaportal
steps:
  - open: { path: /login }
  - expectScreen: { id: L-01 }
  - pcLogin: { name: log in with the card, expect: registration }
  - expectScreen: { id: B-01 }
  - expectCard: { pin: auth, triesLeft: 3 }
`,
    );
    scenario(
      'reports',
      'missing-text',
      `id: inline-missing-text
title: Expects a text the login page does not have
card: adult
portal: mynaportal
steps:
  - open: { path: /login }
  - expectText: { text: この文言はどこにもない, timeoutMs: 1500 }
  - open: { path: /menu }
`,
    );
    result = await cli('run', join(dir.path, 'reports'), '--out', out, '--workers', '2');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('exits 1 when a scenario fails, and says so on the list', () => {
    expect(result.code, result.err).toBe(1);
    expect(result.out).toMatch(/✓ inline-login/);
    expect(result.out).toMatch(/✗ inline-missing-text/);
    expect(result.out).toMatch(/step 2 expectText: .*\[product\] expected "この文言はどこにもない" in the page/);
    expect(result.out).toMatch(/2 scenarios: 1 passed, 1 failed \(1 product\)/);
    expect(result.out).toContain(`html: ${join(out, 'report.html')}`);
  });

  it('writes JUnit XML that the JUnit schema accepts, with the product defect as <failure>', () => {
    const junit = join(out, 'junit.xml');
    const lint = spawnSync('xmllint', ['--noout', '--schema', join(kPackageRoot, 'reports', 'junit.xsd'), junit], { encoding: 'utf8' });
    expect(lint.status, lint.stderr).toBe(0);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testcase [^>]*name="inline-missing-text[^"]*"[^>]*>\s*<failure/);
    expect(xml).not.toMatch(/<error/);
  });

  it('writes the JSON result with every step, its timing and the APDUs the card saw', () => {
    const r = results(out);
    expect(r.status).toBe('failed');
    const login = r.scenarios.find((s) => s.scenario.id === 'inline-login')!;
    expect(login.steps.map((s) => s.status)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed']);
    const pcLogin = login.steps[2]!;
    expect(pcLogin.name).toBe('log in with the card');
    // The login's signature is in the trace: VERIFY with the PIN masked, then COMPUTE DIGITAL SIGNATURE.
    expect(pcLogin.apdus!.some((a) => a.command === '0020008004********' && a.sw === '9000')).toBe(true);
    expect(pcLogin.apdus!.some((a) => a.command.startsWith('802A0080') && a.response.length === 512)).toBe(true);
    const failed = r.scenarios.find((s) => s.scenario.id === 'inline-missing-text')!;
    expect(failed.steps.map((s) => s.status)).toEqual(['passed', 'failed', 'skipped']);
    expect(failed.steps[1]!.error!.classification).toBe('product');
    const names = failed.steps[1]!.attachments!.map((a) => a.name).sort();
    expect(names).toEqual(['apdu-trace', 'playwright-trace', 'screenshot']);
    for (const a of failed.steps[1]!.attachments!) expect(existsSync(a.path), a.path).toBe(true);
  });

  it('writes an HTML report that Chromium shows with the steps and the decoded APDU trace', async () => {
    const page = await browser.context.newPage();
    await page.goto(pathToFileURL(join(out, 'report.html')).href);
    const login = page.locator('[data-testid=scenario][data-scenario-id=inline-login]');
    await login.locator('summary').first().click();
    await expect.poll(() => login.locator('[data-testid=step]').count()).toBe(5);
    const meanings = await login.locator('[data-testid=apdu-meaning]').allTextContents();
    expect(meanings.some((m) => /3 tries left/.test(m))).toBe(true);
    const failed = page.locator('[data-testid=scenario][data-scenario-id=inline-missing-text]');
    expect(await failed.getAttribute('data-status')).toBe('failed');
    const shot = failed.locator('[data-testid=screenshot]').first();
    await expect.poll(() => shot.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(100);
    await page.close();
  });
});

describe('jpki-hil run: failure classes and retries', () => {
  const out = join(dir.path, 'out-classes');
  let r: RunResult;

  beforeAll(async () => {
    const steps = join(dir.path, 'classes', 'steps');
    mkdirSync(steps, { recursive: true });
    // Unplugs the in-process reader under the scenario's feet, as a USB cable pulled mid-run.
    writeFileSync(join(steps, 'unplug.ts'), `export default async function unplug(ctx: { reader: { inner?: { close(): Promise<void> } } }): Promise<void> {\n  await ctx.reader.inner!.close();\n}\n`);
    // Fails on its first run, passes on the next: a flaky step.
    writeFileSync(
      join(steps, 'flaky.js'),
      `import { existsSync, writeFileSync } from 'node:fs';\nexport function once(ctx) {\n  if (!existsSync(ctx.args.marker)) { writeFileSync(ctx.args.marker, 'x'); throw ctx.fail.product('first attempt fails'); }\n}\n`,
    );
    scenario(
      'classes',
      'broken-card',
      `id: broken-card-login
title: A card whose key does not match its certificate cannot log in
card: wrong-auth-key
portal: mynaportal
steps:
  - open: { path: /login }
  - pcLogin: { expect: registration }
`,
    );
    scenario(
      'classes',
      'reader-gone',
      `id: reader-gone
title: The reader goes away before the login
card: adult
portal: mynaportal
steps:
  - open: { path: /login }
  - custom: { module: ./steps/unplug.ts }
  - pcLogin: { expect: registration, timeoutMs: 8000 }
`,
    );
    scenario(
      'classes',
      'flaky',
      `id: flaky-once
title: Fails once, then passes
card: adult
portal: mypage
steps:
  - open: { path: / }
  - custom: { module: ./steps/flaky.js, export: once, with: { marker: '${join(dir.path, 'flaky-marker')}' } }
`,
    );
    scenario(
      'classes',
      'lab-tool',
      `id: lab-tool-fails
title: A lab tool that fails is the lab's problem
card: adult
portal: mypage
steps:
  - command: { run: [sh, -c, 'echo adb: no devices >&2; exit 3'] }
`,
    );
    scenario(
      'classes',
      'operator',
      `id: operator-without-terminal
title: An operator prompt with nobody at a terminal
card: adult
portal: mypage
steps:
  - operator: { prompt: Hold the card to the phone, timeoutMs: 1000 }
`,
    );
    scenario(
      'classes',
      'bad-template',
      `id: custom-step-missing-export
title: A custom step module without the named export is the harness's defect
card: adult
portal: mypage
steps:
  - custom: { module: ./steps/flaky.js, export: nope }
`,
    );
    const res = await cli('run', join(dir.path, 'classes'), '--out', out, '--retries', '1', '--workers', '2');
    expect(res.code, res.out + res.err).toBe(1);
    r = results(out);
  });

  const failureOf = (id: string) => {
    const s = r.scenarios.find((x) => x.scenario.id === id)!;
    return s.error ?? s.steps.find((x) => x.status === 'failed')?.error;
  };

  it('a deliberately broken card fails the login as a product defect (the portal refused its signature)', () => {
    expect(statusOf(r, 'broken-card-login')).toBe('failed');
    expect(failureOf('broken-card-login')).toMatchObject({ classification: 'product', message: expect.stringMatching(/SIGNATURE_MISMATCH/) });
  });

  it('a reader that disappears mid-run is a lab problem, not the product\'s', () => {
    expect(statusOf(r, 'reader-gone')).toBe('failed');
    expect(failureOf('reader-gone')).toMatchObject({ classification: 'lab', message: expect.stringMatching(/no longer answers .*NO_READER|NO_READER/) });
  });

  it('a scenario that passes on a retry is flaky, and ran twice', () => {
    const s = r.scenarios.find((x) => x.scenario.id === 'flaky-once')!;
    expect(s.status).toBe('flaky');
    expect(s.attempts).toBe(2);
  });

  it('a failing lab tool and an operator prompt nobody can answer are lab problems', () => {
    expect(failureOf('lab-tool-fails')).toMatchObject({ classification: 'lab', message: expect.stringMatching(/exited with 3, expected 0: adb: no devices/) });
    expect(failureOf('operator-without-terminal')).toMatchObject({ classification: 'lab', message: expect.stringMatching(/needs a person at a terminal/) });
  });

  it('a custom step that does not exist as named is a harness defect, reported as <error> in JUnit', () => {
    expect(failureOf('custom-step-missing-export')).toMatchObject({ classification: 'harness', message: expect.stringMatching(/no exported function "nope" \(it exports once\)/) });
    const xml = readFileSync(join(out, 'junit.xml'), 'utf8');
    expect(xml).toMatch(/<testcase [^>]*name="custom-step-missing-export[^"]*"[^>]*>\s*<error/);
    expect(xml).toMatch(/<testcase [^>]*name="broken-card-login[^"]*"[^>]*>\s*<failure/);
  });
});

describe('jpki-hil run: shards', () => {
  it('two shards merged give the same results as one run', async () => {
    for (const [i, kind] of ['passes', 'fails', 'passes', 'passes', 'fails'].entries()) {
      scenario(
        'shards',
        `s${i}`,
        `id: shard-${i}
title: Scenario ${i} ${kind}
card: adult
portal: mypage
steps:
  - open: { path: / }
  - expectText: { text: ${kind === 'passes' ? 'マイページ' : '存在しない文言'}, timeoutMs: 1000 }
`,
      );
    }
    const folder = join(dir.path, 'shards');
    const whole = await cli('run', folder, '--out', join(dir.path, 'shard-whole'), '--reporter', 'json');
    const one = await cli('run', folder, '--shard', '1/2', '--out', join(dir.path, 'shard-1'), '--reporter', 'json');
    const two = await cli('run', folder, '--shard', '2/2', '--out', join(dir.path, 'shard-2'), '--reporter', 'json');
    expect([whole.code, one.code, two.code]).toEqual([1, 1, 1]);
    const merged = await cli('merge-reports', join(dir.path, 'shard-1'), join(dir.path, 'shard-2'), '--out', join(dir.path, 'shard-merged'), '--reporter', 'json,junit');
    expect(merged.code, merged.err).toBe(1);
    const shape = (x: RunResult) => x.scenarios.map((s) => ({ id: s.scenario.id, status: s.status, steps: s.steps.map((st) => st.status) }));
    const a = results(join(dir.path, 'shard-whole'));
    const b = results(join(dir.path, 'shard-merged'));
    expect(results(join(dir.path, 'shard-1')).scenarios).toHaveLength(3);
    expect(results(join(dir.path, 'shard-2')).scenarios).toHaveLength(2);
    expect(shape(b)).toEqual(shape(a));
    expect(b.status).toBe(a.status);
  });
});

describe('jpki-hil run: an external portal', () => {
  it('drives the site given with --base-url, and skips external scenarios without it', async () => {
    // The "staging site" here is a My Page started on its own, trusting a CA the runner does not know.
    const ca = join(dir.path, 'external-ca');
    expect((await cli('card', 'issue', '--ca', ca, '--out', join(dir.path, 'external-card.json'))).code).toBe(0);
    const { verifier, cardInfoPublicKey, holders } = portalOptionsFromCaDir(ca, { db: ':memory:' });
    const site = await startMyPage({ verifier, cardInfoPublicKey, holders, port: 0 });
    try {
      scenario(
        'external',
        'staging',
        `id: staging-home
title: The staging site's home page answers
card: adult
portal: external
steps:
  - open: { path: /login }
  - expectText: { text: ログイン }
`,
      );
      const folder = join(dir.path, 'external');
      const ran = await cli('run', folder, '--base-url', site.url, '--out', join(dir.path, 'out-external'), '--reporter', 'json');
      expect(ran.code, ran.out + ran.err).toBe(0);
      const r = results(join(dir.path, 'out-external'));
      expect(r.scenarios[0]!.steps[0]!.name).toBe('/login');
      const skipped = await cli('run', folder, '--out', join(dir.path, 'out-external-skip'), '--reporter', 'json,list');
      expect(skipped.code).toBe(0);
      expect(skipped.out).toMatch(/- staging-home: .*\(skipped: targets an external portal: give its URL with --base-url\)/);
    } finally {
      await site.close();
    }
  });
});

describe('jpki-hil run: refusals', () => {
  it('a scenario file with an error stops the run before it starts, naming file, line and field (exit 2)', async () => {
    const file = scenario('bad', 'typo', 'id: typo\ntitle: t\ncard: adult\nportal: mynaportal\nsteps:\n  - clik: { testId: x }\n');
    const r = await cli('run', file, '--out', join(dir.path, 'out-bad'));
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}:6: steps[0].clik: unknown step kind "clik" (did you mean "click"?`);
    expect(existsSync(join(dir.path, 'out-bad', 'results.json'))).toBe(false);
  });

  it('bad options say what is wrong and exit 2', async () => {
    expect(await cli('run', '--suite', 'nope')).toMatchObject({ code: 2, err: expect.stringMatching(/no suite "nope"; the suites are: .*seeds/) });
    expect(await cli('run', '--reader', 'usb')).toMatchObject({ code: 2, err: expect.stringMatching(/--reader "usb" is not emulator, pcsc or pcsc:<reader name>/) });
    expect(await cli('run', '--shard', '3/2')).toMatchObject({ code: 2, err: expect.stringMatching(/--shard "3\/2" is not i\/n/) });
    expect(await cli('run', '--reporter', 'xml')).toMatchObject({ code: 2, err: expect.stringMatching(/--reporter "xml" is unknown/) });
    expect(await cli('merge-reports', join(dir.path, 'nowhere'))).toMatchObject({ code: 2, err: expect.stringMatching(/no such file or directory/) });
  });

  it('--list prints the selection without running it', async () => {
    const r = await cli('run', '--suite', 'seeds', '--list');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^mynaportal-first-login\t/m);
  });
});
