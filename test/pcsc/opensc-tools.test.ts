/**
 * The served card as every PC/SC program sees it: through the real pcscd and vpcd, checked with
 * tools we did not write — pcsc_scan, opensc-tool, pkcs15-tool, pkcs11-tool — and openssl.
 */
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCardImage, serializeCardImage, type CardImage } from '../../emulator/index.js';
import { issueFixture, tempDir, type IssuedFixture } from '../support/cards.js';
import { eventually, kBin, serveCard, type ServedFixture } from '../support/served-card.js';

const run = promisify(execFile);
const kModule = '/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so';

async function tool(command: string, args: string[], allowFailure = false): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: 30_000, encoding: 'utf8' });
    return `${stdout}${stderr}`;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    if (allowFailure) return `${err.stdout ?? ''}${err.stderr ?? ''}`;
    throw new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

describe('the served card through pcscd and vpcd, seen by OpenSC and pcsc-tools', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let cardPath: string;
  let served: ServedFixture;
  const slot = 0;

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
    cardPath = join(dir.path, 'served.json');
    writeFileSync(cardPath, serializeCardImage(fixture.image));
    served = await serveCard(cardPath, { slot, trace: join(dir.path, 'trace.jsonl') });
  });
  afterAll(async () => {
    await served?.stop();
    dir.remove();
  });

  const image = (): CardImage => readCardImage(cardPath);
  const certificate = (fid: string): Buffer => Buffer.from(fixture.image.applets.jpki.files[fid]!, 'base64');

  it('opensc-tool lists the virtual reader with a card and its ATR, and names the jpki driver', async () => {
    const list = await tool('opensc-tool', ['-l']);
    expect(list).toMatch(/0\s+Yes\s+Virtual PCD 00 00/);
    expect((await tool('opensc-tool', ['-r', String(slot), '-a'])).trim()).toBe('3b:88:80:01:00:00:41:e0:b3:81:a1:00:3b');
    expect((await tool('opensc-tool', ['-r', String(slot), '-n'])).trim()).toBe('jpki');
  });

  it('pcsc_scan sees the card with the contactless My Number ATR', async () => {
    const out = await tool('pcsc_scan', ['-c']);
    expect(out).toMatch(/Reader 0: Virtual PCD 00 00[\s\S]*?Card inserted[\s\S]*?ATR: 3B 88 80 01 00 00 41 E0 B3 81 A1 00 3B/);
  });

  it('pkcs15-tool -D lists both PINs with their tries left and the certificates', async () => {
    const out = await tool('pkcs15-tool', ['--reader', String(slot), '-D']);
    expect(out).toMatch(/PIN \[User Authentication PIN\][\s\S]*?min_len:4, max_len:4[\s\S]*?Tries left\s+:\s+3/);
    expect(out).toMatch(/PIN \[Digital Signature PIN\][\s\S]*?min_len:6, max_len:16[\s\S]*?Tries left\s+:\s+5/);
    expect(out).toContain('X.509 Certificate [User Authentication Certificate]');
    expect(out).toContain('X.509 Certificate [User Authentication Certificate CA]');
    expect(out).toContain('X.509 Certificate [Digital Signature Certificate CA]');
  });

  it('pkcs15-tool --read-certificate returns the authentication certificate byte for byte', async () => {
    const pemFile = join(dir.path, 'auth.pem');
    await tool('pkcs15-tool', ['--reader', String(slot), '--read-certificate', '01', '-o', pemFile]);
    expect(new X509Certificate(readFileSync(pemFile)).raw.equals(certificate('000A'))).toBe(true);
    // The signature certificate needs the signing password first (6982 without it).
    const refused = await tool('pkcs15-tool', ['--reader', String(slot), '--read-certificate', '02', '-o', join(dir.path, 'no.pem')], true);
    expect(refused).toMatch(/Security status not satisfied|failed/i);
    const signPem = join(dir.path, 'sign.pem');
    await tool('pkcs15-tool', ['--reader', String(slot), '--read-certificate', '02', '--verify-pin', '--auth-id', '02', '--pin', fixture.definition.pins.sign, '-o', signPem]);
    expect(new X509Certificate(readFileSync(signPem)).raw.equals(certificate('0001'))).toBe(true);
  });

  for (const key of [
    { name: 'authentication', id: '01', slotIndex: 0, pin: (): string => fixture.definition.pins.auth, fid: '000A' },
    { name: 'signature', id: '02', slotIndex: 1, pin: (): string => fixture.definition.pins.sign, fid: '0001' },
  ]) {
    it(`pkcs11-tool signs SHA256-RSA-PKCS with the ${key.name} key and openssl verifies it`, async () => {
      const msg = join(dir.path, `${key.id}.msg`);
      const sig = join(dir.path, `${key.id}.sig`);
      const pub = join(dir.path, `${key.id}.pub.pem`);
      writeFileSync(msg, `message for the ${key.name} key`);
      await tool('pkcs11-tool', ['--module', kModule, '--slot-index', String(key.slotIndex), '--login', '--pin', key.pin(), '--sign', '-m', 'SHA256-RSA-PKCS', '--id', key.id, '-i', msg, '-o', sig]);
      writeFileSync(pub, new X509Certificate(certificate(key.fid)).publicKey.export({ type: 'spki', format: 'pem' }));
      expect(await tool('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, msg])).toContain('Verified OK');
    });
  }

  it('three wrong auth PINs through pkcs11-tool block the PIN, and the emulator state says so', async () => {
    for (let i = 0; i < 3; i++) {
      const out = await tool('pkcs11-tool', ['--module', kModule, '--slot-index', '0', '--login', '--pin', '0000', '-O'], true);
      expect(out).toMatch(/CKR_PIN_INCORRECT|CKR_PIN_LOCKED/);
    }
    const state = await served.control('GET', '/state');
    expect(state.tries).toMatchObject({ auth: { remaining: 0, blocked: true } });
    expect(image().pins.auth.remaining).toBe(0);
    const locked = await tool('pkcs11-tool', ['--module', kModule, '--slot-index', '0', '--login', '--pin', fixture.definition.pins.auth, '-O'], true);
    expect(locked).toContain('CKR_PIN_LOCKED');
    expect(await tool('pkcs15-tool', ['--reader', String(slot), '-D'])).toMatch(/PIN \[User Authentication PIN\][\s\S]*?Tries left\s+:\s+0/);
  });

  it('remove and insert through the control API are seen by pcsc_scan', async () => {
    const scan = spawn('pcsc_scan', ['-n'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    scan.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await eventually(() => /Reader 0: Virtual PCD 00 00[^R]*Card inserted/.test(out), 'pcsc_scan to report the card');
      const mark = out.length;
      await served.control('POST', '/remove');
      await eventually(() => /Reader 0: Virtual PCD 00 00[^R]*Card removed/.test(out.slice(mark)), 'pcsc_scan to see the removal');
      expect((await served.control('GET', '/state')).reader).toMatchObject({ state: 'removed' });
      const mark2 = out.length;
      await served.control('POST', '/insert');
      await eventually(() => /Reader 0: Virtual PCD 00 00[^R]*Card inserted/.test(out.slice(mark2)), 'pcsc_scan to see the card again');
    } finally {
      scan.kill();
    }
  });

  it('card ctl wraps the control API: state, latency and tear from the command line', async () => {
    const ctl = async (...args: string[]): Promise<Record<string, unknown>> =>
      JSON.parse((await run(process.execPath, [kBin, 'card', 'ctl', ...args, '--card', cardPath], { encoding: 'utf8' })).stdout) as Record<string, unknown>;
    const state = await ctl('state');
    expect(state).toMatchObject({ label: 'adult', reader: { transport: 'vpcd', state: 'inserted' } });
    expect(await ctl('latency', '--ins', '2a', '--ms', '250')).toMatchObject({ latencyMs: { '2A': 250 } });
    expect(await ctl('latency', '--ins', '2A', '--ms', '0')).toMatchObject({ latencyMs: {} });
    expect(await ctl('tear', '--ins', '20', '--when', 'after')).toMatchObject({ pendingTear: { ins: '20', when: 'after' } });
    expect(await ctl('tear', '--cancel')).toMatchObject({ pendingTear: null });
    const bad = await run(process.execPath, [kBin, 'card', 'ctl', 'tear', '--card', cardPath], { encoding: 'utf8' }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 1 });
    expect((bad as { stderr: string }).stderr).toContain('tear needs --ins <hex byte>');
  });

  it('the trace has one JSON line per exchange with the decoded SW', () => {
    const lines = readFileSync(join(dir.path, 'trace.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(20);
    const select = lines.find((l) => l.command === '00A4040C0AD392F000260100000001');
    expect(select).toMatchObject({ response: '', sw: '9000', meaning: 'success' });
    expect(typeof select?.durationMs).toBe('number');
    expect(lines.some((l) => l.sw === '63C0')).toBe(true);
  });
});
