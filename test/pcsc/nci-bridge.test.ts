/**
 * The NFC bridge end to end: `jpki-hil card serve --nci` in its own process on one end of a pty
 * pair, the controller simulator (the NFCC, and a contactless reader behind it) on the other. The
 * JPKI client must get exactly what it gets in-process, the reader must see the ATR a PC/SC
 * contactless reader builds for the card, and every fault the line can throw — garbage, a truncated
 * packet, a credit stall, a controller reset — must end in a log line and a working session, and a
 * vanished port in a clear non-zero exit. Every wait has a timeout. (It lives with the PC/SC tests
 * because it spawns processes and pseudo-terminals; it needs socat, not pcscd.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, kAtrPresets, serializeCardImage } from '../../emulator/index.js';
import { fromBase64, fromHex, toHex } from '../../iso7816/bytes.js';
import { JpkiClient, sha256DigestInfo } from '../../harness/jpki/jpki-client.js';
import { loadProfile } from '../../harness/profiles/profile.js';
import { InProcessReader } from '../../harness/readers/in-process-reader.js';
import { SimulatedNciController, type NciVersion } from '../../harness/readers/nci-simulator/controller.js';
import { NciReader } from '../../harness/readers/nci-simulator/nci-reader.js';
import { openPtyPair, socatAvailable, type PtyPair } from '../../harness/readers/nci-simulator/pty-pair.js';
import { atrsFrom, ProfileReader } from '../../harness/readers/profile-reader.js';
import type { ReaderError } from '../../harness/readers/reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../support/cards.js';
import { jpkiSession, kCertificateFiles } from '../support/jpki-session.js';
import { kBin } from '../support/served-card.js';

if (!socatAvailable()) throw new Error('socat is missing: the NFC bridge tests need it (apt-get install -y socat, or bash scripts/setup.sh --pcsc)');

const kSelectJpki = fromHex('00A4040C0AD392F000260100000001');

/** One bridge: a pty pair, the controller simulator on one end, `card serve --nci` on the other. */
interface Bridge {
  pty: PtyPair;
  controller: SimulatedNciController;
  reader: NciReader;
  serve: ChildProcess;
  simulatorLog: string[];
  /** What the serve process printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first line of serve output after `from` that matches, within `timeoutMs`. */
  logLine(pattern: RegExp, from: number, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code, or rejects after `timeoutMs`. */
  exit(timeoutMs: number): Promise<number | null>;
  stop(): Promise<void>;
}

async function startBridge(cardPath: string, options: { nciVersion?: NciVersion } = {}): Promise<Bridge> {
  const pty = await openPtyPair();
  const simulatorLog: string[] = [];
  const controller = await SimulatedNciController.open({ path: pty.b, pty, nciVersion: options.nciVersion ?? '2.0', responseTimeoutMs: 10_000, log: (l) => simulatorLog.push(l) });
  const serve = spawn(process.execPath, [kBin, 'card', 'serve', '--card', cardPath, '--nci', pty.a], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  serve.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  serve.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
  const bridge: Bridge = {
    pty,
    controller,
    reader: new NciReader(controller),
    serve,
    simulatorLog,
    output: () => output,
    async logLine(pattern, from, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = output.slice(from).split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`card serve logged nothing matching ${pattern} within ${timeoutMs} ms; it logged:\n${output.slice(from)}`);
        await sleep(20);
      }
    },
    async exit(timeoutMs) {
      return Promise.race([exited, sleep(timeoutMs).then(() => Promise.reject(new Error(`card serve did not exit within ${timeoutMs} ms:\n${output}`)))]);
    },
    async stop() {
      await bridge.reader.close();
      await controller.close();
      if (serve.exitCode === null && serve.signalCode === null) {
        serve.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL');
      }
      await pty.close();
    },
  };
  try {
    await Promise.race([
      // Quiet for a moment: the host has taken in the end of its initialisation.
      controller.waitForListening({ timeoutMs: 20_000, quietMs: 200 }),
      exited.then((code) => Promise.reject(new Error(`card serve --nci exited with ${code} before listening`))),
    ]);
  } catch (e) {
    await bridge.stop();
    throw new Error(`${(e as Error).message}\ncard serve printed:\n${output}\nsimulator:\n${simulatorLog.join('\n')}`, { cause: e });
  }
  return bridge;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

describe('the NFC bridge: card serve --nci over a pty pair to the controller simulator', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let cardPath: string;
  let bridge: Bridge;

  /** After a fault: the DH has settled, a reader activates the card again, and an APDU goes through. */
  async function expectWorkingSession(): Promise<void> {
    await bridge.controller.waitForListening({ timeoutMs: 15_000, quietMs: 300 });
    const connection = await bridge.reader.connect();
    expect(toHex(await connection.transmit(kSelectJpki))).toBe('9000');
    const client = new JpkiClient(connection);
    expect(await client.readToken()).toBe('JPKIAPICCTOKEN2');
    await connection.disconnect();
    expect(bridge.controller.violations).toEqual([]);
  }

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
    cardPath = join(dir.path, 'served.json');
    writeFileSync(cardPath, serializeCardImage(fixture.image));
    bridge = await startBridge(cardPath);
  });
  afterAll(async () => {
    await bridge?.stop();
    dir.remove();
  });

  it('initialises the controller as the contract says and presents the ATQB whose PC/SC ATR is the card\'s contactless ATR', async () => {
    const c = bridge.controller;
    expect(c.commands.slice(0, 2)).toEqual(['CORE_RESET_CMD', 'CORE_INIT_CMD']);
    expect(c.commands).toContain('CORE_SET_CONFIG_CMD');
    expect(c.commands.slice(-1)).toEqual(['RF_DISCOVER_CMD']);
    // The card's Type B parameters: Application Data 00 00 41 E0, Protocol Info B3 81 A1.
    expect(toHex(c.config.get(0x3a)!)).toBe('000041E0');
    // LB_SENSB_INFO: at least ISO-DEP (b1); the controller adds its frame size unless the DH gives one.
    expect(c.config.get(0x38)![0]! & 0x01).toBe(0x01);
    expect(toHex(c.config.get(0x3c)!)).toBe('A1');
    expect(c.discoverConfigs.map((d) => d.techMode)).toContain(0x81);
    expect(c.discoverMap).toContainEqual({ protocol: 0x04, mode: 0x02, rfInterface: 0x02 });
    expect(fixture.image.atr.replace(/\s/g, '').toUpperCase()).toBe(kAtrPresets.contactless);

    expect(bridge.reader.kind).toBe('nci');
    expect(bridge.reader.cardPresent()).toBe(true);
    const connection = await bridge.reader.connect();
    const atqb = toHex(c.activation!.atqb);
    expect(atqb).toMatch(/^50[0-9A-F]{8}000041E0B381A1$/);
    expect(toHex(connection.atr)).toBe(kAtrPresets.contactless);
    expect(toHex(bridge.reader.atr()!)).toBe(kAtrPresets.contactless);
    expect(toHex(await connection.transmit(kSelectJpki))).toBe('9000');
    await connection.disconnect();
    expect(c.violations).toEqual([]);
  });

  it('the JPKI client reads and signs exactly the same through the bridge as in-process, 2 KB certificates segmented', async () => {
    const pins = fixture.definition.pins;
    const message = Buffer.from('the same message through the NFC bridge and in-process');

    const inProcess = new InProcessReader('in-process', createMemoryCard(fixture.image));
    const expected = await jpkiSession(await inProcess.connect(), pins, message);
    const packetsBefore = bridge.simulatorLog.length;
    const connection = await bridge.reader.connect();
    const actual = await jpkiSession(connection, pins, message);
    await connection.disconnect();
    expect(actual).toEqual(expected);
    expect(bridge.controller.violations).toEqual([]);
    expect(bridge.simulatorLog.slice(packetsBefore).join('\n')).not.toMatch(/VIOLATION/);

    // And the common result is the right one.
    const image = fixture.image;
    expect(actual.token).toBe('JPKIAPICCTOKEN2');
    expect(actual.triesBefore).toEqual({ auth: 3, sign: 5, kenhojo: 3 });
    for (const [kind, fid] of Object.entries(kCertificateFiles)) expect(actual.certificates[kind], kind).toBe(toHex(fromBase64(image.applets.jpki.files[fid]!)));
    expect(actual.wholeEf).toBe(actual.certificates.auth);
    expect(actual.wholeEf.length / 2).toBeGreaterThan(3 * 255);
    for (const key of ['auth', 'sign'] as const) {
      const publicKey = new X509Certificate(fromHex(actual.certificates[key]!)).publicKey;
      expect(verify('sha256', message, publicKey, fromHex(key === 'auth' ? actual.authSignature : actual.signSignature)), key).toBe(true);
    }
    expect(actual.myNumber).toBe(image.identity.myNumber);
    expect(actual.basic4).toEqual({ name: image.identity.name, address: image.identity.address, birth: image.identity.birth, sex: image.identity.sex });
    expect(actual.wrongPinTriesLeft).toBe(2);
    expect(actual.info.triesLeft).toEqual({ auth: 2, sign: 5, kenhojo: 3 });
  });

  it('the profile shim runs over the bridge unchanged: a Sony RC-S380 reads in 256-byte chunks and refuses extended length', async () => {
    const shim = new ProfileReader(bridge.reader, loadProfile('sony-rc-s380'), { atrs: atrsFrom(kAtrPresets) });
    const connection = await shim.connect();
    expect(toHex(connection.atr)).toBe(kAtrPresets.contactless);
    const client = new JpkiClient(connection);
    expect(toHex(await client.readCertificate('auth'))).toBe(toHex(fromBase64(fixture.image.applets.jpki.files['000A']!)));
    const refused = (await rejection(client.send({ cla: 0x00, ins: 0xb0, p1: 0, p2: 0, ne: 65536 }, 'READ BINARY extended'))) as ReaderError;
    expect(refused.code).toBe('DEVICE_LIMIT');
    await connection.disconnect();
  });

  it('a reader leaving mid-session ends that connection with CARD_REMOVED; the next activation is a fresh session', async () => {
    const connection = await bridge.reader.connect();
    const client = new JpkiClient(connection);
    await client.verifyPin('auth', fixture.definition.pins.auth);
    await bridge.controller.deactivate('link-loss');
    expect(((await rejection(connection.transmit(kSelectJpki))) as ReaderError).code).toBe('CARD_REMOVED');
    // The DH powered the card off with the field: the verified PIN is gone in the new session.
    const again = await bridge.reader.connect();
    const fresh = new JpkiClient(again);
    await fresh.selectAp(fromHex('D392F000260100000001'));
    await fresh.selectEf(0x0017);
    const { sw } = await fresh.send({ cla: 0x80, ins: 0x2a, p1: 0x00, p2: 0x80, data: sha256DigestInfo(Buffer.from('x')), ne: 256 }, 'SIGN unverified', [0x6982, 0x9000]);
    expect(sw.toString(16)).toBe('6982');
    await again.disconnect();
    expect(bridge.controller.violations).toEqual([]);
  });

  it('garbage on the line: the host logs it and recovers; the next activation works', async () => {
    const from = bridge.output().length;
    await bridge.controller.injectGarbage();
    const line = await bridge.logLine(/garbled|garbage|discard/i, from);
    // How much went, not what: a stretch of a data packet could hold a VERIFY's PIN.
    expect(line).toMatch(/\d+ byte\(s\) discarded/);
    expect(line).not.toMatch(/FF ?A5/i);
    await expectWorkingSession();
  });

  it('garbage in the middle of a session: logged, and the session after it works', async () => {
    const connection = await bridge.reader.connect();
    expect(toHex(await connection.transmit(kSelectJpki))).toBe('9000');
    const from = bridge.output().length;
    await bridge.controller.injectGarbage(fromHex('E0E1E2E3E4E5E6E7E8E9'));
    await bridge.logLine(/garbled|garbage|discard/i, from);
    await connection.disconnect();
    await expectWorkingSession();
  });

  it('a truncated packet: the host times the partial packet out, logs it, and recovers', async () => {
    const connection = await bridge.reader.connect();
    const from = bridge.output().length;
    await bridge.controller.sendTruncatedPacket();
    const line = await bridge.logLine(/truncat|partial|incomplete|garbled|silen/i, from);
    expect(line.length).toBeGreaterThan(0);
    await connection.disconnect();
    await expectWorkingSession();
  });

  it('a credit stall: the host says the answer waits, sends it when the credit comes, and the session goes on', async () => {
    const connection = await bridge.reader.connect();
    const client = new JpkiClient(connection);
    await client.selectAp(fromHex('D392F000260100000001'));
    await client.selectEf(0x000a);
    const from = bridge.output().length;
    bridge.controller.stallCredits(2500);
    // 256 data bytes + SW: two packets of at most 255, the second one waits for the stalled credit.
    const started = Date.now();
    const chunk = await client.readBinary(0, 256);
    expect(Date.now() - started).toBeGreaterThan(2000);
    expect(toHex(chunk)).toBe(toHex(fromBase64(fixture.image.applets.jpki.files['000A']!).subarray(0, 256)));
    await bridge.logLine(/credit/i, from);
    expect(toHex(await client.readBinary(256, 16))).toBe(toHex(fromBase64(fixture.image.applets.jpki.files['000A']!).subarray(256, 272)));
    await connection.disconnect();
    expect(bridge.controller.violations).toEqual([]);
  });

  it('a credit stall longer than the host waits: it gives the answer up without crashing, and the field dropping ends it', async () => {
    const connection = await bridge.reader.connect();
    const client = new JpkiClient(connection);
    await client.selectAp(fromHex('D392F000260100000001'));
    await client.selectEf(0x000a);
    const from = bridge.output().length;
    bridge.controller.stallCredits(8000);
    const pending = rejection(client.readBinary(0, 256));
    await bridge.logLine(/gave up|give up|giving up/i, from, 12_000);
    await bridge.controller.deactivate('link-loss');
    expect(((await pending) as ReaderError).code).toBe('CARD_REMOVED');
    bridge.controller.stallCredits(0);
    await expectWorkingSession();
    expect(bridge.serve.exitCode).toBeNull();
  }, 30_000);

  it('a controller reset: the host logs it, initialises again, listens, and the next activation works', async () => {
    const connection = await bridge.reader.connect();
    const from = bridge.output().length;
    const resetsBefore = bridge.controller.commands.filter((c) => c === 'CORE_INIT_CMD').length;
    await bridge.controller.resetController();
    const line = await bridge.logLine(/reset/i, from);
    expect(line).toMatch(/reset itself|reset/i);
    expect(((await rejection(connection.transmit(kSelectJpki))) as ReaderError).code).toBe('CARD_REMOVED');
    await bridge.controller.waitForListening({ timeoutMs: 15_000 });
    expect(bridge.controller.commands.filter((c) => c === 'CORE_INIT_CMD').length).toBe(resetsBefore + 1);
    expect(toHex(bridge.controller.config.get(0x3a)!)).toBe('000041E0');
    await expectWorkingSession();
  });

  // Still intermittent (about 1 run in 3): an activation that comes with the RF_DISCOVER response is now
  // kept until the host listens, but is sometimes lost on the way; issue 8 stays open until it is found.
  it('a reader already in the field when the host starts listening gets the card at once', async () => {
    // The controller resets; the reader stays; the activation follows RF_DISCOVER_RSP with no gap.
    const activated = bridge.controller.activateOnNextDiscover();
    const from = bridge.output().length;
    await bridge.controller.resetController();
    await activated;
    const response = await bridge.controller.transmit(kSelectJpki, { timeoutMs: 3000 }).catch((e: Error) => e);
    expect(response instanceof Error ? `${response.message}\ncard serve logged:\n${bridge.output().slice(from)}` : toHex(response)).toBe('9000');
    await bridge.controller.deactivate('link-loss');
    await expectWorkingSession();
  });

  it('the port vanishing: card serve exits non-zero within a few seconds, saying the port went away', async () => {
    const started = Date.now();
    await bridge.controller.vanish();
    const code = await bridge.exit(5000);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(bridge.output()).toMatch(new RegExp(`the NCI port ${bridge.pty.a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( at \\d+ baud)? went away`));
  });
});

