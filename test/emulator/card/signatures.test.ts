import { execFileSync } from 'node:child_process';
import { X509Certificate, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSignatureIdentity, type CardImage } from '../../../emulator/index.js';
import { toHex } from '../../../iso7816/bytes.js';
import { JpkiClient, sha256DigestInfo } from '../../../harness/jpki/jpki-client.js';
import { InProcessChannel } from '../../../harness/readers/in-process-channel.js';
import { issueFixture, powered, tempDir, type IssuedFixture } from '../../support/cards.js';

const openssl = (args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function pem(der: Uint8Array): string {
  return new X509Certificate(der).toString();
}

describe('signatures from both keys, checked by node:crypto and openssl', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let image: CardImage;

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
    image = fixture.image;
  });
  afterAll(() => dir.remove());

  async function signWithCard(key: 'auth' | 'sign', message: Buffer): Promise<{ signature: Uint8Array; certificate: Uint8Array }> {
    const client = new JpkiClient(new InProcessChannel(powered(image)));
    await client.verifyPin(key, key === 'auth' ? fixture.definition.pins.auth : fixture.definition.pins.sign);
    const certificate = await client.readCertificate(key);
    const signature = await client.signDigestInfo(key, sha256DigestInfo(message));
    return { signature, certificate };
  }

  for (const key of ['auth', 'sign'] as const) {
    it(`the ${key} key's signature verifies against the ${key} certificate (node:crypto and openssl dgst)`, async () => {
      const message = Buffer.from(`jpki-hil ${key} signature test ${Date.now()}`);
      const { signature, certificate } = await signWithCard(key, message);
      expect(signature.length).toBe(256);
      const cert = new X509Certificate(certificate);
      expect(verify('sha256', message, cert.publicKey, signature)).toBe(true);
      expect(verify('sha256', Buffer.from('another message'), cert.publicKey, signature)).toBe(false);

      const files = { msg: join(dir.path, `${key}.msg`), sig: join(dir.path, `${key}.sig`), pub: join(dir.path, `${key}.pub.pem`) };
      writeFileSync(files.msg, message);
      writeFileSync(files.sig, signature);
      writeFileSync(files.pub, cert.publicKey.export({ type: 'spki', format: 'pem' }));
      expect(openssl(['dgst', '-sha256', '-verify', files.pub, '-signature', files.sig, files.msg])).toContain('Verified OK');
    });
  }

  it('the card applies PKCS#1 v1.5 type-1 padding to exactly the bytes it is given', async () => {
    const client = new JpkiClient(new InProcessChannel(powered(image)));
    await client.verifyPin('auth', fixture.definition.pins.auth);
    const certificate = await client.readCertificate('auth');
    const digestInfo = sha256DigestInfo(Buffer.from('raw'));
    const signature = await client.signDigestInfo('auth', digestInfo);
    const sigFile = join(dir.path, 'raw.sig');
    const certFile = join(dir.path, 'raw-cert.pem');
    writeFileSync(sigFile, signature);
    writeFileSync(certFile, pem(certificate));
    // openssl pkeyutl -verifyrecover undoes the RSA operation and strips 00 01 FF..FF 00.
    const pub = join(dir.path, 'raw.pub.pem');
    writeFileSync(pub, new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'pem' }));
    const recovered = execFileSync('openssl', ['pkeyutl', '-verifyrecover', '-pubin', '-inkey', pub, '-in', sigFile]);
    expect(toHex(recovered)).toBe(toHex(digestInfo));
  });

  it('openssl verify chains each certificate to its own test CA and not to the other', () => {
    const caDir = fixture.ca.dir;
    const authFile = join(dir.path, 'auth.pem');
    const signFile = join(dir.path, 'sign.pem');
    writeFileSync(authFile, pem(fromBase64File(image, '000A')));
    writeFileSync(signFile, pem(fromBase64File(image, '0001')));
    expect(openssl(['verify', '-CAfile', join(caDir, 'auth-ca.pem'), authFile])).toContain(': OK');
    expect(openssl(['verify', '-CAfile', join(caDir, 'sign-ca.pem'), signFile])).toContain(': OK');
    expect(() => openssl(['verify', '-CAfile', join(caDir, 'auth-ca.pem'), signFile])).toThrow();
    // The CA certificates on the card are the CA's own.
    expect(toHex(fromBase64File(image, '000B'))).toBe(toHex(fixture.ca.auth.certificate));
    expect(toHex(fromBase64File(image, '0002'))).toBe(toHex(fixture.ca.sign.certificate));
  });

  it('the signature certificate read from the card carries the issued identity, the same as the card-info AP', async () => {
    const client = new JpkiClient(new InProcessChannel(powered(image)));
    await client.verifyPin('sign', fixture.definition.pins.sign);
    const fromCert = decodeSignatureIdentity(await client.readCertificate('sign'));
    const basic4 = await client.readBasicFour(fixture.definition.pins.kenhojo);
    expect(fromCert).toMatchObject({ name: image.identity.name, address: image.identity.address, birth: image.identity.birth, sex: image.identity.sex });
    expect(basic4).toEqual({ name: fromCert.name, address: fromCert.address, birth: fromCert.birth, sex: fromCert.sex });
    // openssl sees the same otherName entries.
    const text = openssl(['x509', '-noout', '-text', '-in', writeTemp(dir.path, 'sign-text.pem', pem(fromBase64File(image, '0001')))]);
    expect(text).toMatch(/othername: 1\.2\.392\.200149\.8\.5\.5\.1/i);
  });

  it('the authentication certificate carries no personal data', () => {
    const cert = new X509Certificate(fromBase64File(image, '000A'));
    const text = openssl(['x509', '-noout', '-text', '-in', writeTemp(dir.path, 'auth-text.pem', cert.toString())]);
    expect(cert.subject).toMatch(/^C=JP\nCN=[A-Z0-9]{20,}$/);
    expect(text).not.toContain('Subject Alternative Name');
    expect(text).not.toContain(image.identity.myNumber);
    expect(text).not.toContain(image.identity.birth.replace(/-/g, ''));
  });
});

function fromBase64File(image: CardImage, fid: string): Uint8Array {
  const b64 = image.applets.jpki.files[fid];
  if (!b64) throw new Error(`no EF ${fid}`);
  return Uint8Array.from(Buffer.from(b64, 'base64'));
}

function writeTemp(dir: string, name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

