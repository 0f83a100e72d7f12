import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/**
 * The state a newcomer reaches with `npm start` before `npm test`: node modules installed while
 * libpcsclite-dev was missing, so npm dropped the optional binding (and what only it needs), and the
 * set-up stamp says the install is done. The PC/SC set-up must still end with a binding that loads.
 */
describe('the PC/SC set-up after an install that left the binding out', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs the dropped binding again, at the lock file version, and skips the step on the next run', async () => {
    dir = await mkdtemp(join(tmpdir(), 'jpki-hil-setup-'));
    for (const name of ['package.json', 'package-lock.json', 'scripts']) await cp(join(root, name), join(dir, name), { recursive: true });
    await cp(join(root, 'node_modules'), join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    // What `npm ci` leaves when the binding's build fails: the package and its own dependencies are gone.
    for (const name of ['pcsclite', 'bindings', 'nan', 'file-uri-to-path']) await rm(join(dir, 'node_modules', name), { recursive: true, force: true });
    await writeFile(join(dir, 'node_modules', '.setup-stamp'), '');
    const load = () => run(process.execPath, ['-e', "require('pcsclite'); console.log('loaded')"], { cwd: dir, encoding: 'utf8' });
    await expect(load()).rejects.toThrow(/Cannot find module 'pcsclite'/);
    const lockBefore = await readFile(join(dir, 'package-lock.json'), 'utf8');

    const first = await run('bash', ['scripts/pcsc-setup.sh', 'services'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    expect(first.stdout).toMatch(/installing the PC\/SC binding \(pcsclite@1\.0\.1\)/);
    expect((await load()).stdout.trim()).toBe('loaded');
    const installed = JSON.parse(await readFile(join(dir, 'node_modules', 'pcsclite', 'package.json'), 'utf8')) as { version: string };
    const locked = JSON.parse(lockBefore) as { packages: Record<string, { version: string }> };
    expect(installed.version).toBe(locked.packages['node_modules/pcsclite']?.version);
    expect(await readFile(join(dir, 'package-lock.json'), 'utf8')).toBe(lockBefore);

    const second = await run('bash', ['scripts/pcsc-setup.sh', 'services'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(second.stdout).not.toMatch(/pcsclite/);
  }, 360_000);
});
