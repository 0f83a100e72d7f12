/**
 * One card image is one physical card: real processes on one image file. A second opener is
 * refused naming the holder; a holder killed with SIGKILL leaves a lock the next opener takes
 * over; killed writers leave no temporary copies (keys, PINs) once the image is opened again, and
 * never get a PIN try back. A card of one CA cannot be revoked by another.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CardImageLockedError, closeCardFile, loadCa, openCardFile, readCardImage, serializeCardImage, type CardImage } from '../../../emulator/index.js';
import { fromHex, toHex } from '../../../iso7816/bytes.js';
import { issueFixture, kPackageRoot, tempDir } from '../../support/cards.js';

const kBin = join(kPackageRoot, 'bin', 'jpki-hil.js');
const kSelectJpki = '00A4040C0AD392F000260100000001';
const kSelectSignPin = '00A4020C02001B';
const kSelectAuthPin = '00A4020C020018';

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [kBin, ...args], { encoding: 'utf8', timeout: 30_000 });
}

/** Starts `card serve` on an unreachable vpcd port (it keeps retrying) and resolves once it holds the card. */
function startServe(card: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [kBin, 'card', 'serve', '--card', card, '--vpcd', '127.0.0.1:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((done, fail) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('control API:')) done(child);
    });
    child.on('exit', (code) => fail(new Error(`card serve exited (${code}) before serving: ${out}`)));
  });
}

const exited = (child: ChildProcess): Promise<void> => new Promise((done) => (child.exitCode !== null || child.signalCode !== null ? done() : child.once('exit', () => done())));

const tempFilesOf = (dir: string, image: string): string[] => readdirSync(dir).filter((n) => n.startsWith(`.${image}.`) && n.endsWith('.tmp'));

