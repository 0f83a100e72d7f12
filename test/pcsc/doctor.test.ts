import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { kBin } from '../support/served-card.js';

const run = promisify(execFile);

describe('jpki-hil doctor', () => {
  it('finds the PC/SC stack in place and measures the round trip through pcscd with the quickack route', async () => {
    const result = await run(process.execPath, [kBin, 'doctor', '--json'], { encoding: 'utf8' }).catch((e: { stdout: string }) => e);
    const checks = JSON.parse(result.stdout) as { name: string; ok: boolean; detail: string; fix?: string }[];
    const byName = new Map(checks.map((c) => [c.name, c]));
    for (const name of ['node', 'packages', 'pcsclite binding', 'pcscd', 'vpcd', 'round trip', 'chromium']) expect(byName.has(name), name).toBe(true);
    for (const name of ['packages', 'pcsclite binding', 'pcscd', 'vpcd']) expect(byName.get(name)?.ok, `${name}: ${byName.get(name)?.detail}`).toBe(true);
    const roundTrip = byName.get('round trip')!;
    expect(roundTrip.detail).toMatch(/measured [\d.]+ ms per APDU round trip through pcscd/);
    expect(roundTrip.ok).toBe(true);
    // Every check carries the fix a person would need.
    for (const c of checks) expect(c.fix, c.name).toBeTruthy();
  });
});
