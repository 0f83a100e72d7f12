/**
 * The smoke suite with every scenario's card served through the real pcscd and vpcd, read back
 * over PC/SC by the PC agent and the phone — the path a USB reader takes — run by the built command.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../harness/runner/results.js';
import { tempDir } from '../support/cards.js';
import { kBin } from '../support/served-card.js';

describe('jpki-hil run --suite smoke --reader pcsc', () => {
  const dir = tempDir('jpki-hil-pcsc-smoke-');
  afterAll(() => dir.remove());

  it('passes every smoke scenario, and the APDUs went through the vpcd readers', () => {
    const out = join(dir.path, 'out');
    const r = spawnSync(process.execPath, [kBin, 'run', '--suite', 'smoke', '--reader', 'pcsc', '--out', out], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
    expect(result.info.reader).toBe('PC/SC through pcscd and vpcd');
    expect(result.scenarios.length).toBeGreaterThanOrEqual(1);
    for (const s of result.scenarios) expect(s.status, s.scenario.id).toBe('passed');
    const apdus = result.scenarios.flatMap((s) => s.steps.flatMap((st) => st.apdus ?? []));
    expect(apdus.length).toBeGreaterThan(10);
    // The health check looked at the vpcd readers in pcscd before anything ran.
    expect(readFileSync(join(out, 'run.log'), 'utf8')).toMatch(/reader health: Virtual PCD 00 00.* present in pcscd/);
  });
});
