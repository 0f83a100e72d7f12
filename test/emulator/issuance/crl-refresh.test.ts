import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crlNextUpdates, initCa, refreshCrlsIfStale } from '../../../emulator/index.js';
import { run } from '../../../harness/cli/main.js';
import { tempDir } from '../../support/cards.js';

describe('keeping the test CA’s CRLs current', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('re-publishes only when a CRL is due within the margin, and ca publish does it on demand', async () => {
    const caDir = join(dir.path, 'ca');
    const created = new Date('2026-01-10T00:00:00Z');
    const ca = initCa(caDir, { now: created });
    const first = crlNextUpdates(ca);
    expect(first.auth.toISOString()).toBe('2026-01-11T00:00:00.000Z');
    // Half a day before the CRLs are due: nothing to do with a 6-hour margin.
    expect(refreshCrlsIfStale(ca, { now: new Date('2026-01-10T12:00:00Z'), marginMs: 6 * 3_600_000 })).toBe(false);
    // Two days later they are past due: re-published, with a new number, due a day after that.
    const later = new Date('2026-01-12T09:00:00Z');
    expect(refreshCrlsIfStale(ca, { now: later })).toBe(true);
    expect(crlNextUpdates(ca).sign.toISOString()).toBe('2026-01-13T09:00:00.000Z');
    const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', join(caDir, 'sign.crl'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toMatch(/X509v3 CRL Number:\s*\n\s*2/);

    const out: string[] = [];
    expect(await run(['ca', 'publish', '--dir', caDir], { out: (t) => out.push(t), err: (t) => out.push(t) })).toBe(0);
    expect(out.join('\n')).toMatch(/re-published the CRLs .* next update due \d{4}-/);
    expect(crlNextUpdates(ca).auth.getTime()).toBeGreaterThan(Date.now());
  });
});
