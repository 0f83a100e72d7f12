/**
 * The PC/SC reader against the real pcscd and vpcd, with a card served in slot 1 (slot 0 belongs to
 * other suites): it must list the card, carry the JPKI client exactly as the in-process reader does,
 * report removal and insertion, and let the process exit when closed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, serializeCardImage } from '../../emulator/index.js';
import { fromBase64, fromHex, toHex } from '../../iso7816/bytes.js';
import { registerReaderCommands, type CardInfo } from '../../harness/cli/commands/readers.js';
import type { CertificateKind } from '../../harness/jpki/jpki-client.js';
import { InProcessReader } from '../../harness/readers/in-process-reader.js';
import { PcscReaderProvider } from '../../harness/readers/pcsc-reader.js';
import type { Reader, ReaderError } from '../../harness/readers/reader.js';
import { kPackageRoot, issueFixture, tempDir, type IssuedFixture } from '../support/cards.js';
import { jpkiSession, kCertificateFiles } from '../support/jpki-session.js';
import { eventually, serveCard, type ServedFixture } from '../support/served-card.js';
import { runRegistrar } from '../harness/readers/run-registrar.js';

const runFile = promisify(execFile);
const kSlot = 1;
const kReader = 'Virtual PCD 00 01';
const kAtr = '3B888001000041E0B381A1003B';
const kSelectJpki = fromHex('00A4040C0AD392F000260100000001');

/** Runs a script against the built reader module in a fresh Node process, which must exit by itself. */
async function inChildProcess(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const module = join(kPackageRoot, 'dist', 'harness', 'readers', 'pcsc-reader.js');
  const source = `import { PcscReaderProvider } from ${JSON.stringify(module)};\n${script}`;
  try {
    const { stdout, stderr } = await runFile(process.execPath, ['--input-type=module', '-e', source], { env: { ...process.env, ...env }, timeout: 20_000, encoding: 'utf8' });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const failed = e as { code?: number; killed?: boolean; stdout?: string; stderr?: string };
    if (failed.killed) throw new Error(`the child process did not exit within 20 s (open handles?):\n${failed.stderr ?? ''}`);
    return { code: failed.code ?? -1, out: failed.stdout ?? '', err: failed.stderr ?? '' };
  }
}

async function rejection(promise: Promise<unknown>): Promise<ReaderError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as ReaderError,
  );
}

