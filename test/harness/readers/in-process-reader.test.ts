import { X509Certificate, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, type Card } from '../../../emulator/index.js';
import { fromHex, toHex } from '../../../iso7816/bytes.js';
import { JpkiClient, PinError, sha256DigestInfo } from '../../../harness/jpki/jpki-client.js';
import { InProcessReader, InProcessReaderProvider } from '../../../harness/readers/in-process-reader.js';
import { ReaderError, type ReaderErrorCode } from '../../../harness/readers/reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../../support/cards.js';

const kSelectJpki = fromHex('00A4040C0AD392F000260100000001');

/** Rejects with a ReaderError of `code` whose message names the reader. */
async function expectReaderError(promise: Promise<unknown>, code: ReaderErrorCode, readerName: string): Promise<ReaderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ReaderError);
  expect((error as ReaderError).code).toBe(code);
  expect((error as ReaderError).message).toContain(`"${readerName}"`);
  return error as ReaderError;
}

describe('InProcessReader', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  const fresh = (): Card => createMemoryCard(fixture.image);

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
  });
  afterAll(() => dir.remove());

  it('insert and remove power the card on and off and fire inserted (with the ATR) and removed', () => {
    const reader = new InProcessReader('lab reader');
    const card = fresh();
    const events: string[] = [];
    reader.on('inserted', (atr) => events.push(`inserted ${toHex(atr)}`));
    reader.on('removed', () => events.push('removed'));
    expect(reader.cardPresent()).toBe(false);
    expect(reader.atr()).toBeUndefined();

    expect(toHex(reader.insert(card))).toBe(fixture.image.atr);
    expect(card.powered).toBe(true);
    expect(reader.cardPresent()).toBe(true);
    expect(toHex(reader.atr()!)).toBe(fixture.image.atr);

    reader.remove();
    expect(card.powered).toBe(false);
    expect(reader.cardPresent()).toBe(false);
    reader.remove(); // nothing in the reader: no second event
    reader.insert(); // puts the same card back
    expect(reader.card).toBe(card);
    expect(events).toEqual([`inserted ${fixture.image.atr}`, 'removed', `inserted ${fixture.image.atr}`]);
    expect(() => reader.insert(fresh())).toThrow(/already holds a card/);
  });

  it('waitForCard resolves at once with a card, on insertion without, and fails with a TIMEOUT that names the reader', async () => {
    const reader = new InProcessReader('slow reader');
    const timedOut = await expectReaderError(reader.waitForCard(30), 'TIMEOUT', 'slow reader');
    expect(timedOut.message).toMatch(/within 30 ms; insert one/);
    expect(reader.listenerCount('inserted')).toBe(0);

    const waiting = reader.waitForCard(5000);
    setTimeout(() => reader.insert(fresh()), 10);
    expect(toHex(await waiting)).toBe(fixture.image.atr);
    expect(toHex(await reader.waitForCard(0))).toBe(fixture.image.atr);
  });

  it('waitForCard fails with NO_READER when the reader is closed during the wait', async () => {
    const reader = new InProcessReader('closing reader');
    const waiting = reader.waitForCard(5000);
    await reader.close();
    await expectReaderError(waiting, 'NO_READER', 'closing reader');
    await expectReaderError(reader.connect(), 'NO_READER', 'closing reader');
  });

  it('connect without a card fails with NO_CARD', async () => {
    const error = await expectReaderError(new InProcessReader('empty reader').connect(), 'NO_CARD', 'empty reader');
    expect(error.message).toMatch(/insert one/);
  });

  it('a transmit after removal fails with CARD_REMOVED, even once the card is back; a new connection works', async () => {
    const reader = new InProcessReader('r', fresh());
    const connection = await reader.connect();
    expect(connection.readerName).toBe('r');
    expect(toHex(connection.atr)).toBe(fixture.image.atr);
    expect(toHex(await connection.transmit(kSelectJpki))).toBe('9000');

    reader.remove();
    await expectReaderError(connection.transmit(kSelectJpki), 'CARD_REMOVED', 'r');
    reader.insert();
    await expectReaderError(connection.transmit(kSelectJpki), 'CARD_REMOVED', 'r');
    const again = await reader.connect();
    expect(toHex(await again.transmit(kSelectJpki))).toBe('9000');
  });

  it('disconnect resets by default (a verified PIN does not survive), leave keeps the session, and a reset ends the other connections', async () => {
    const reader = new InProcessReader('r', fresh());
    const first = await reader.connect();
    await new JpkiClient(first).verifyPin('auth', fixture.definition.pins.auth);
    expect(reader.card!.session.verified).toEqual(['auth']);

    await first.disconnect('leave');
    expect(reader.card!.session.verified).toEqual(['auth']);
    await expectReaderError(first.transmit(kSelectJpki), 'TRANSMIT_FAILED', 'r');

    const a = await reader.connect();
    const b = await reader.connect();
    await a.disconnect();
    expect(reader.card!.session.verified).toEqual([]);
    expect((await expectReaderError(b.transmit(kSelectJpki), 'TRANSMIT_FAILED', 'r')).message).toMatch(/reset or powered down by another connection/);

    const c = await reader.connect();
    await c.disconnect('unpower');
    expect(reader.card!.powered).toBe(false);
    // The card is still in: the next connect powers it up again, as pcscd does.
    const d = await reader.connect();
    expect(reader.card!.powered).toBe(true);
    expect(toHex(await d.transmit(kSelectJpki))).toBe('9000');
  });

  it('carries the JPKI client: token, certificate, VERIFY, a signature that verifies, the My Number, and a wrong PIN', async () => {
    const reader = new InProcessReader('r', fresh());
    const client = new JpkiClient(await reader.connect());
    expect(await client.readToken()).toBe('JPKIAPICCTOKEN2');
    expect(await client.pinTriesLeft('sign')).toBe(5);
    // The card shows the signature certificate only after the signing password.
    await client.verifyPin('sign', fixture.definition.pins.sign);
    const certificate = new X509Certificate(await client.readCertificate('sign'));
    const message = Buffer.from('signed through the in-process reader');
    const signature = await client.signDigestInfo('sign', sha256DigestInfo(message));
    expect(verify('sha256', message, certificate.publicKey, signature)).toBe(true);
    expect(await client.readMyNumber(fixture.definition.pins.kenhojo)).toBe(fixture.image.identity.myNumber);

    const wrong = await client.verifyPin('auth', '0000').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(wrong).toBeInstanceOf(PinError);
    expect((wrong as PinError).triesLeft).toBe(2);
    expect(await client.pinTriesLeft('auth')).toBe(2);
  });
});

