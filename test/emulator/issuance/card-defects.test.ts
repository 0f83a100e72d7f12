import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CardDefinitionError, loadCardDefinition, serializeCardImage, validateCardImage, type CardImage } from '../../../emulator/index.js';
import { concat, fromBase64, fromHex, toHex } from '../../../iso7816/bytes.js';
import { apdu, issueFixture, powered, tempDir, type IssuedFixture } from '../../support/cards.js';

/** openssl's exit status and output, without throwing on a failed verification. */
function openssl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'latin1' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const kJpkiAid = 'D392F000260100000001';
const kSlots = {
  auth: { pinEf: '0018', keyEf: '0017', certEf: '000A' },
  sign: { pinEf: '001B', keyEf: '001A', certEf: '0001' },
} as const;
const kSha256DigestInfoPrefix = fromHex('3031300D060960864801650304020105000420');

/** Signs `message` with the card through raw APDUs: SELECT AP, SELECT PIN EF, VERIFY, SELECT key EF, 80 2A 00 80. */
function signThroughApdus(image: CardImage, slot: 'auth' | 'sign', pin: string, message: Uint8Array): { digestInfo: Uint8Array; signature: Uint8Array } {
  const card = powered(image);
  const select = (p1: number, p2: number, id: string): void => {
    expect(card.send(apdu({ cla: 0x00, ins: 0xa4, p1, p2, data: fromHex(id) })).sw).toBe('9000');
  };
  select(0x04, 0x0c, kJpkiAid);
  select(0x02, 0x0c, kSlots[slot].pinEf);
  expect(card.send(apdu({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80, data: Buffer.from(pin, 'latin1') })).sw).toBe('9000');
  select(0x02, 0x0c, kSlots[slot].keyEf);
  const digestInfo = concat(kSha256DigestInfoPrefix, createHash('sha256').update(message).digest());
  const r = card.send(apdu({ cla: 0x80, ins: 0x2a, p1: 0x00, p2: 0x80, data: digestInfo, ne: 256 }));
  expect(r.sw).toBe('9000');
  return { digestInfo, signature: fromHex(r.data) };
}

