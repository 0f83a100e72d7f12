/**
 * The NCI card host against a scripted controller in the same process: the initialisation bytes
 * exactly as docs/nci-bridge.md lists them, activation and APDUs with segmentation and credits,
 * the field coming and going, and each recovery — controller reset, garbage, silence, refusal —
 * down to the port going away.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, NciCardHost, NciPortGoneError, ServedCard, type CardImage, type NciHostOptions, type NciHostState } from '../../../../emulator/index.js';
import { encodeMessageBytes, dataMessage } from '../../../../emulator/transports/nci/packet.js';
import { fromHex, toHex } from '../../../../iso7816/bytes.js';
import { issueFixture, tempDir } from '../../../support/cards.js';
import { activation, FakeNfcc, kNci2 } from './fake-nfcc.js';

const kPupi = fromHex('11223344');
const kSelectJpki = '00A4040C0AD392F000260100000001';
const kSelectAuthCert = '00A4020C02000A';

const kInitBytes = [
  '20000101',
  '2001020000',
  // LB_SENSB_INFO 01, LB_NFCID0 (PUPI), LB_APPLICATION_DATA 000041E0, LB_SFGI 00, LB_FWI_ADC_FO A1,
  // LB_BIT_RATE 02 (424 kbit/s, from Protocol Info B3), LI_B_H_INFO_RESP (empty), RF_FIELD_INFO 01.
  '20021E08380101390411223344 3A04000041E0 3B0100 3C01A1 3E0102 5A00 800101',
  '21000401040202',
  '21010C0002010300010400030001 01',
  '2103030181 01',
].map((h) => h.replace(/\s/g, ''));

describe('NCI card host', () => {
  const dir = tempDir();
  let image: CardImage;
  let host: NciCardHost | undefined;
  let nfcc: FakeNfcc;
  let logs: string[];
  let states: NciHostState[];

  beforeAll(async () => {
    ({ image } = await issueFixture(dir.path, 'adult'));
  });
  afterAll(() => dir.remove());
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });

  function makeHost(options: NciHostOptions = {}, cardImage: CardImage = image): { host: NciCardHost; served: ServedCard } {
    nfcc = new FakeNfcc();
    const served = new ServedCard(createMemoryCard(cardImage));
    logs = [];
    states = [];
    host = new NciCardHost(served, nfcc.hostLink, { pupi: kPupi, commandTimeoutMs: 500, silenceMs: 60, retryPauseMs: 20, creditLogMs: 100, creditTimeoutMs: 400, ...options });
    host.on('log', (line) => logs.push(line));
    host.on('state', (state) => states.push(state));
    return { host, served };
  }

  /**
   * Plays a well-behaved NCI 2.0 controller through the initialisation, checking each command's bytes;
   * `discoverAnswer` is what follows RF_DISCOVER_CMD (its response, and whatever rides with it).
   */
  async function initialise(discoverAnswer = kNci2.ok(1, 3)): Promise<void> {
    await nfcc.expect(kInitBytes[0]!);
    nfcc.send(kNci2.resetRsp + kNci2.resetNtf.replace(/\s/g, ''));
    await nfcc.expect(kInitBytes[1]!);
    nfcc.send(kNci2.initRsp);
    await nfcc.expect(kInitBytes[2]!);
    nfcc.send('40 02 02 00 00');
    await nfcc.expect(kInitBytes[3]!);
    nfcc.send(kNci2.ok(1, 0));
    await nfcc.expect(kInitBytes[4]!);
    nfcc.send(kNci2.ok(1, 1));
    await nfcc.expect(kInitBytes[5]!);
    nfcc.send(discoverAnswer);
  }

  async function listening(options?: NciHostOptions): Promise<{ host: NciCardHost; served: ServedCard }> {
    const made = makeHost(options);
    const started = made.host.start();
    await initialise();
    await started;
    expect(made.host.state).toBe('listening');
    return made;
  }

  /** Sends a C-APDU as the controller would (segmented at `max`) and collects the R-APDU, granting a credit per packet. */
  async function apdu(hex: string, max = 255, credit = true): Promise<string> {
    for (const packet of [dataMessage(0, fromHex(hex))].flatMap((m) => encodeMessageBytes(m, max))) nfcc.send(toHex(packet));
    const message = await nfcc.next();
    expect(message.mt).toBe('data');
    if (credit) nfcc.send('60 06 03 01 00 01');
    return toHex(message.payload);
  }

  it('initialises an NCI 2.0 controller with exactly the documented bytes, one packet per write, and listens for NFC-B', async () => {
    await listening();
    expect(nfcc.writes).toEqual(kInitBytes);
    expect(states).toEqual(['listening']);
    expect(host!.controller).toMatchObject({ nciVersion: 0x20, manufacturerId: 0x04, maxControlPayload: 255, interfaces: [1, 2] });
    expect(logs.join('\n')).toMatch(/NFC controller ready on \/dev\/ttyFAKE at 115200 baud: NCI 2\.0, manufacturer 0x04 \(NXP\).*listening for NFC-B/);
  });

  it('tolerates an NCI 1.0 controller and adds NFC-A: ATS historical bytes are the contactless ATR\'s, so a reader builds the same ATR', async () => {
    makeHost({ technologies: ['B', 'A'], nfcid1: fromHex('08AABBCC') });
    const started = host!.start();
    await nfcc.expect('20000101');
    nfcc.send('40 00 03 00 10 01');
    await nfcc.expect('200100');
    // NCI 1.0 CORE_INIT_RSP: status, features, 2 interfaces (Frame, ISO-DEP), 1 conn, routing, max control 0xFF,
    // large params, manufacturer 0x04 and 4 bytes of info.
    nfcc.send('40 01 13 00 00000000 02 01 02 01 0001 FF 0000 04 0A0B0C0D');
    await nfcc.expect(
      '2002 31 0B 380101 390411223344 3A04000041E0 3B0100 3C01A1 3E0102 5A00 320120 330408AABBCC 5908000041E0B381A100 800101',
    );
    nfcc.send('40 02 02 00 00');
    await nfcc.expect('21000401040202');
    nfcc.send(kNci2.ok(1, 0));
    await nfcc.expect('210111 0003 0103000104 0003000101 0003000100');
    nfcc.send(kNci2.ok(1, 1));
    await nfcc.expect('2103050281018001');
    nfcc.send(kNci2.ok(1, 3));
    await started;
    expect(host!.controller).toMatchObject({ nciVersion: 0x10, manufacturerId: 0x04, interfaces: [1, 2] });
    expect(toHex(host!.controller!.manufacturerInfo)).toBe('0A0B0C0D');
    // NFC-A activation works the same way.
    nfcc.send(activation(0xff, 0xff, 0x80, '7080'));
    expect(await apdu(kSelectJpki, 255, false)).toBe('9000');
    expect(logs.join('\n')).toMatch(/activated the card over NFC-A \(max data payload 255, no flow control, RATS info 7080\)/);
  });

  it('serves APDUs after activation: a C-APDU in small segments, a 2 KB answer in 255-byte packets sent one per credit', async () => {
    // The test CA's certificates are under 1 KB; a card whose authentication certificate EF holds
    // 2 KB (as a longer chain or key would) gives the 2 KB answer, read with an extended Le of 2048.
    const twoKb = Uint8Array.from({ length: 2048 }, (_, i) => (i * 13 + 7) & 0xff);
    const files = { ...image.applets.jpki.files, '000A': Buffer.from(twoKb).toString('base64') };
    const made = makeHost({}, { ...image, applets: { ...image.applets, jpki: { ...image.applets.jpki, files } } });
    const activated: unknown[] = [];
    made.host.on('activated', (a) => activated.push(a));
    const started = made.host.start();
    await initialise();
    await started;
    nfcc.send(activation(0xff, 1, 0x81, '00'));
    await waitFor(() => made.host.state === 'active', 'the activation');
    expect(activated).toHaveLength(1);
    expect(toHex(made.host.activation!.activationParams)).toBe('00');
    expect(made.served.card.powered).toBe(true);
    const readCert = '00B00000000800';
    const expected = `${toHex(twoKb)}9000`;

    expect(await apdu(kSelectJpki, 8)).toBe('9000');
    expect(await apdu(kSelectAuthCert, 8)).toBe('9000');

    const packets = Math.ceil(expected.length / 2 / 255);
    const before = nfcc.writes.length;
    nfcc.send(toHex(encodeMessageBytes(dataMessage(0, fromHex(readCert)))));
    const answer: string[] = [];
    for (let i = 0; i < packets; i++) {
      await waitFor(() => nfcc.writes.length > before + i, `packet ${i + 1}`);
      // One credit, one packet: nothing more comes until the next credit.
      await new Promise((resolve) => setTimeout(resolve, 25));
      expect(nfcc.writes.length).toBe(before + i + 1);
      const packet = nfcc.writes[before + i]!;
      expect(packet.slice(0, 2)).toBe(i < packets - 1 ? '10' : '00');
      expect(parseInt(packet.slice(4, 6), 16)).toBe(i < packets - 1 ? 255 : expected.length / 2 - 255 * (packets - 1));
      answer.push(packet.slice(6));
      nfcc.send('60 06 03 01 00 01');
    }
    expect(packets).toBe(9);
    expect(answer.join('')).toBe(expected);
    expect(toHex((await nfcc.next()).payload)).toBe(expected);
  });

  it('ends the session when the field goes, powers the card off, and serves the next reader afresh', async () => {
    const { served } = await listening();
    const ended: string[] = [];
    host!.on('deactivated', (why) => ended.push(why));
    nfcc.send(activation(0xff, 1));
    expect(await apdu(kSelectJpki)).toBe('9000');
    expect(served.card.session.applet).toBe('jpki');
    nfcc.send('61 06 02 03 02');
    await waitFor(() => host!.state === 'listening', 'listening again');
    expect(served.card.powered).toBe(false);
    expect(ended).toEqual(['deactivated (discovery, RF link loss)']);
    expect(logs.join('\n')).toMatch(/the reader let the card go \(deactivated to discovery, RF link loss\); listening again/);
    // A data message outside a session is dropped with a word, not answered.
    nfcc.send('00 00 05 00 B0 00 00 00');
    await waitFor(() => logs.some((l) => /outside an RF session: dropped/.test(l)), 'the drop');
    nfcc.send(activation(0xff, 1));
    // A fresh card: nothing is selected, so the certificate EF is not there to select.
    const fresh = createMemoryCard(image);
    fresh.powerOn();
    const expected = toHex(fresh.transmit(fromHex(kSelectAuthCert)));
    expect(expected).not.toBe('9000');
    expect(await apdu(kSelectAuthCert)).toBe(expected);
  });

  it('serves a reader already in the field: RF_DISCOVER_RSP, the activation and a C-APDU in one burst', async () => {
    makeHost();
    const started = host!.start();
    // The reader activates the card at once and sends its SELECT right behind, all in the same read.
    const select = toHex(encodeMessageBytes(dataMessage(0, fromHex(kSelectJpki))));
    await initialise(kNci2.ok(1, 3).replace(/\s/g, '') + activation(0xff, 1) + select);
    await started;
    const answer = await nfcc.next();
    expect(answer.mt).toBe('data');
    expect(toHex(answer.payload)).toBe('9000');
    expect(host!.state).toBe('active');
    expect(logs.join('\n')).not.toMatch(/outside an RF session|activation while/);
  });

  it('initialises again when the controller resets itself', async () => {
    const { served } = await listening();
    nfcc.send(activation(0xff, 1));
    expect(await apdu(kSelectJpki)).toBe('9000');
    nfcc.send('60 00 09 01 01 20 04 04 01 02 03 04');
    await initialise();
    await waitFor(() => host!.state === 'listening', 'listening after the reset');
    expect(states).toEqual(['listening', 'active', 'recovering', 'listening']);
    expect(served.card.powered).toBe(false);
    expect(logs.join('\n')).toMatch(/the NFC controller reset itself \(power on\): initialising again/);
  });

  it('resets the controller on garbage, and on a packet whose end never comes', async () => {
    await listening();
    nfcc.send('FF FE 9A');
    await initialise();
    await waitFor(() => host!.state === 'listening', 'listening after the garbage');
    expect(logs.join('\n')).toMatch(/garbled NCI stream: message type 111 does not exist \(3 byte\(s\) discarded\): resetting the NFC controller/);
    expect(logs.join('\n')).not.toContain('FFFE9A');

    nfcc.send('61 05 20 01 02');
    await initialise();
    await waitFor(() => host!.state === 'listening', 'listening after the truncated packet');
    expect(logs.join('\n')).toMatch(/announced 32 payload bytes but only 2 arrived before the line went quiet.*resetting/);
  });

  it('only skips garbage when told to resynchronise instead of resetting', async () => {
    await listening({ onGarbage: 'resync' });
    nfcc.send('FF FE');
    nfcc.send(activation(0xff, 1));
    expect(await apdu(kSelectJpki)).toBe('9000');
    expect(logs.join('\n')).toMatch(/garbled NCI stream.*skipping to the next packet/);
  });

  it('resets and initialises again when a command gets no answer', async () => {
    makeHost();
    const started = host!.start();
    await nfcc.expect('20000101');
    nfcc.send(kNci2.resetRsp + kNci2.resetNtf.replace(/\s/g, ''));
    await nfcc.expect('2001020000');
    // No answer: after the command timeout the host starts over with CORE_RESET.
    await initialise();
    await started;
    expect(logs.join('\n')).toMatch(/initialisation failed: no answer to CORE_INIT_CMD within 500 ms; trying again in 20 ms \(attempt 2 of 5\)/);
  });

  it('gives up with a clear error after a bounded number of refused initialisations', async () => {
    makeHost({ maxInitAttempts: 3 });
    const started = host!.start();
    for (let i = 0; i < 3; i++) {
      await nfcc.expect('20000101');
      nfcc.send('40 00 01 03');
    }
    await expect(started).rejects.toThrow(/did not initialise after 3 attempts \(last: CORE_RESET answered 0x03 FAILED\); check the baud rate/);
    expect(host!.state).toBe('stopped');
    expect(await host!.stopped).toBeInstanceOf(Error);
  });

  it('goes on without optional parameters the controller refuses, and stops at once when it has no ISO-DEP interface', async () => {
    makeHost();
    let started = host!.start();
    await nfcc.expect(kInitBytes[0]!);
    nfcc.send(kNci2.resetRsp + kNci2.resetNtf.replace(/\s/g, ''));
    await nfcc.expect(kInitBytes[1]!);
    nfcc.send(kNci2.initRsp);
    await nfcc.expect(kInitBytes[2]!);
    nfcc.send('40 02 03 09 01 80');
    await nfcc.expect(kInitBytes[3]!);
    nfcc.send(kNci2.ok(1, 0));
    await nfcc.expect(kInitBytes[4]!);
    nfcc.send(kNci2.ok(1, 1));
    await nfcc.expect(kInitBytes[5]!);
    nfcc.send(kNci2.ok(1, 3));
    await started;
    expect(logs.join('\n')).toMatch(/refused configuration parameter\(s\) 0x80; going on without them/);
    await host!.stop();

    makeHost();
    started = host!.start();
    await nfcc.expect(kInitBytes[0]!);
    nfcc.send(kNci2.resetRsp + kNci2.resetNtf.replace(/\s/g, ''));
    await nfcc.expect(kInitBytes[1]!);
    nfcc.send('40 01 10 00 00000000 01 0001 FF FF 01 0001 01 01 00');
    await expect(started).rejects.toThrow(/offers no ISO-DEP RF interface \(it lists Frame\)/);
  });

  it('takes the card out of the field and puts it back: RF_DEACTIVATE to idle, RF_DISCOVER again', async () => {
    const { served } = await listening();
    nfcc.send(activation(0xff, 1));
    expect(await apdu(kSelectJpki)).toBe('9000');
    const removed = host!.remove();
    await nfcc.expect('21060100');
    nfcc.send('41 06 01 00  61 06 02 00 00');
    await removed;
    expect(host!.state).toBe('removed');
    expect(served.card.powered).toBe(false);
    const inserted = host!.insert();
    await nfcc.expect('2103030181 01'.replace(/\s/g, ''));
    nfcc.send(kNci2.ok(1, 3));
    await inserted;
    expect(host!.state).toBe('listening');
  });

  it('pulls the card out of the field after a tear, as the vpcd path does', async () => {
    const { served } = await listening();
    nfcc.send(activation(0xff, 1));
    expect(await apdu(kSelectJpki)).toBe('9000');
    served.armTear({ ins: 0xa4, when: 'after' });
    nfcc.send(toHex(encodeMessageBytes(dataMessage(0, fromHex(kSelectAuthCert)))));
    await nfcc.expect('21060100');
    nfcc.send('41 06 01 00  61 06 02 00 00');
    await waitFor(() => host!.state === 'removed', 'removed');
    expect(logs.join('\n')).toMatch(/tear: power cut after the command took effect; the card is out of the field until 'insert'/);
  });

  it('waits for credits, says so, gives the answer up after the timeout, and carries on with the session', async () => {
    await listening();
    nfcc.send(activation(0xff, 0));
    nfcc.send(toHex(encodeMessageBytes(dataMessage(0, fromHex(kSelectJpki)))));
    await waitFor(() => logs.some((l) => /no credit from the NFC controller for 100 ms: the answer to INS 0xA4 waits/.test(l)), 'the waiting line');
    expect(nfcc.pending).toBe(0);
    await waitFor(() => logs.some((l) => /gave up the answer to INS 0xA4/.test(l)), 'the give-up');
    expect(host!.state).toBe('active');
    // Credits come back: the next exchange goes through.
    nfcc.send('60 06 03 01 00 01');
    expect(await apdu(kSelectAuthCert)).toBe('9000');
  });

  it('sends a waiting answer as soon as a late credit comes', async () => {
    await listening();
    nfcc.send(activation(0xff, 0));
    nfcc.send(toHex(encodeMessageBytes(dataMessage(0, fromHex(kSelectJpki)))));
    await waitFor(() => logs.some((l) => /no credit/.test(l)), 'the waiting line');
    nfcc.send('60 06 03 01 00 01');
    expect(toHex((await nfcc.next()).payload)).toBe('9000');
    expect(logs.join('\n')).toMatch(/a credit came after \d+ ms: sending on/);
  });

  it('stops with "the NCI port … went away" when the line goes, also in the middle of a session', async () => {
    const { served } = await listening();
    nfcc.send(activation(0xff, 1));
    expect(await apdu(kSelectJpki)).toBe('9000');
    nfcc.unplug();
    const error = await host!.stopped;
    expect(error).toBeInstanceOf(NciPortGoneError);
    expect(error!.message).toMatch(/^the NCI port \/dev\/ttyFAKE at 115200 baud went away/);
    expect(host!.state).toBe('stopped');
    expect(served.card.powered).toBe(false);
    await expect(host!.insert()).rejects.toThrow(/went away/);
  });

  it('rejects start when the port goes away before the controller answers', async () => {
    makeHost();
    const started = host!.start();
    await nfcc.expect('20000101');
    nfcc.unplug();
    await expect(started).rejects.toThrow(/went away/);
  });

  it('presents the default Type B parameters, with a word, for a card issued with a contact ATR', async () => {
    const contact = { ...image, atr: '3BDA13FF8131FB468012392F31C173C601C03B' };
    makeHost({}, contact);
    void host!.start().catch(() => undefined);
    await nfcc.expect('20000101');
    expect(logs.join('\n')).toMatch(/is not a contactless Type B ATR: the controller presents the default Type B parameters/);
    expect(toHex(host!.typeB.applicationData)).toBe('000041E0');
    expect(toHex(host!.typeB.protocolInfo)).toBe('B381A1');
  });

  it('stops cleanly: a last RF_DEACTIVATE to idle, then the link closes', async () => {
    await listening();
    await host!.stop();
    expect(await host!.stopped).toBeUndefined();
    await waitFor(() => nfcc.writes.at(-1) === '21060100', 'the last command');
  });
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