describe('a card image is held by one process at a time', () => {
  const dir = tempDir();
  let image: CardImage;
  const fresh = (name: string, change?: (i: CardImage) => void): string => {
    const copy = structuredClone(image);
    change?.(copy);
    const path = join(dir.path, `${name}.json`);
    writeFileSync(path, serializeCardImage(copy), { mode: 0o600 });
    return path;
  };

  beforeAll(async () => {
    ({ image } = await issueFixture(dir.path, 'adult'));
  });
  afterAll(() => dir.remove());

  it('refuses `card apdu` on an image `card serve` holds, naming its pid, until the holder is killed', async () => {
    const card = fresh('served');
    const serve = await startServe(card);
    try {
      const refused = cli('card', 'apdu', card, kSelectJpki);
      expect(refused.status).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain(`pid ${serve.pid} (jpki-hil card serve)`);
      expect(refused.stderr).toContain('stop that process first');
      expect(refused.stderr).not.toMatch(/\n\s+at /);
      // The refused process changed nothing: the tries are those the image was issued with.
      expect(readCardImage(card).pins.auth.remaining).toBe(3);
      // `card reset-pin` writes the image too: refused as well.
      expect(cli('card', 'reset-pin', card, '--pin', 'auth').status).toBe(2);
    } finally {
      serve.kill('SIGKILL');
      await exited(serve);
    }
    // The holder is dead and left its lock: the next opener takes it over.
    expect(existsSync(`${card}.lock`)).toBe(true);
    const after = cli('card', 'apdu', card, kSelectJpki, kSelectAuthPin, '00200080');
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout).toContain('63C3');
    expect(existsSync(`${card}.lock`)).toBe(false);
  });

  it('releases the lock when `card serve` ends on SIGTERM', async () => {
    const card = fresh('sigterm');
    const serve = await startServe(card);
    expect(existsSync(join(`${card}.lock`, 'holder.json'))).toBe(true);
    serve.kill('SIGTERM');
    await exited(serve);
    expect(serve.exitCode).toBe(0);
    expect(existsSync(`${card}.lock`)).toBe(false);
  });

  it('refuses a second open in the same process and a commit after the file changed behind the card', () => {
    const card = fresh('same-process');
    const first = openCardFile(card);
    expect(() => openCardFile(card)).toThrow(CardImageLockedError);
    expect(() => openCardFile(card)).toThrow(/already open in this process/);
    first.powerOn();
    first.transmit(fromHex(kSelectJpki));
    first.transmit(fromHex(kSelectAuthPin));
    // Someone replaced the file behind the card's back (no lock taken): the card must not write
    // over it, and it must not compare the PIN without a durable counter either.
    const other = readCardImage(card);
    other.pins.auth.remaining = 1;
    writeFileSync(card, serializeCardImage(other));
    const answer = first.transmit(fromHex(`0020008004${toHex(Buffer.from('1234'))}`));
    expect(toHex(answer.subarray(-2))).toBe('6581');
    expect(readCardImage(card).pins.auth.remaining).toBe(1);
    closeCardFile(first);
    const again = openCardFile(card);
    closeCardFile(again);
  });

  it('leaves no temporary copies and gives no try back when writers are SIGKILLed mid-stream', async () => {
    const card = fresh('killed', (i) => {
      i.pins.sign.limit = 15;
      i.pins.sign.remaining = 15;
    });
    // A stale copy of a writer long dead, planted so that the clean-up has something to find in
    // any case: its pid is that of a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const planted = join(dir.path, `.killed.json.${dead.stdout}.0badf00d.tmp`);
    writeFileSync(planted, 'a full copy of the image would be here', { mode: 0o600 });
    // A writer that never stops: right auth PIN (two writes each) and wrong signing password.
    const writer = `
      import { openCardFile } from ${JSON.stringify(pathToFileURL(join(kPackageRoot, 'dist', 'emulator', 'index.js')).href)};
      const card = openCardFile(process.argv[1]);
      card.powerOn();
      const send = (hex) => card.transmit(Buffer.from(hex, 'hex'));
      send('${kSelectJpki}');
      process.stdout.write('open\\n');
      for (;;) {
        send('${kSelectAuthPin}');
        send('0020008004${toHex(Buffer.from('1234'))}');
        send('${kSelectSignPin}');
        send('0020008006${toHex(Buffer.from('WRONG1'))}');
      }
    `;
    let previous = 15;
    const seenTempModes: number[] = [];
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', writer, card], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((done) => child.stdout.once('data', () => done()));
      await new Promise((done) => setTimeout(done, 5 + round * 7));
      child.kill('SIGKILL');
      await exited(child);
      expect(child.signalCode).toBe('SIGKILL');
      for (const name of tempFilesOf(dir.path, 'killed.json')) seenTempModes.push(statSync(join(dir.path, name)).mode & 0o777);
      // The image is whole (it parses and validates) and the signing password never got a try back.
      const now = readCardImage(card).pins.sign.remaining;
      expect(now).toBeLessThanOrEqual(previous);
      previous = now;
      if (now === 0) break;
    }
    expect(previous).toBeLessThan(15);
    // Any copy a killed writer left was readable by its owner only.
    expect(seenTempModes.every((m) => m === 0o600)).toBe(true);
    // Opening the image removes the copies of dead writers.
    const reopened = openCardFile(card);
    expect(tempFilesOf(dir.path, 'killed.json')).toEqual([]);
    expect(existsSync(planted)).toBe(false);
    expect(reopened.store.image.pins.sign.remaining).toBe(previous);
    closeCardFile(reopened);
  });
});

describe('ca revoke with a card of another CA', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('refuses with exit 2, naming the mismatch, and revokes nothing; the right CA revokes it', () => {
    const caA = join(dir.path, 'ca-a');
    const caB = join(dir.path, 'ca-b');
    const cardA = join(dir.path, 'a.json');
    const cardB = join(dir.path, 'b.json');
    expect(cli('card', 'issue', '--ca', caA, '--out', cardA).status).toBe(0);
    expect(cli('card', 'issue', '--ca', caB, '--out', cardB).status).toBe(0);
    // Both CAs number serials alike: the serial alone would name A's card.
    const serialOf = (card: string): string => new X509Certificate(Buffer.from(readCardImage(card).applets.jpki.files['0001']!, 'base64')).serialNumber;
    expect(serialOf(cardA)).toBe(serialOf(cardB));
    const crlBefore = readFileSync(join(caA, 'sign.crl'));
    const refused = cli('ca', 'revoke', '--dir', caA, '--card', cardB);
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain(`--card ${cardB}`);
    expect(refused.stderr).toMatch(/was not issued by the test CA in .*ca-a: its (issuer|authority key identifier)/);
    expect(loadCa(caA).state.issued.every((r) => r.revoked === undefined)).toBe(true);
    expect(readFileSync(join(caA, 'sign.crl')).equals(crlBefore)).toBe(true);
    const revoked = cli('ca', 'revoke', '--dir', caB, '--card', cardB);
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(loadCa(caB).state.issued.filter((r) => r.revoked !== undefined)).toHaveLength(1);
  });
});
