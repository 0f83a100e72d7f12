/** `jpki-hil bench --soak`: a short soak of `portal serve` writes its figures, RSS and database size at start and end. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SoakResult } from '../../../harness/bench/portal-soak.js';
import { kPackageRoot, tempDir } from '../../support/cards.js';

describe('jpki-hil bench --soak', () => {
  it('runs for the seconds asked and writes counts, RSS and database size at start and end', () => {
    const dir = tempDir('jpki-hil-soak-test-');
    try {
      const json = join(dir.path, 'soak.json');
      const run = spawnSync(process.execPath, [join(kPackageRoot, 'bin', 'jpki-hil.js'), 'bench', '--soak', '--soak-seconds', '3', '--json', json], { encoding: 'utf8', timeout: 200_000 });
      expect(run.status, run.stderr).toBe(0);
      const { soak } = JSON.parse(readFileSync(json, 'utf8')) as { soak: SoakResult };
      expect(soak.seconds).toBeGreaterThanOrEqual(3);
      for (const kind of ['pcLogins', 'qrLogins', 'streams', 'pages', 'registrations'] as const) expect(soak.counts[kind], kind).toBeGreaterThan(0);
      expect(soak.counts.errors).toBe(0);
      for (const field of ['startBytes', 'endBytes'] as const) {
        expect(soak.rss[field]).toBeGreaterThan(0);
        expect(soak.db[field]).toBeGreaterThan(0);
      }
      expect(typeof soak.rssGrowth).toBe('number');
      expect(typeof soak.dbGrowth).toBe('number');
      expect(run.stdout).toContain('soak of portal serve');
    } finally {
      dir.remove();
    }
  }, 240_000);
});
