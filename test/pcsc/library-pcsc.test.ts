/**
 * The library's PC/SC paths with the real pcscd and vpcd: a Playwright spec (run by
 * `npx playwright test` over the built jpki-hil/playwright) whose card is served through vpcd and
 * read back over PC/SC, one read through a contact reader's profile, and `openTestCard().serveVpcd()`
 * read by OpenSC's pkcs15-tool, a client that is not ours.
 */
import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { kAtrPresets } from '../../emulator/index.js';
import { openTestCard } from '../../harness/library/index.js';
import { kPackageRoot, tempDir } from '../support/cards.js';

const kFixtures = pathToFileURL(join(kPackageRoot, 'dist', 'harness', 'library', 'playwright.js')).href;

describe('the library over PC/SC', () => {
  const dir = tempDir('jpki-hil-library-pcsc-');
  afterAll(() => dir.remove());

  it('runs a Playwright spec whose card sits in a vpcd reader, and one read through a contact reader profile', () => {
    const specs = join(dir.path, 'tests');
    mkdirSync(specs);
    writeFileSync(
      join(dir.path, 'playwright.config.mjs'),
      `export default { testDir: 'tests', workers: 1, use: { launchOptions: { executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] } } };\n`,
    );
    writeFileSync(
      join(specs, 'pcsc.spec.mjs'),
      `import { test, expect } from ${JSON.stringify(kFixtures)};

test.describe('pcsc', () => {
  test.use({ cardReader: 'pcsc' });
  test('the first login reads the card through pcscd', async ({ page, mynaportal, reader }) => {
    expect(reader.kind).toBe('vpcd');
    expect(reader.reader.name).toMatch(/^Virtual PCD 00 0[01]$/);
    await page.goto(mynaportal.url('/login'));
    await mynaportal.pcLogin({ expect: 'registration' });
    expect(reader.trace.some((e) => e.command.startsWith('0020008004') && e.sw === '9000')).toBe(true);
    await reader.expectPin('auth', { triesLeft: 3, blocked: false });
  });
});

test.describe('profile', () => {
  test.use({ profile: 'generic-ccid-contact' });
  test('the card answers with the contact ATR through the profile', async ({ reader }) => {
    const connection = await reader.reader.connect();
    expect(Buffer.from(connection.atr).toString('hex').toUpperCase()).toBe(${JSON.stringify(kAtrPresets.contact)});
    await connection.disconnect('reset');
    expect(await reader.enterPin('auth', '0000')).toBe(2);
  });
});
`,
    );
    const run = spawnSync(join(kPackageRoot, 'node_modules', '.bin', 'playwright'), ['test', '--config', 'playwright.config.mjs', '--reporter=line'], { cwd: dir.path, encoding: 'utf8', timeout: 180_000, env: { ...process.env, CI: '1' } });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/2 passed/);
  }, 200_000);

  it('serves an openTestCard card through vpcd, where OpenSC reads its certificates', async () => {
    const card = await openTestCard({ card: 'adult' });
    try {
      const vpcd = await card.serveVpcd({ slot: 1 });
      try {
        // Asynchronously: the card pcscd asks answers from this process.
        const { stdout: out } = await promisify(execFile)('pkcs15-tool', ['--reader', '1', '--read-certificate', '01'], { encoding: 'utf8', timeout: 60_000 });
        const fromOpenSc = new X509Certificate(out.slice(out.indexOf('-----BEGIN CERTIFICATE-----')));
        const fromCard = new X509Certificate(await card.client.readCertificate('auth'));
        expect(fromOpenSc.fingerprint256).toBe(fromCard.fingerprint256);
      } finally {
        vpcd.stop();
      }
    } finally {
      await card.close();
    }
  }, 90_000);

  it('says what is wrong when no vpcd takes the card', async () => {
    const card = await openTestCard({ card: 'adult' });
    try {
      await expect(card.serveVpcd({ slot: 2 })).rejects.toThrow(/vpcd has slots 0 and 1, not 2/);
      await expect(card.serveVpcd({ slot: 0, host: '192.0.2.1' })).rejects.toThrow(/did not take the card within 10 s: is pcscd running with the vpcd driver/);
    } finally {
      await card.close();
    }
  }, 30_000);
});