describe('InProcessReaderProvider', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
  });
  afterAll(() => dir.remove());

  it('lists its readers with card presence and ATR, and opens by name, by a unique part of it, or the first with a card', async () => {
    const provider = new InProcessReaderProvider();
    const empty = provider.add('Emulated reader 0');
    const full = provider.add('Emulated reader 1', createMemoryCard(fixture.image));
    expect(() => provider.add('Emulated reader 1')).toThrow(/already/);
    expect(await provider.list()).toEqual([
      { name: 'Emulated reader 0', cardPresent: false },
      { name: 'Emulated reader 1', cardPresent: true, atr: fixture.image.atr },
    ]);
    expect(await provider.open()).toBe(full);
    expect(await provider.open('Emulated reader 0')).toBe(empty);
    expect(await provider.open('reader 1')).toBe(full);

    const unknown = await provider.open('reader').then(
      () => undefined,
      (e: unknown) => e as ReaderError,
    );
    expect(unknown?.code).toBe('NO_READER');
    expect(unknown?.message).toContain('"Emulated reader 0", "Emulated reader 1"');

    // A reader closed by its user is gone from the list.
    await empty.close();
    expect((await provider.list()).map((r) => r.name)).toEqual(['Emulated reader 1']);
    await provider.close();
    expect(full.closed).toBe(true);
    expect(await provider.list()).toEqual([]);
    await expect(provider.open()).rejects.toMatchObject({ code: 'NO_READER' });
  });
});