describe('a card definition can ask for a deliberately wrong private key (defects.wrongKey)', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'wrong-auth-key');
  });
  afterAll(() => dir.remove());

  const certificate = (image: CardImage, slot: 'auth' | 'sign'): X509Certificate => {
    const b64 = image.applets.jpki.files[kSlots[slot].certEf];
    if (!b64) throw new Error(`no ${slot} certificate`);
    return new X509Certificate(fromBase64(b64));
  };
  const keyMatchesCertificate = (image: CardImage, slot: 'auth' | 'sign'): boolean => {
    const pem = image.applets.jpki.keys[slot];
    if (!pem) throw new Error(`no ${slot} key`);
    const onCard = createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' });
    return onCard.equals(certificate(image, slot).publicKey.export({ type: 'spki', format: 'der' }));
  };

  it('loads the bundled wrong-auth-key card and records the defect in the image, which still validates', () => {
    expect(fixture.definition.defects).toEqual({ wrongKey: 'auth' });
    expect(fixture.definition.description).toMatch(/broken on purpose/);
    const { image } = fixture;
    expect(image.defects).toEqual({ wrongKey: 'auth' });
    expect(keyMatchesCertificate(image, 'auth')).toBe(false);
    expect(keyMatchesCertificate(image, 'sign')).toBe(true);
    // The stored key is a real RSA-2048 key, just not the certified one.
    expect(createPrivateKey(image.applets.jpki.keys.auth).asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
    // A saved image of a deliberately broken card loads like any other (card show, serve).
    const reloaded = validateCardImage(JSON.parse(serializeCardImage(image)));
    expect(reloaded.defects).toEqual({ wrongKey: 'auth' });
  });

  it("the authentication signature made through APDUs does not verify against the card's certificate (openssl)", () => {
    const message = Buffer.from(`jpki-hil wrong-key login challenge ${Date.now()}`);
    const { digestInfo, signature } = signThroughApdus(fixture.image, 'auth', fixture.definition.pins.auth, message);
    expect(signature.length).toBe(256);
    const files = { msg: join(dir.path, 'auth.msg'), sig: join(dir.path, 'auth.sig'), pub: join(dir.path, 'auth.pub.pem') };
    writeFileSync(files.msg, message);
    writeFileSync(files.sig, signature);
    writeFileSync(files.pub, certificate(fixture.image, 'auth').publicKey.export({ type: 'spki', format: 'pem' }));

    const dgst = openssl(['dgst', '-sha256', '-verify', files.pub, '-signature', files.sig, files.msg]);
    expect(dgst.status).not.toBe(0);
    expect(dgst.stdout).not.toContain('Verified OK');
    expect(dgst.stdout).toMatch(/Verification failure/i);

    // Undoing the RSA operation with the certified key gives no PKCS#1 type-1 block, let alone the DigestInfo.
    const recover = openssl(['pkeyutl', '-verifyrecover', '-pubin', '-inkey', files.pub, '-in', files.sig]);
    expect(recover.status).not.toBe(0);
    expect(toHex(Buffer.from(recover.stdout, 'latin1'))).not.toContain(toHex(digestInfo));
  });

  it('the signature key of the same card is sound: its signature verifies (openssl dgst and pkeyutl -verifyrecover)', () => {
    const message = Buffer.from(`jpki-hil wrong-key card, sign key ${Date.now()}`);
    const { digestInfo, signature } = signThroughApdus(fixture.image, 'sign', fixture.definition.pins.sign, message);
    const files = { msg: join(dir.path, 'sign.msg'), sig: join(dir.path, 'sign.sig'), pub: join(dir.path, 'sign.pub.pem') };
    writeFileSync(files.msg, message);
    writeFileSync(files.sig, signature);
    writeFileSync(files.pub, certificate(fixture.image, 'sign').publicKey.export({ type: 'spki', format: 'pem' }));

    const dgst = openssl(['dgst', '-sha256', '-verify', files.pub, '-signature', files.sig, files.msg]);
    expect(dgst.status).toBe(0);
    expect(dgst.stdout).toContain('Verified OK');
    const recover = openssl(['pkeyutl', '-verifyrecover', '-pubin', '-inkey', files.pub, '-in', files.sig]);
    expect(recover.status).toBe(0);
    expect(toHex(Buffer.from(recover.stdout, 'latin1'))).toBe(toHex(digestInfo));
  });

  it('wrongKey: both breaks both slots; a sound card records no defects', async () => {
    const both = await issueFixture(dir.path, 'wrong-auth-key', (d) => ({ ...d, defects: { wrongKey: 'both' } }));
    expect(both.image.defects).toEqual({ wrongKey: 'both' });
    expect(keyMatchesCertificate(both.image, 'auth')).toBe(false);
    expect(keyMatchesCertificate(both.image, 'sign')).toBe(false);
    const sound = await issueFixture(dir.path, 'wrong-auth-key', (d) => ({ ...d, defects: {} }));
    expect(sound.image.defects).toBeUndefined();
    expect(keyMatchesCertificate(sound.image, 'auth')).toBe(true);
    expect(keyMatchesCertificate(sound.image, 'sign')).toBe(true);
  });

  it('refuses a wrong signature key on a card that has no signature key', async () => {
    await expect(issueFixture(dir.path, 'minor', (d) => ({ ...d, defects: { wrongKey: 'sign' } }))).rejects.toThrow(
      /defects\.wrongKey: "sign" names the signature key, and the card has no signature certificate/,
    );
  });

  it('the definition loader names the field and the allowed values for a bad defect', () => {
    const path = join(dir.path, 'bad-defect.yaml');
    writeFileSync(path, ['description: test', 'defects:', '  wrongKey: foo'].join('\n'));
    expect(() => loadCardDefinition(path)).toThrow(CardDefinitionError);
    expect(() => loadCardDefinition(path)).toThrow(`${path}:3: defects.wrongKey: "foo" is not one of auth, sign, both`);
    writeFileSync(path, ['defects:', '  wrongPin: auth'].join('\n'));
    expect(() => loadCardDefinition(path)).toThrow(`${path}:2: defects.wrongPin: unknown field "wrongPin" (known: wrongKey)`);
    writeFileSync(path, 'defects: auth\n');
    expect(() => loadCardDefinition(path)).toThrow(`${path}:1: defects: must be a mapping`);
  });

  it('a card image with an unknown defect is refused, naming the field', () => {
    const json = JSON.parse(serializeCardImage(fixture.image)) as { defects: Record<string, unknown> };
    json.defects.wrongKey = 'all';
    expect(() => validateCardImage(json)).toThrow(/^defects\.wrongKey: "all" is not one of auth, sign, both/);
  });
});
