/**
 * pcscd goes away and comes back (a package upgrade, a crash, a systemd restart): the served card
 * reconnects by itself, with its state intact.
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeCardImage } from '../../emulator/index.js';
import { issueFixture, kPackageRoot, tempDir } from '../support/cards.js';
import { eventually, serveCard, type ServedFixture } from '../support/served-card.js';

const run = promisify(execFile);

function pcscdPids(): number[] {
  try {
    return execFileSync('pgrep', ['-x', 'pcscd'], { encoding: 'utf8' }).trim().split('\n').map(Number);
  } catch {
    return [];
  }
}

describe('a pcscd restart', () => {
  const dir = tempDir();
  let served: ServedFixture;

  beforeAll(async () => {
    const { image } = await issueFixture(dir.path, 'adult');
    const path = join(dir.path, 'card.json');
    writeFileSync(path, serializeCardImage(image));
    served = await serveCard(path, { slot: 0 });
  });
  afterAll(async () => {
    await served?.stop();
    dir.remove();
  });

  it('is survived by card serve: the card is back in the reader with the same state', async () => {
    // Spend one try so that we can see the state survive.
    await run('opensc-tool', ['-r', '0', '-s', '00A4040C0AD392F000260100000001', '-s', '00A4020C020018', '-s', '002000800439393939']);
    expect((await served.control('GET', '/state')).tries).toMatchObject({ auth: { remaining: 2 } });

    const before = pcscdPids();
    expect(before.length).toBe(1);
    process.kill(before[0]!, 'SIGTERM');
    await eventually(() => pcscdPids().length === 0, 'pcscd to exit');
    await eventually(() => served.output().includes('closed the connection; reconnecting'), 'card serve to notice');
    const mark = served.output().length;

    // Start pcscd again the way the project's set-up does.
    await run('bash', [join(kPackageRoot, 'scripts', 'pcsc-setup.sh')], { env: { ...process.env, QUIET: '1' } });
    expect(pcscdPids().length).toBe(1);
    await eventually(() => served.output().slice(mark).includes('card inserted'), 'card serve to reconnect', 15_000);
    expect(served.process.exitCode).toBeNull();

    const list = await run('opensc-tool', ['-l']);
    expect(list.stdout).toMatch(/0\s+Yes\s+Virtual PCD 00 00/);
    const status = await run('opensc-tool', ['-r', '0', '-s', '00A4040C0AD392F000260100000001', '-s', '00A4020C020018', '-s', '00200080']);
    expect(status.stdout).toContain('SW1=0x63, SW2=0xC2');
  });
});
