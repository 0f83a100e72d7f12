/**
 * The benchmark runs end to end and writes every figure it promises, measured (not null) on a
 * machine with the PC/SC stack. No speed is asserted here: figures belong in the benchmark's output.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cards.js';
import { kBin } from '../support/served-card.js';

const run = promisify(execFile);

describe('jpki-hil bench', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('measures openssl, in-process (1 and N threads) and pcscd with and without the fix, as a table and JSON', async () => {
    const json = join(dir.path, 'bench.json');
    const { stdout } = await run(process.execPath, [kBin, 'bench', '--seconds', '1', '--workers', '2', '--json', json], { encoding: 'utf8', timeout: 120_000 });
    expect(stdout).toMatch(/in-process emulator, 2 worker threads/);
    expect(stdout).toMatch(/pcscd \+ vpcd, quickack route/);
    const r = JSON.parse(readFileSync(json, 'utf8')) as Record<string, Record<string, { value: number | null; reason?: string }> | number | string>;
    expect(r.workers).toBe(2);
    const value = (group: string, key: string): number | null => (r[group] as Record<string, { value: number | null }>)[key]!.value;
    for (const [group, key] of [
      ['openssl', 'single'],
      ['openssl', 'multi'],
      ['inprocess', 'single'],
      ['inprocess', 'multi'],
      ['inprocess', 'apduPerSec'],
      ['pcsc', 'apduPerSec'],
      ['pcsc', 'signPerSec'],
      ['pcscWithoutFix', 'apduPerSec'],
    ]) {
      expect(value(group!, key!), `${group}.${key}`).toBeGreaterThan(0);
    }
  });
});
