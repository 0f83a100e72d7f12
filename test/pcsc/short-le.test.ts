/**
 * Answers longer than Ne through the real pcscd and vpcd (issue 15.4): the card's `shortLe` and
 * `signWithoutLe` options as a PC/SC program sees them — raw through our PC/SC reader (nothing in
 * between resends or fetches), and through opensc-tool, whose sc_transmit handles 61xx and 6Cxx on
 * its own, so an independent client must recover the whole answer from a 61xx or 6Cxx card.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeCardImage, type CardOptions } from '../../emulator/index.js';
import { fromHex, toHex } from '../../iso7816/bytes.js';
import { PcscReaderProvider } from '../../harness/readers/pcsc-reader.js';
import type { CardConnection } from '../../harness/readers/reader.js';
import { issueFixture, powered, tempDir, type IssuedFixture } from '../support/cards.js';
import { readerName, serveCard, type ServedFixture } from '../support/served-card.js';

const run = promisify(execFile);
const kSlot = 0;
const kSelectJpki = '00A4040C0AD392F000260100000001';
const kDigestInfo = `3031300D060960864801650304020105000420${'22'.repeat(32)}`;
const sign = (le: string): string => `802A008033${kDigestInfo}${le}`;
const kFciLe01 = '00A404000AD392F00026010000000101';
const kFci = '6F0C840AD392F000260100000001';

describe('answers longer than Ne through pcscd and vpcd', () => {
  const dir = tempDir('jpki-short-le-');
  let fixture: IssuedFixture;
  let fullSignature: string;

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
    const card = powered(fixture.image);
    for (const c of [kSelectJpki, '00A4020C020018', verifyApdu(fixture.definition.pins.auth), '00A4020C020017']) card.send(c);
    fullSignature = card.send(sign('00')).data;
    expect(fullSignature.length).toBe(512);
  });
  afterAll(() => dir.remove());

  function verifyApdu(pin: string): string {
    return `00200080${pin.length.toString(16).padStart(2, '0')}${Buffer.from(pin, 'latin1').toString('hex')}`;
  }

  /** Serves the adult card with `options` in slot 0 for the duration of `body`, with a raw PC/SC connection. */
  async function withServed(options: Partial<CardOptions>, body: (send: (hex: string) => Promise<string>) => Promise<void>): Promise<void> {
    const cardPath = join(dir.path, `${Object.values(options).join('-') || 'default'}.json`);
    writeFileSync(cardPath, serializeCardImage({ ...fixture.image, options: { ...fixture.image.options, ...options } }));
    let served: ServedFixture | undefined;
    const provider = new PcscReaderProvider();
    let connection: CardConnection | undefined;
    try {
      served = await serveCard(cardPath, { slot: kSlot });
      const reader = await provider.open(readerName(kSlot));
      await reader.waitForCard(10_000);
      connection = await reader.connect();
      const open = connection;
      await body(async (hex) => toHex(await open.transmit(fromHex(hex))));
    } finally {
      await connection?.disconnect().catch(() => undefined);
      await provider.close();
      await served?.stop();
    }
  }

  /**
   * opensc-tool -s for each APDU in one session; returns each answer's SW and data as hex, in order.
   * Each data line is "XX XX … " followed by one ASCII character per byte, so a line of n bytes is 4n long.
   */
  async function openscSend(apdus: string[]): Promise<{ sw: string; data: string }[]> {
    const args = ['-r', String(kSlot), ...apdus.flatMap((a) => ['-s', a])];
    const { stdout } = await run('opensc-tool', args, { timeout: 30_000, encoding: 'utf8' });
    const out: { sw: string; data: string }[] = [];
    for (const block of stdout.split(/^Sending: /m).slice(1)) {
      const lines = block.split('\n');
      const at = lines.findIndex((l) => l.startsWith('Received'));
      const sw = /SW1=0x([0-9a-f]{2}), SW2=0x([0-9a-f]{2})/i.exec(lines[at] ?? '');
      if (!sw) continue;
      const data = lines
        .slice(at + 1)
        .filter((l) => l.length >= 4)
        .map((l) => l.slice(0, 3 * Math.floor(l.length / 4)).replace(/ /g, ''))
        .join('');
      out.push({ sw: `${sw[1]}${sw[2]}`.toUpperCase(), data: data.toUpperCase() });
    }
    return out;
  }

  const pinApdus = (): string[] => [kSelectJpki, '00A4020C020018', verifyApdu(fixture.definition.pins.auth), '00A4020C020017'];

  it('truncate (default): Le 30 gets the first 48 bytes of the signature and 9000, Le 01 the first FCI byte', async () => {
    await withServed({}, async (send) => {
      for (const c of pinApdus()) expect(await send(c)).toBe('9000');
      expect(await send(sign('30'))).toBe(`${fullSignature.slice(0, 96)}9000`);
      expect(await send(sign(''))).toBe(`${fullSignature}9000`); // signWithoutLe: full
      expect(await send(kFciLe01)).toBe('6F9000');
    });
    // opensc-tool sees the same: nothing to recover.
    await withServed({}, async () => {
      const answers = await openscSend([...pinApdus(), sign('30'), kFciLe01]);
      expect(answers.at(-2)).toEqual({ sw: '9000', data: fullSignature.slice(0, 96) });
      expect(answers.at(-1)).toEqual({ sw: '9000', data: '6F' });
    });
  });

  it('6Cxx: no data and 6C00 / 6C0E on the wire; signWithoutLe 6700 refuses case 3; opensc-tool resends and gets the whole answer', async () => {
    const options: Partial<CardOptions> = { shortLe: '6Cxx', signWithoutLe: '6700' };
    await withServed(options, async (send) => {
      for (const c of pinApdus()) expect(await send(c)).toBe('9000');
      expect(await send(sign('30'))).toBe('6C00');
      expect(await send(sign(''))).toBe('6700');
      expect(await send(sign('00'))).toBe(`${fullSignature}9000`);
      expect(await send(kFciLe01)).toBe('6C0E');
    });
    await withServed(options, async () => {
      const answers = await openscSend([kFciLe01]);
      expect(answers.at(-1)).toEqual({ sw: '9000', data: kFci });
    });
  });

  it('61xx: the first Ne bytes with 61xx on the wire and the rest by GET RESPONSE; opensc-tool fetches it itself', async () => {
    await withServed({ shortLe: '61xx' }, async (send) => {
      for (const c of pinApdus()) expect(await send(c)).toBe('9000');
      expect(await send(sign('30'))).toBe(`${fullSignature.slice(0, 96)}61D0`);
      expect(await send('00C0000000')).toBe(`${fullSignature.slice(96)}9000`);
      expect(await send(kFciLe01)).toBe('6F610D');
      expect(await send('00C000000D')).toBe(`${kFci.slice(2)}9000`);
    });
    await withServed({ shortLe: '61xx' }, async () => {
      const answers = await openscSend([...pinApdus(), sign('30'), kFciLe01]);
      expect(answers.at(-2)).toEqual({ sw: '9000', data: fullSignature });
      expect(answers.at(-1)).toEqual({ sw: '9000', data: kFci });
    });
  });
});
