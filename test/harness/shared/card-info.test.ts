/**
 * Verifying the card-info AP's basic 4 against EF 0003 with the card-info key, on the bytes an
 * emulated card hands out, and on each way they can be wrong.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CardInfoError, cardInfoKeyFrom, verifyCardInfo } from '../../../harness/portal/shared/card-info.js';
import { caWorld, type CaWorld } from '../mynaportal/support/portal-fixture.js';

function refusal(run: () => unknown): CardInfoError {
  try {
    run();
  } catch (e) {
    if (e instanceof CardInfoError) return e;
    throw e;
  }
  throw new Error('expected CARD_INFO_INVALID, got a result');
}

describe('card-info verification', () => {
  let world: CaWorld;
  let ef0002: Uint8Array;
  let ef0003: Uint8Array;
  let pem: Buffer;

  beforeAll(async () => {
    world = caWorld();
    const card = await world.issue('adult');
    const info = await card.readCardInfo();
    ef0002 = Buffer.from(info.basic4, 'base64');
    ef0003 = Buffer.from(info.basic4Signature, 'base64');
    pem = readFileSync(join(world.caDir, 'card-info-ap.pub.pem'));
  });
  afterAll(() => world.remove());

  it("returns the basic 4 of a genuine card, with the key as PEM, DER or KeyObject", () => {
    const key = cardInfoKeyFrom(pem);
    const der = key.export({ type: 'spki', format: 'der' });
    for (const form of [key, cardInfoKeyFrom(new Uint8Array(der)), cardInfoKeyFrom(key)]) {
      expect(verifyCardInfo(ef0002, ef0003, form)).toEqual({ name: '番号　太郎', birth: '1985-04-01', sex: '1', address: '東京都千代田区霞が関二丁目1番2号' });
    }
  });

  it('refuses basic 4 that differ from the signed hash', () => {
    const changed = Uint8Array.from(ef0002);
    changed[changed.length - 1] = 0x32; // sex 1 → 2
    expect(refusal(() => verifyCardInfo(changed, ef0003, cardInfoKeyFrom(pem)))).toMatchObject({ code: 'CARD_INFO_INVALID', detail: expect.stringMatching(/DF32/) });
  });

  it('refuses a hash file signed by another key, or with a broken signature', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(refusal(() => verifyCardInfo(ef0002, ef0003, publicKey))).toMatchObject({ code: 'CARD_INFO_INVALID', detail: expect.stringMatching(/DF33/) });
    const broken = Uint8Array.from(ef0003);
    broken[broken.length - 1]! ^= 0xff;
    expect(refusal(() => verifyCardInfo(ef0002, broken, cardInfoKeyFrom(pem))).code).toBe('CARD_INFO_INVALID');
  });

  it('refuses malformed bytes without throwing anything else', () => {
    const key = cardInfoKeyFrom(pem);
    expect(refusal(() => verifyCardInfo(ef0002.subarray(0, 10), ef0003, key)).code).toBe('CARD_INFO_INVALID');
    expect(refusal(() => verifyCardInfo(ef0002, ef0003.subarray(0, 40), key)).code).toBe('CARD_INFO_INVALID');
    expect(refusal(() => verifyCardInfo(ef0003, ef0002, key)).code).toBe('CARD_INFO_INVALID');
    expect(refusal(() => verifyCardInfo(new Uint8Array(0), new Uint8Array(0), key)).code).toBe('CARD_INFO_INVALID');
  });

  it('refuses a key that is not RSA', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => cardInfoKeyFrom(publicKey)).toThrow(/RSA/);
  });
});