describe('the NFC bridge with an NCI 1.0 controller', () => {
  const dir = tempDir();
  let bridge: Bridge | undefined;
  afterAll(async () => {
    await bridge?.stop();
    dir.remove();
  });

  it('initialises it the NCI 1.0 way and carries the JPKI client as well', async () => {
    const fixture = await issueFixture(dir.path, 'adult');
    const cardPath = join(dir.path, 'served.json');
    writeFileSync(cardPath, serializeCardImage(fixture.image));
    bridge = await startBridge(cardPath, { nciVersion: '1.0' });
    const connection = await bridge.reader.connect();
    expect(toHex(connection.atr)).toBe(kAtrPresets.contactless);
    const client = new JpkiClient(connection);
    expect(await client.readToken()).toBe('JPKIAPICCTOKEN2');
    expect(toHex(await client.readCertificate('auth'))).toBe(toHex(fromBase64(fixture.image.applets.jpki.files['000A']!)));
    await client.verifyPin('sign', fixture.definition.pins.sign);
    const signature = await client.signDigestInfo('sign', sha256DigestInfo(Buffer.from('NCI 1.0')));
    const certificate = new X509Certificate(await client.readCertificate('sign'));
    expect(verify('sha256', Buffer.from('NCI 1.0'), certificate.publicKey, signature)).toBe(true);
    await connection.disconnect();
    expect(bridge.controller.violations).toEqual([]);
  });
});
