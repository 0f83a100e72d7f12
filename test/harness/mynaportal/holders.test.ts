/**
 * The issuer's certificate-to-person register: what the test CA publishes next to its certificates
 * and what `ca serve` answers at /holders, read through the portals' client both ways. A renewed
 * card (the same My Number) keeps its person id and is reported as renewing the old certificate;
 * a namesake is another person; the card-info digest is the DF32 the issuer wrote into that card.
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCaServer, initCa, issueCard, kCertificateHoldersFile, type CardImage } from '../../../emulator/index.js';
import { readTlv, readTlvList } from '../../../iso7816/tlv.js';
import { holderDirectoryAt, HolderDirectoryError, type HolderDirectory } from '../../../harness/portal/shared/holders.js';
import { definition, tempDir } from '../../support/cards.js';

function authCertificate(image: CardImage): { issuer: string; serial: string } {
  const x509 = new X509Certificate(Buffer.from(image.applets.jpki.files['000A']!, 'base64'));
  return { issuer: x509.issuer.split('\n').join(', '), serial: x509.serialNumber.toUpperCase() };
}

function df32(image: CardImage): string {
  const ef0003 = Buffer.from(image.applets.kenhojo.files['0003']!, 'base64');
  return Buffer.from(readTlvList(readTlv(ef0003, 0).value).find((t) => t.tag === 0xdf32)!.value).toString('hex').toUpperCase();
}

describe('the certificate-to-person register', () => {
  const dir = tempDir('jpki-hil-holders-');
  let first: CardImage;
  let renewed: CardImage;
  let namesake: CardImage;
  let server: FastifyInstance;
  let base: string;
  let viaFile: HolderDirectory;
  let viaHttp: HolderDirectory;

  beforeAll(async () => {
    const ca = initCa(join(dir.path, 'ca'));
    const adult = definition('adult');
    first = (await issueCard(ca, adult)).image;
    renewed = (await issueCard(ca, { ...adult, identity: { ...adult.identity, myNumber: first.identity.myNumber } })).image;
    namesake = (await issueCard(ca, adult)).image;
    server = buildCaServer(ca.dir);
    base = await server.listen({ host: '127.0.0.1', port: 0 });
    viaFile = holderDirectoryAt(pathToFileURL(join(ca.dir, kCertificateHoldersFile)).href);
    viaHttp = holderDirectoryAt(base);
  });
  afterAll(async () => {
    await server.close();
    dir.remove();
  });

  it('gives a renewed card the same person, a namesake another, and says which certificate renewed which', async () => {
    for (const directory of [viaFile, viaHttp]) {
      const a = authCertificate(first);
      const b = authCertificate(renewed);
      const c = authCertificate(namesake);
      const [old, fresh, other] = await Promise.all([a, b, c].map((cert) => directory.holderOf(cert.issuer, cert.serial)));
      expect(old).toMatchObject({ serial: a.serial, renewedBy: b.serial, cardInfoDigest: df32(first) });
      expect(old?.renews).toBeUndefined();
      expect(fresh).toMatchObject({ serial: b.serial, person: old!.person, renews: a.serial, cardInfoDigest: df32(renewed) });
      expect(other?.person).toMatch(/^P[0-9A-F]{24}$/);
      expect(other?.person).not.toBe(old!.person);
      // The id is not the My Number, nor anything an RP could compute from the certificate.
      expect(old!.person).not.toContain(first.identity.myNumber);
    }
  });

  it('knows nothing of another issuer or serial, and says so apart from being unreachable', async () => {
    const a = authCertificate(first);
    for (const directory of [viaFile, viaHttp]) {
      expect(await directory.holderOf(a.issuer, '0BFFFFFF')).toBeUndefined();
      expect(await directory.holderOf('C=JP, O=Somebody else', a.serial)).toBeUndefined();
    }
    const bad = await fetch(`${base}/holders?serial=zz`);
    expect(bad.status).toBe(400);
    await expect(holderDirectoryAt('http://127.0.0.1:1/').holderOf(a.issuer, a.serial)).rejects.toBeInstanceOf(HolderDirectoryError);
    await expect(holderDirectoryAt(pathToFileURL(join(dir.path, 'missing.json')).href).holderOf(a.issuer, a.serial)).rejects.toBeInstanceOf(HolderDirectoryError);
  });
});
