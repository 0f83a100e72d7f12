/**
 * The identity scenarios of the negative suite catch the mistakes they are about: on the sound
 * portals they pass; on portals built with the flaw on purpose (`run --portal-flaw`) each fails as
 * a product defect (JUnit <failure type="product">), at the step that performs the attack.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../harness/cli/main.js';
import type { RunResult } from '../../../harness/runner/results.js';
import { kPackageRoot, tempDir } from '../../support/cards.js';

const kScenarios = ['identity-replay-card-info', 'application-signed-by-another-person'].map((name) => join(kPackageRoot, 'scenarios', 'negative', `${name}.yaml`));

async function runIdentityScenarios(out: string, ...extra: string[]): Promise<{ code: number; result: RunResult; err: string }> {
  const err: string[] = [];
  const code = await run(['run', ...kScenarios, '--out', out, '--workers', '2', '--reporter', 'json,junit', ...extra], { out: () => undefined, err: (t) => err.push(t) });
  return { code, result: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult, err: err.join('\n') };
}

describe('identity scenarios against sound and flawed portals', () => {
  const dir = tempDir('jpki-hil-flaws-');
  let sound: Awaited<ReturnType<typeof runIdentityScenarios>>;
  let flawed: Awaited<ReturnType<typeof runIdentityScenarios>>;

  beforeAll(async () => {
    sound = await runIdentityScenarios(join(dir.path, 'sound'));
    flawed = await runIdentityScenarios(join(dir.path, 'flawed'), '--portal-flaw', 'trust-client-card-info', '--portal-flaw', 'skip-applicant-check');
  }, 240_000);
  afterAll(() => dir.remove());

  it('pass on the sound portals', () => {
    expect(sound.code, sound.err).toBe(0);
    expect(sound.result.scenarios.map((s) => [s.scenario.id, s.status])).toEqual([
      ['neg-identity-replay-card-info', 'passed'],
      ['neg-application-signed-by-another-person', 'passed'],
    ]);
  });

  it('fail as product defects at the attack on portals with the flaws', () => {
    expect(flawed.code).toBe(1);
    const failures = flawed.result.scenarios.map((s) => {
      const step = s.steps.find((x) => x.status === 'failed');
      return { id: s.scenario.id, status: s.status, step: step?.name, classification: step?.error?.classification, message: step?.error?.message };
    });
    expect(failures).toEqual([
      {
        id: 'neg-identity-replay-card-info',
        status: 'failed',
        step: "own card signs, the other person's card-info files are posted",
        classification: 'product',
        message: expect.stringMatching(/logged the attacker's card into an account .*the other person’s/),
      },
      {
        id: 'neg-application-signed-by-another-person',
        status: 'failed',
        step: "the signing app signs with another person's card",
        classification: 'product',
        message: expect.stringMatching(/accepted the application signed with another person's signature certificate/),
      },
    ]);
    const junit = readFileSync(join(dir.path, 'flawed', 'junit.xml'), 'utf8');
    expect(junit.match(/<failure [^>]*type="product"/g)).toHaveLength(2);
  });

  it('refuses a flaw it does not know, naming the known ones', async () => {
    const err: string[] = [];
    const code = await run(['run', ...kScenarios, '--portal-flaw', 'trust-everyone'], { out: () => undefined, err: (t) => err.push(t) });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/--portal-flaw "trust-everyone" is not a flaw .*trust-client-card-info, skip-applicant-check/);
  });
});
