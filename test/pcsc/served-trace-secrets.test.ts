/**
 * `card serve --trace` through the real pcscd and vpcd, driven by clients we did not write: OpenSC's
 * opensc-tool sends VERIFY and CHANGE REFERENCE DATA as raw APDUs, pkcs11-tool logs in with the new
 * PIN. Neither PIN may appear in the trace file or in what the serve process printed — in hex (as the
 * APDU carries it) or as text — while the trace still shows that a PIN of that length was sent. A
 * command the card refuses has the card's reason in the trace, and only the SW on the wire.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCardImage, serializeCardImage } from '../../emulator/index.js';
import { issueFixture, tempDir } from '../support/cards.js';
import { serveCard, type ServedFixture } from '../support/served-card.js';
import { findSecrets } from '../support/secret-scan.js';

const run = promisify(execFile);
const kModule = '/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so';
const kOldPin = '0740';
const kNewPin = '0962';
const kSignPassword = 'QZSIGN77';
const spaced = (hex: string): string => hex.match(/../g)!.join(' ');
const asciiHex = (text: string): string => Buffer.from(text, 'ascii').toString('hex').toUpperCase();

async function tool(command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: 30_000, encoding: 'utf8' });
    return `${stdout}${stderr}`;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

interface TraceLine {
  command: string;
  response: string;
  sw: string;
  detail?: string;
}

describe('card serve --trace keeps PINs out of the trace and the log', () => {
  const dir = tempDir();
  let cardPath: string;
  let tracePath: string;
  let served: ServedFixture;
  let openscOutput = '';

  beforeAll(async () => {
    const fixture = await issueFixture(dir.path, 'adult', (d) => ({ ...d, pins: { ...d.pins, auth: kOldPin, sign: kSignPassword } }));
    cardPath = join(dir.path, 'served.json');
    tracePath = join(dir.path, 'trace.jsonl');
    writeFileSync(cardPath, serializeCardImage(fixture.image));
    served = await serveCard(cardPath, { slot: 0, trace: tracePath });
    openscOutput = await tool('opensc-tool', [
      '-r', '0',
      '-s', '00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01', // SELECT the JPKI AP
      '-s', '00 A4 02 0C 02 00 18', // the authentication PIN EF
      '-s', `00 20 00 80 04 ${spaced(asciiHex(kOldPin))}`, // VERIFY
      '-s', `00 24 01 80 04 ${spaced(asciiHex(kNewPin))}`, // CHANGE REFERENCE DATA
      '-s', '00 A4 04 01 0A D3 92 F0 00 26 01 00 00 00 01', // SELECT with P2 01: refused, 6A86
    ]);
    // A login through OpenSC's own JPKI driver, with the new PIN.
    await tool('pkcs11-tool', ['--module', kModule, '--slot-index', '0', '--login', '--pin', kNewPin, '-O']);
  }, 90_000);
  afterAll(async () => {
    await served?.stop();
    dir.remove();
  });

  const trace = (): TraceLine[] =>
    readFileSync(tracePath, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as TraceLine);

  it('the card took both commands (the PIN really changed)', () => {
    expect(openscOutput).toMatch(/Received \(SW1=0x90, SW2=0x00\)[\s\S]*Received \(SW1=0x90, SW2=0x00\)[\s\S]*Received \(SW1=0x90, SW2=0x00\)[\s\S]*Received \(SW1=0x90, SW2=0x00\)/);
    expect(readCardImage(cardPath).pins.auth.value).toBe(kNewPin);
  });

  it('the trace shows VERIFY and CHANGE REFERENCE DATA with their length and no PIN', () => {
    const commands = trace().map((t) => t.command);
    expect(commands).toContain('0020008004********');
    expect(commands).toContain('0024018004********');
    // pkcs11-tool's login is a VERIFY too.
    expect(commands.filter((c) => c === '0020008004********').length).toBeGreaterThanOrEqual(2);
  });

  it('neither PIN is in the trace file or in what card serve printed, in hex or as text', () => {
    const files = { trace: readFileSync(tracePath, 'utf8'), 'card serve output': served.output() };
    expect(findSecrets(files, [kOldPin, kNewPin, kSignPassword])).toEqual([]);
  });

  it('a refused command has the card\'s reason in the trace, and the wire carried only the SW', () => {
    const refused = trace().find((t) => t.command.startsWith('00A40401'));
    expect(refused).toMatchObject({ sw: '6A86', response: '', detail: 'only the first occurrence (P2 00, 04 or 0C) is supported' });
    // What OpenSC received: the status word alone, no data bytes.
    const last = openscOutput.slice(openscOutput.lastIndexOf('Sending: 00 A4 04 01'));
    expect(last).toMatch(/^Sending: [0-9A-F ]+\nReceived \(SW1=0x6A, SW2=0x86\)\s*$/);
  });
});