describe('PC/SC readers through pcscd and vpcd (slot 1)', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let served: ServedFixture;
  let provider: PcscReaderProvider;
  let reader: Reader;
  const events: string[] = [];

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
    const cardPath = join(dir.path, 'served.json');
    writeFileSync(cardPath, serializeCardImage(fixture.image));
    served = await serveCard(cardPath, { slot: kSlot });
    provider = new PcscReaderProvider();
    reader = await provider.open(kReader);
    reader.on('inserted', (atr) => events.push(`inserted ${toHex(atr)}`));
    reader.on('removed', () => events.push('removed'));
    await reader.waitForCard(10_000);
  });
  afterAll(async () => {
    await provider?.close();
    await served?.stop();
    dir.remove();
  });

  it('list() of a new provider shows the served card and its ATR in "Virtual PCD 00 01", and the process exits after close()', async () => {
    expect(reader.kind).toBe('pcsc');
    expect(toHex(reader.atr()!)).toBe(kAtr);
    const child = await inChildProcess(`
      const provider = new PcscReaderProvider();
      console.log(JSON.stringify(await provider.list()));
      await provider.close();
    `);
    expect(child.code, child.err).toBe(0);
    const readers = JSON.parse(child.out) as Array<{ name: string }>;
    expect(readers.map((r) => r.name)).toContain('Virtual PCD 00 00');
    expect(readers.find((r) => r.name === kReader)).toEqual({ name: kReader, cardPresent: true, atr: kAtr });
    // In this process too, through the provider that has been watching all along.
    expect((await provider.list()).find((r) => r.name === kReader)).toEqual({ name: kReader, cardPresent: true, atr: kAtr });
  });

  it('without pcscd the provider fails with PCSC_UNAVAILABLE and says how to start it', async () => {
    const child = await inChildProcess(
      `
      try { await new PcscReaderProvider().list(); console.log('listed'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    `,
      { PCSCLITE_CSOCK_NAME: join(dir.path, 'no-pcscd.comm') },
    );
    expect(child.code, child.err).toBe(0);
    const error = JSON.parse(child.out) as { code: string; message: string };
    expect(error.code).toBe('PCSC_UNAVAILABLE');
    expect(error.message).toMatch(/cannot reach pcscd .*; start it: bash scripts\/pcsc-setup.sh/);
  });

  it('the JPKI client reads and signs exactly the same through PC/SC as in-process, on two copies of one image', async () => {
    const pins = fixture.definition.pins;
    const message = Buffer.from('the same message through both readers');

    const inProcess = new InProcessReader('in-process', createMemoryCard(fixture.image));
    const expected = await jpkiSession(await inProcess.connect(), pins, message);
    await reader.waitForCard(10_000);
    const connection = await reader.connect();
    expect(connection.readerName).toBe(kReader);
    expect(toHex(connection.atr)).toBe(kAtr);
    const actual = await jpkiSession(connection, pins, message);
    await connection.disconnect();
    expect(actual).toEqual(expected);

    // And the common result is the right one, not the same mistake twice.
    const image = fixture.image;
    expect(actual.token).toBe('JPKIAPICCTOKEN2');
    expect(actual.triesBefore).toEqual({ auth: 3, sign: 5, kenhojo: 3 });
    for (const [kind, fid] of Object.entries(kCertificateFiles)) expect(actual.certificates[kind], kind).toBe(toHex(fromBase64(image.applets.jpki.files[fid]!)));
    expect(actual.wholeEf).toBe(actual.certificates.auth);
    expect(actual.wholeEf.length / 2).toBeGreaterThan(258);
    for (const key of ['auth', 'sign'] as const) {
      const publicKey = new X509Certificate(fromHex(actual.certificates[key]!)).publicKey;
      expect(verify('sha256', message, publicKey, fromHex(key === 'auth' ? actual.authSignature : actual.signSignature)), key).toBe(true);
    }
    expect(actual.myNumber).toBe(image.identity.myNumber);
    expect(actual.basic4).toEqual({ name: image.identity.name, address: image.identity.address, birth: image.identity.birth, sex: image.identity.sex });
    expect(actual.wrongPinTriesLeft).toBe(2);
    expect(actual.triesAfter).toEqual({ auth: 2, sign: 5 });
    expect(actual.info.triesLeft).toEqual({ auth: 2, sign: 5, kenhojo: 3 });
    expect(actual.info.locked).toEqual([]);
  });

  it('remove and insert through the control API fire removed and inserted; a transmit while removed fails with CARD_REMOVED', async () => {
    const before = await reader.connect();
    expect(toHex(await before.transmit(kSelectJpki))).toBe('9000');
    events.length = 0;

    await served.control('POST', '/remove');
    await eventually(() => events.includes('removed'), 'the removed event');
    expect(reader.cardPresent()).toBe(false);
    expect(reader.atr()).toBeUndefined();
    const removed = await rejection(before.transmit(kSelectJpki));
    expect(removed.code).toBe('CARD_REMOVED');
    expect(removed.message).toContain(`"${kReader}"`);
    const noCard = await rejection(reader.connect());
    expect(noCard.code).toBe('NO_CARD');
    expect(noCard.message).toMatch(/no card in reader "Virtual PCD 00 01"; insert one/);
    const info = await runRegistrar(registerReaderCommands, ['info', '--reader', kReader]);
    expect(info.code).toBe(1);
    expect(info.err).toMatch(/^no card in reader "Virtual PCD 00 01"/);

    const waiting = reader.waitForCard(10_000);
    await served.control('POST', '/insert');
    expect(toHex(await waiting)).toBe(kAtr);
    expect(events).toEqual(['removed', `inserted ${kAtr}`]);
    // The old connection belonged to the card before its removal; a new one works.
    expect((await rejection(before.transmit(kSelectJpki))).code).toBe('CARD_REMOVED');
    const after = await reader.connect();
    expect(toHex(await after.transmit(kSelectJpki))).toBe('9000');
    await after.disconnect();
  });

  it('a card removed in the middle of an exchange fails that transmit with CARD_REMOVED', async () => {
    const connection = await reader.connect();
    const exchanges = async (): Promise<number> => (await served.control('GET', '/state')).exchanges as number;
    // The card holds its answer to SELECT for 2 s; it has the command once its exchange count moves.
    await served.control('POST', '/latency', { ins: 'A4', ms: 2000 });
    try {
      const before = await exchanges();
      const pending = rejection(connection.transmit(kSelectJpki));
      await eventually(async () => (await exchanges()) > before, 'the card to receive the SELECT');
      await served.control('POST', '/remove');
      const error = await pending;
      expect(error.code).toBe('CARD_REMOVED');
      expect(error.message).toMatch(/removed from reader "Virtual PCD 00 01"/);
    } finally {
      await served.control('POST', '/latency', { ins: 'A4', ms: 0 });
      await served.control('POST', '/insert');
    }
    await reader.waitForCard(10_000);
    const again = await reader.connect();
    expect(toHex(await again.transmit(kSelectJpki))).toBe('9000');
    await again.disconnect();
  });

  it('a removal and re-insertion that the binding reports as one status still fire removed, then inserted', async () => {
    await eventually(() => reader.cardPresent(), 'the card back in');
    events.length = 0;
    // Block this thread while the card goes out and comes back: the binding keeps one status slot
    // per reader, so only the last state reaches us, and pcsc-lite's event counter tells the rest.
    const swap = `(async () => {
      const url = ${JSON.stringify(served.controlUrl)};
      await fetch(url + '/remove', { method: 'POST' });
      await new Promise((r) => setTimeout(r, 1200));
      await fetch(url + '/insert', { method: 'POST' });
      await new Promise((r) => setTimeout(r, 1200));
    })()`;
    execFileSync(process.execPath, ['-e', swap], { timeout: 20_000 });
    await eventually(() => events.length >= 2, 'the removed and inserted events');
    expect(events).toEqual(['removed', `inserted ${kAtr}`]);
  });

  it('jpki-hil readers --json and info --json print what the card holds', async () => {
    const list = await runRegistrar(registerReaderCommands, ['readers', '--json']);
    expect(list.code, list.err).toBe(0);
    expect((JSON.parse(list.out) as Array<{ name: string }>).find((r) => r.name === kReader)).toEqual({ name: kReader, cardPresent: true, atr: kAtr });

    const pins = fixture.definition.pins;
    const r = await runRegistrar(registerReaderCommands, ['info', '--reader', kReader, '--kenhojo-pin', pins.kenhojo, '--sign-pin', pins.sign, '--json']);
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out) as CardInfo;
    const image = fixture.image;
    expect(info.reader).toBe(kReader);
    expect(info.atr).toBe(kAtr);
    expect(info.token).toBe('JPKIAPICCTOKEN2');
    for (const [kind, fid] of Object.entries(kCertificateFiles) as Array<[CertificateKind, string]>) {
      const cert = new X509Certificate(fromBase64(image.applets.jpki.files[fid]!));
      expect(info.certificates[kind]?.serial, kind).toBe(cert.serialNumber.toUpperCase());
      expect(info.certificates[kind]?.notAfter, kind).toBe(new Date(cert.validTo).toISOString());
    }
    expect(info.myNumber).toBe(image.identity.myNumber);
    expect(info.basic4?.name).toBe(image.identity.name);
    expect(info.basic4?.address).toBe(image.identity.address);
    // The session's wrong auth PIN (above) shows; the right PINs given here used no try.
    expect(info.triesLeft).toEqual({ auth: 2, sign: 5, kenhojo: 3 });

    const text = await runRegistrar(registerReaderCommands, ['readers']);
    expect(text.out).toMatch(new RegExp(`^${kReader} +card +ATR ${kAtr}$`, 'm'));
  });
});
