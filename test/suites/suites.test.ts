/**
 * The shipped suites, as the product runs them: the seeds suite (every flow of the guides) and the
 * negative suite on the in-process emulator, through the built command, each scenario in its own
 * world. They run after the other tests, one file at a time, so that the machine is not shared.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../harness/runner/results.js';
import { tempDir } from '../support/cards.js';
import { kBin } from '../support/served-card.js';

describe('the shipped suites on the in-process emulator', () => {
  const dir = tempDir('jpki-hil-suites-');
  afterAll(() => dir.remove());

  for (const suite of ['seeds', 'negative']) {
    it(`every ${suite} scenario passes`, () => {
      const out = join(dir.path, suite);
      const r = spawnSync(process.execPath, [kBin, 'run', '--suite', suite, '--workers', '2', '--out', out], { encoding: 'utf8', timeout: 400_000 });
      const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
      const failed = result.scenarios.filter((s) => s.status !== 'passed').map((s) => `${s.scenario.id}: ${s.status}`);
      expect(failed, `${r.stdout}\n${r.stderr}`).toEqual([]);
      expect(r.status).toBe(0);
      expect(result.info.suite).toBe(suite);
      expect(result.scenarios.length).toBeGreaterThanOrEqual(suite === 'seeds' ? 10 : 10);
    }, 420_000);
  }
});
