/**
 * The negative scenarios for session fixation and SMS-code brute force pass on the mock portals and
 * fail, as product defects, on portals started with the matching deliberate flaw
 * (`run --portal-defect`): the scenarios catch the attack they are written for.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kPackageRoot, tempDir } from '../../support/cards.js';

const kScenarios = ['mynaportal-session-fixation', 'citizen-sms-code-brute-force'].map((n) => join(kPackageRoot, 'scenarios', 'negative', `${n}.yaml`));

function run(out: string, extra: string[]): { status: number | null; stdout: string; results: { scenarios: { status: string; failure?: { classification?: string; message?: string } }[] } } {
  const child = spawnSync(process.execPath, [join(kPackageRoot, 'bin', 'jpki-hil.js'), 'run', ...kScenarios, '--out', out, '--workers', '1', ...extra], { encoding: 'utf8', timeout: 240_000 });
  return { status: child.status, stdout: child.stdout, results: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as never };
}

describe('negative scenarios against deliberately flawed portals', () => {
  it('pass on the portals as they are and fail as product defects on the flawed ones', () => {
    const dir = tempDir('jpki-hil-defects-');
    try {
      const sound = run(join(dir.path, 'sound'), []);
      expect(sound.status, sound.stdout).toBe(0);
      expect(sound.stdout).toContain('2 scenarios: 2 passed');
      const flawed = run(join(dir.path, 'flawed'), ['--portal-defect', 'keep-session-at-login', 'unlimited-codes']);
      expect(flawed.status).toBe(1);
      expect(flawed.stdout).toContain('2 failed (2 product)');
      const messages = JSON.stringify(flawed.results);
      expect(messages).toContain('session fixation');
      expect(messages).toContain('CODE_RESEND_TOO_SOON');
    } finally {
      dir.remove();
    }
  }, 300_000);
});
