import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCardFile, openCardFile, readCardImage, serializeCardImage, type CardImage } from '../../../emulator/index.js';
import { fromHex, toHex } from '../../../iso7816/bytes.js';
import { issueFixture, kPackageRoot, tempDir } from '../../support/cards.js';

const kSelectJpki = '00A4040C0AD392F000260100000001';
const kSelectAuthPin = '00A4020C020018';
const kSelectSignPin = '00A4020C02001B';
const verifyHex = (pin: string): string => `0020008004${toHex(Buffer.from(pin, 'latin1'))}`;
const verifySignHex = (pin: string): string => `00200080${pin.length.toString(16).padStart(2, '0')}${toHex(Buffer.from(pin, 'latin1'))}`;

function sw(response: Uint8Array): string {
  return toHex(response.subarray(response.length - 2));
}

describe('PIN counters are durable', () => {
  const dir = tempDir();
  let image: CardImage;
  let path: string;

  beforeAll(async () => {
    ({ image } = await issueFixture(dir.path, 'adult'));
  });
  afterAll(() => dir.remove());

  const freshCardFile = (name: string): string => {
    path = join(dir.path, `${name}.json`);
    writeFileSync(path, serializeCardImage(image));
    return path;
  };

  it('writes the decremented counter to disk before the PIN is compared', () => {
    const file = freshCardFile('compare');
    const seenOnDisk: number[] = [];
    const card = openCardFile(file, {
      hooks: {
        beforePinCompare: (pin) => {
          expect(pin).toBe('auth');
          seenOnDisk.push(readCardImage(file).pins.auth.remaining);
        },
      },
    });
    card.powerOn();
    card.transmit(fromHex(kSelectJpki));
    card.transmit(fromHex(kSelectAuthPin));
    // A wrong PIN: at compare time the disk already says 2, and so it stays.
    expect(sw(card.transmit(fromHex(verifyHex('9999'))))).toBe('63C2');
    // The right PIN: the disk says 1 at compare time (the try is spent first), then it is restored.
    expect(sw(card.transmit(fromHex(verifyHex('1234'))))).toBe('9000');
    expect(seenOnDisk).toEqual([2, 1]);
    expect(readCardImage(file).pins.auth.remaining).toBe(3);
  });

  it('keeps a decrement when the process is killed between the write and the comparison', () => {
    const file = freshCardFile('crash');
    // A separate process, SIGKILLed at the moment of comparison: only what is on disk survives.
    const script = `
      import { openCardFile } from ${JSON.stringify(pathToFileURL(join(kPackageRoot, 'dist', 'emulator', 'index.js')).href)};
      const card = openCardFile(process.argv[1], { hooks: { beforePinCompare: () => process.kill(process.pid, 'SIGKILL') } });
      card.powerOn();
      for (const hex of ['${kSelectJpki}', '${kSelectAuthPin}', '${verifyHex('1234')}']) card.transmit(Buffer.from(hex, 'hex'));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    // The right PIN was sent, but the process died before it could restore the counter.
    expect(readCardImage(file).pins.auth.remaining).toBe(2);
  });

  it('answers 6F00 and keeps the decrement when the card fails between the write and the comparison', () => {
    const file = freshCardFile('fault');
    const logged: string[] = [];
    const card = openCardFile(file, {
      logger: { error: (m) => logged.push(m) },
      hooks: {
        beforePinCompare: () => {
          throw new Error('injected fault');
        },
      },
    });
    card.powerOn();
    card.transmit(fromHex(kSelectJpki));
    card.transmit(fromHex(kSelectAuthPin));
    expect(sw(card.transmit(fromHex(verifyHex('1234'))))).toBe('6F00');
    expect(logged.join('\n')).toContain('injected fault');
    expect(readCardImage(file).pins.auth.remaining).toBe(2);
    // The session goes on: the card still answers.
    expect(sw(card.transmit(fromHex('00200080')))).toBe('63C2');
  });

  it('gives the auth PIN 3 tries and the signing password 5, across process restarts', () => {
    const file = freshCardFile('restart');
    const tries: string[] = [];
    for (let i = 0; i < 4; i++) {
      // A new runtime each time stands for a new process: only the file carries the state.
      const card = openCardFile(file);
      card.powerOn();
      card.transmit(fromHex(kSelectJpki));
      card.transmit(fromHex(kSelectAuthPin));
      tries.push(sw(card.transmit(fromHex(verifyHex('0000')))));
      closeCardFile(card);
    }
    expect(tries).toEqual(['63C2', '63C1', '63C0', '6983']);
    const signTries: string[] = [];
    for (let i = 0; i < 6; i++) {
      const card = openCardFile(file);
      card.powerOn();
      card.transmit(fromHex(kSelectJpki));
      card.transmit(fromHex(kSelectSignPin));
      signTries.push(sw(card.transmit(fromHex(verifySignHex('WRONG1')))));
      closeCardFile(card);
    }
    expect(signTries).toEqual(['63C4', '63C3', '63C2', '63C1', '63C0', '6983']);
    // A blocked PIN stays blocked for the right value too, in a new process.
    const card = openCardFile(file);
    card.powerOn();
    card.transmit(fromHex(kSelectJpki));
    card.transmit(fromHex(kSelectAuthPin));
    expect(sw(card.transmit(fromHex(verifyHex('1234'))))).toBe('6983');
    expect(sw(card.transmit(fromHex('00200080')))).toBe('63C0');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as CardImage;
    expect(stored.pins.auth.remaining).toBe(0);
    expect(stored.pins.sign.remaining).toBe(0);
  });

  it('answers 63C0 or 6984 for a blocked PIN when the card definition says so', () => {
    for (const choice of ['63C0', '6984'] as const) {
      const file = freshCardFile(`blocked-${choice}`);
      const stored = readCardImage(file);
      stored.options.blockedPinSw = choice;
      stored.pins.auth.remaining = 0;
      writeFileSync(file, serializeCardImage(stored));
      const card = openCardFile(file);
      card.powerOn();
      card.transmit(fromHex(kSelectJpki));
      card.transmit(fromHex(kSelectAuthPin));
      expect(sw(card.transmit(fromHex(verifyHex('1234'))))).toBe(choice);
      closeCardFile(card);
    }
  });
});
