/**
 * The package as a user gets it: `npm pack` of the built tree, installed into a new project by
 * npm with install scripts off (so no native module is built: the in-process card needs none),
 * then used there through its
 * exports — a script that issues a card, signs a nonce and verifies it with node:crypto, a
 * TypeScript file type-checked against the shipped declarations, and `npx jpki-hil demo`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kPackageRoot, tempDir } from '../support/cards.js';

const kNpm = 'npm';

describe('the npm package', () => {
  const dir = tempDir('jpki-hil-package-');
  const project = join(dir.path, 'project');
  let files: string[];

  beforeAll(() => {
    // dist/ is built by the test command's set-up; packing must not rebuild it under running tests.
    const packed = JSON.parse(execFileSync(kNpm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir.path], { cwd: kPackageRoot, encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
    files = packed[0]!.files.map((f) => f.path);
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-jpki-hil', version: '1.0.0', private: true, type: 'module' }));
    const tarball = join(dir.path, readdirSync(dir.path).find((f) => f.endsWith('.tgz'))!);
    execFileSync(kNpm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error', tarball], { cwd: project, encoding: 'utf8', timeout: 400_000 });
  }, 420_000);
  afterAll(() => dir.remove());

  it('ships the compiled code, its declarations, the CLI and the data, and nothing of the tests', () => {
    for (const wanted of ['bin/jpki-hil.js', 'dist/harness/library/index.js', 'dist/harness/library/index.d.ts', 'dist/harness/runner/steps/step-api.d.ts', 'dist/harness/cli/main.js', 'scenarios/cards/adult.yaml', 'firmware-profiles/schema.json', 'README.md']) {
      expect(files, wanted).toContain(wanted);
    }
    expect(files.filter((f) => /^(test|dist\/test|dist\/out)\//.test(f) || f.endsWith('.map'))).toEqual([]);
  });

  it('issues a card, signs a nonce with it and verifies the signature with node:crypto, in the new project', () => {
    writeFileSync(
      join(project, 'sign.mjs'),
      `import { createVerify, randomBytes, X509Certificate } from 'node:crypto';
import { openTestCard, sha256DigestInfo } from 'jpki-hil';
const card = await openTestCard({ card: 'adult' });
try {
  const certificate = new X509Certificate(await card.client.readCertificate('auth'));
  const nonce = randomBytes(32);
  await card.client.verifyPin('auth', card.pins.auth);
  const signature = await card.client.signDigestInfo('auth', sha256DigestInfo(nonce));
  const ok = createVerify('sha256').update(nonce).verify(certificate.publicKey, signature);
  console.log(ok ? 'verified' : 'NOT verified', await card.client.pinTriesLeft('auth'));
} finally {
  await card.close();
}
`,
    );
    const run = spawnSync(process.execPath, ['sign.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout.trim(), run.stderr).toBe('verified 3');
  });

  it('type-checks a TypeScript user of both entries against the shipped declarations', () => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { openTestCard, type TestCard, type CardDefinition } from 'jpki-hil';
import type { CustomStepContext } from 'jpki-hil/steps';
export async function pinOf(): Promise<string> {
  const card: TestCard = await openTestCard({ card: { description: 'mine' } satisfies Partial<CardDefinition> });
  await card.close();
  return card.pins.auth;
}
export const step = async (ctx: CustomStepContext): Promise<void> => ctx.log('hello');
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
