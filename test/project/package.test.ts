/**
 * The package as a user gets it: `npm pack` of the built tree, installed by npm into a new project
 * with @playwright/test and vitest (better-sqlite3 built there, as the user's npm builds it; the
 * optional pcsclite left out), then used there through its exports only — the examples of
 * docs/library.md exactly as they stand (the Playwright config and spec, the vitest test, the node
 * script), a spec that fails on purpose to show the fixtures still tear down, a TypeScript file
 * type-checked against the shipped declarations, and `npx jpki-hil demo`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCardDefinition } from '../../emulator/index.js';
import { kPackageRoot, tempDir } from '../support/cards.js';
import { artifactsUnder, findSecrets } from '../support/secret-scan.js';

const kNpm = 'npm';
const versionOf = (name: string): string => (JSON.parse(readFileSync(join(kPackageRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

/** The code blocks of docs/library.md that name their file (```js file=sign.mjs), by file. */
function docExamples(): Map<string, string> {
  const doc = readFileSync(join(kPackageRoot, 'docs', 'library.md'), 'utf8');
  const blocks = new Map<string, string>();
  for (const m of doc.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)) blocks.set(m[1]!, m[2]!);
  return blocks;
}

/** A spec of the test's own: a step that fails as expected, and a check that the failed test's servers are gone. */
const kTeardownSpec = `import { test, expect } from 'jpki-hil/playwright';

test.describe.configure({ mode: 'serial' });
const started = [];

test('a login that does not end as the spec expects fails the test', async ({ page, mynaportal, pcAgent }) => {
  test.fail();
  started.push(mynaportal.baseUrl, pcAgent.url);
  await page.goto(mynaportal.url('/login'));
  await mynaportal.pcLogin({ pin: '9999', expect: 'menu' });
});

test('the failed test left no portal or agent running', async () => {
  expect(started).toHaveLength(2);
  for (const url of started) await expect(fetch(url), url).rejects.toThrow();
});
`;

describe('the npm package', () => {
  const dir = tempDir('jpki-hil-package-');
  const project = join(dir.path, 'project');
  const examples = docExamples();
  let files: string[];

  beforeAll(() => {
    // dist/ is built by the test command's set-up; packing must not rebuild it under running tests.
    const packed = JSON.parse(execFileSync(kNpm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir.path], { cwd: kPackageRoot, encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
    files = packed[0]!.files.map((f) => f.path);
    mkdirSync(project, { recursive: true });
    // The allowScripts of docs/library.md: the portals' SQLite module builds; PC/SC and the rest stay out.
    const allowScripts = JSON.parse(/^```json\n(\{ "allowScripts".*\})\n```$/m.exec(readFileSync(join(kPackageRoot, 'docs', 'library.md'), 'utf8'))![1]!) as object;
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-jpki-hil', version: '1.0.0', private: true, type: 'module', ...allowScripts }));
    for (const [file, code] of examples) {
      mkdirSync(dirname(join(project, file)), { recursive: true });
      writeFileSync(join(project, file), code);
    }
    writeFileSync(join(project, 'tests', 'teardown.spec.js'), kTeardownSpec);
    const tarball = join(dir.path, readdirSync(dir.path).find((f) => f.endsWith('.tgz'))!);
    const wanted = [tarball, `@playwright/test@${versionOf('@playwright/test')}`, `vitest@${versionOf('vitest')}`];
    execFileSync(kNpm, ['install', '-D', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...wanted], { cwd: project, encoding: 'utf8', timeout: 500_000 });
  }, 520_000);
  afterAll(() => dir.remove());

  it('ships the compiled code, its declarations, the CLI and the data, and nothing of the tests', () => {
    const entries = ['index', 'playwright', 'steps'].flatMap((e) => [`dist/harness/library/${e}.js`, `dist/harness/library/${e}.d.ts`]);
    for (const wanted of ['bin/jpki-hil.js', ...entries, 'dist/harness/cli/main.js', 'dist/scenarios/seeds/steps/apps.js', 'scenarios/cards/adult.yaml', 'firmware-profiles/schema.json', 'docs/library.md', 'README.md']) {
      expect(files, wanted).toContain(wanted);
    }
    expect(files.filter((f) => /^(test|dist\/test|dist\/out|harness)\//.test(f) || f.endsWith('.map'))).toEqual([]);
  });

  it('has the examples of docs/library.md to run', () => {
    expect([...examples.keys()].sort()).toEqual(['playwright.config.js', 'sign.mjs', 'sign.test.js', 'tests/first-login.spec.js']);
  });

  it('runs the docs\' node script: issues a card, signs a nonce and verifies it with node:crypto', () => {
    const run = spawnSync(process.execPath, ['sign.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout.trim(), run.stderr).toBe('verified 3');
  });

  it('runs the same script where no native module was built (installed with --ignore-scripts)', () => {
    const bare = join(dir.path, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', version: '1.0.0', private: true, type: 'module' }));
    writeFileSync(join(bare, 'sign.mjs'), examples.get('sign.mjs')!);
    const tarball = join(dir.path, readdirSync(dir.path).find((f) => f.endsWith('.tgz'))!);
    execFileSync(kNpm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error', tarball], { cwd: bare, encoding: 'utf8', timeout: 200_000 });
    for (const native of ['better-sqlite3/build', 'pcsclite/build']) expect(existsSync(join(bare, 'node_modules', native)), native).toBe(false);
    const run = spawnSync(process.execPath, ['sign.mjs'], { cwd: bare, encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout.trim(), run.stderr).toBe('verified 3');
    // What needs a native module says which one and how to build it, in an installed package's words.
    writeFileSync(
      join(bare, 'native.mjs'),
      `import { PcscReaderProvider } from 'jpki-hil';
const provider = new PcscReaderProvider();
await provider.list().then(() => console.log('PC/SC: no error'), (e) => console.log(e.message));
await provider.close().catch(() => undefined);
const { openMigratedDatabase } = await import('./node_modules/jpki-hil/dist/harness/portal/shared/sqlite.js');
try { openMigratedDatabase(':memory:', []); console.log('SQLite: no error'); } catch (e) { console.log(e.message); }
`,
    );
    const native = spawnSync(process.execPath, ['native.mjs'], { cwd: bare, encoding: 'utf8', timeout: 60_000 });
    const [pcsc, sqlite] = native.stdout.trim().split('\n');
    expect(pcsc, native.stderr).toMatch(/"pcsclite".*not installed or not built.*"allowScripts": \{ "pcsclite": true \}.*libpcsclite-dev.*`npm rebuild pcsclite`/);
    expect(sqlite, native.stderr).toMatch(/better-sqlite3, whose native module is not built.*"allowScripts": \{ "better-sqlite3": true \}.*`npm rebuild better-sqlite3`/);
    expect(native.stdout).not.toMatch(/npm run setup/);
  }, 210_000);

  it('runs the docs\' vitest test with vitest', () => {
    const run = spawnSync('npx', ['--no-install', 'vitest', 'run', 'sign.test.js'], { cwd: project, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: '1', NO_COLOR: '1' } });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Tests\s+2 passed/);
  }, 130_000);

  it('runs the docs\' Playwright spec in Chromium with `npx playwright test`: first login with registration, a wrong PIN with the tries left; fixtures torn down after a failure', () => {
    const run = spawnSync('npx', ['--no-install', 'playwright', 'test', '--reporter=list,json'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, CI: '1', PLAYWRIGHT_JSON_OUTPUT_NAME: 'results.json' },
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    interface Result { status: string; attachments: { name: string; body?: string }[] }
    const report = JSON.parse(readFileSync(join(project, 'results.json'), 'utf8')) as { suites: { specs: { title: string; tests: { status: string; results: Result[] }[] }[] }[] };
    const specs = report.suites.flatMap((s) => s.specs);
    expect(specs.map((s) => [s.title, s.tests[0]!.status])).toEqual(
      expect.arrayContaining([
        ['the first login with the card registers an account', 'expected'],
        ['a wrong PIN shows the tries left', 'expected'],
        ['a login that does not end as the spec expects fails the test', 'expected'],
        ['the failed test left no portal or agent running', 'expected'],
      ]),
    );
    // Every test with a card carries its APDU trace; the PIN the agent sent shows as ** only.
    const trace = (title: string): string => {
      const result = specs.find((s) => s.title === title)!.tests[0]!.results[0]!;
      const attachment = result.attachments.find((a) => a.name === 'apdu-trace');
      return Buffer.from(attachment?.body ?? '', 'base64').toString('utf8');
    };
    for (const title of ['a wrong PIN shows the tries left', 'a login that does not end as the spec expects fails the test']) {
      expect(trace(title), title).toMatch(/^\S+ {2}0020008004\*{8} → 63C2 /m);
    }
    const pins = loadCardDefinition(join(kPackageRoot, 'scenarios', 'cards', 'adult.yaml')).pins;
    const artifacts = { ...artifactsUnder(join(project, 'test-results')), 'results.json': readFileSync(join(project, 'results.json')) };
    expect(findSecrets(artifacts, [pins.auth, pins.sign])).toEqual([]);
  }, 250_000);

  it('type-checks a TypeScript user of the three entries against the shipped declarations', () => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { openTestCard, type CardStateSummary, type TestCard, type CardDefinition } from 'jpki-hil';
import { test, expect, type PortalFixture } from 'jpki-hil/playwright';
import { JpkiClient, type CustomStepContext } from 'jpki-hil/steps';
export async function pinOf(): Promise<string> {
  const card: TestCard = await openTestCard({ card: { description: 'mine' } satisfies Partial<CardDefinition> });
  const state: CardStateSummary = card.state();
  const { sw }: { sw: number } = await card.transmit(new Uint8Array([0x00, 0xa4, 0x04, 0x0c]));
  await card.close();
  return card.pins.auth + state.lifecycle + String(sw);
}
export const step = async (ctx: CustomStepContext): Promise<void> => {
  const connection = await ctx.reader.connect();
  await new JpkiClient(connection).pinTriesLeft('auth');
};
test.use({ card: 'minor', cardReader: 'in-process' });
test('typed', async ({ mynaportal, reader, phone, ca }) => {
  const portal: PortalFixture = mynaportal;
  await portal.pcLogin({ expect: 'menu' });
  await phone.scanQr();
  expect((await reader.pinState('auth')).blocked).toBe(false);
  expect(ca.dir).toContain('jpki-hil');
});
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(kPackageRoot, 'node_modules', '@types')] }, files: ['use.ts'] }),
    );
    const run = spawnSync(process.execPath, [join(kPackageRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  }, 130_000);

  it('runs `npx jpki-hil demo` from the installed package', () => {
    const run = spawnSync('npx', ['--no-install', 'jpki-hil', 'demo', '--out', join(dir.path, 'demo-out')], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/issued card "adult"/);
  }, 130_000);
});
