/**
 * The report signature, checked by openssl as the independent verifier (and by verifyDetached,
 * which must agree): a JSON document signed with a temp CA's report signer verifies with
 * `openssl cms -verify -CAfile sign-ca.pem` under openssl's default purpose, one changed byte makes
 * it fail, and the signer certificate is made once and reused.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, kReportSignerFiles, reportSigner, reportSignerCaFile, type TestCa } from '../../../emulator/index.js';
import { signDetached, verifyDetached } from '../../../harness/certification/sign.js';
import { tempDir } from '../../support/cards.js';

function openssl(dir: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function opensslVerify(dir: string, p7s: string, content: string, caFile: string): { status: number | null; output: string } {
  return openssl(dir, ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-content', content, '-CAfile', caFile, '-out', '/dev/null']);
}

describe('certification report signature', () => {
  const tmp = tempDir('jpki-hil-sign-');
  let ca: TestCa;

  beforeAll(() => {
    ca = initCa(join(tmp.path, 'ca'));
  });
  afterAll(() => tmp.remove());

  it('signs a JSON document that openssl verifies with the sign CA, and refuses after one changed byte', () => {
    const signer = reportSigner(ca);
    const json = Buffer.from(`${JSON.stringify({ format: 'jpki-hil-certification/1', device: { name: 'ソニー RC-S380' }, certified: true }, null, 2)}\n`, 'utf8');
    const p7s = signDetached(json, signer, new Date('2025-04-01T09:00:00Z'));
    writeFileSync(join(tmp.path, 'certification.json'), json);
    writeFileSync(join(tmp.path, 'certification.json.p7s'), p7s);
    const caFile = reportSignerCaFile(ca);
    expect(caFile).toBe(join(ca.dir, 'sign-ca.pem'));

    const good = opensslVerify(tmp.path, 'certification.json.p7s', 'certification.json', caFile);
    expect(good.output).toContain('Verification successful');
    expect(good.status).toBe(0);
    const caDer = new X509Certificate(readFileSync(caFile)).raw;
    expect(verifyDetached(json, p7s, caDer)).toEqual({ ok: true });

    // One byte of the JSON changed: openssl and verifyDetached both refuse.
    const tampered = Buffer.from(json);
    tampered[json.indexOf('true')] = 'T'.charCodeAt(0);
    writeFileSync(join(tmp.path, 'certification.json'), tampered);
    const bad = opensslVerify(tmp.path, 'certification.json.p7s', 'certification.json', caFile);
    expect(bad.status).not.toBe(0);
    expect(bad.output).not.toContain('Verification successful');
    const ours = verifyDetached(tampered, p7s, caDer);
    expect(ours.ok).toBe(false);
    expect(ours.reason).toMatch(/message digest/);
  });

  it('is not accepted under the authentication CA, by openssl or by verifyDetached', () => {
    const json = Buffer.from('{"a":1}\n');
    const p7s = signDetached(json, reportSigner(ca));
    writeFileSync(join(tmp.path, 'other.json'), json);
    writeFileSync(join(tmp.path, 'other.json.p7s'), p7s);
    expect(opensslVerify(tmp.path, 'other.json.p7s', 'other.json', join(ca.dir, 'auth-ca.pem')).status).not.toBe(0);
    expect(verifyDetached(json, p7s, ca.auth.certificate).ok).toBe(false);
    expect(verifyDetached(json, p7s, ca.sign.certificate).ok).toBe(true);
  });

  it('has the certificate openssl wants: issued by the sign CA, digitalSignature only, no EKU, valid as long as the CA', () => {
    const { certificate, chain } = reportSigner(ca);
    const x509 = new X509Certificate(certificate);
    const caCert = new X509Certificate(ca.sign.certificate);
    expect(x509.subject).toContain('CN=jpki-hil test CA certification report signer');
    expect(x509.checkIssued(caCert) && x509.verify(caCert.publicKey)).toBe(true);
    expect(x509.ca).toBe(false);
    expect(x509.keyUsage).toBeUndefined(); // node: the extended key usage
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(new Date(x509.validTo).getTime()).toBe(ca.sign.notAfter.getTime());
    expect(chain.map((c) => Buffer.from(c).equals(caCert.raw))).toEqual([true]);
    const text = openssl(ca.dir, ['x509', '-in', kReportSignerFiles.cert, '-noout', '-ext', 'keyUsage']).output;
    expect(text).toMatch(/critical/);
    expect(text).toMatch(/Digital Signature/);
    expect(text).not.toMatch(/Non Repudiation/); // a JPKI relying party must not take it for a citizen's signature certificate
    const purpose = openssl(ca.dir, ['verify', '-CAfile', 'sign-ca.pem', '-purpose', 'smimesign', kReportSignerFiles.cert]);
    expect(purpose.output).toContain(': OK');
  });

  it('is made once, stored in the CA directory with a private key file, and reused', () => {
    const first = reportSigner(ca);
    const second = reportSigner(ca);
    const serial = (der: Uint8Array): string => new X509Certificate(der).serialNumber;
    expect(serial(second.certificate)).toBe(serial(first.certificate));
    expect(Buffer.from(second.certificate).equals(Buffer.from(first.certificate))).toBe(true);
    expect(statSync(join(ca.dir, kReportSignerFiles.key)).mode & 0o777).toBe(0o600);
    const stored = new X509Certificate(readFileSync(join(ca.dir, kReportSignerFiles.cert)));
    expect(stored.serialNumber).toBe(serial(first.certificate));
    expect(stored.checkPrivateKey(second.key)).toBe(true);
  });

  it('makes a new signer when the stored one does not belong to the CA any more', () => {
    const dir = join(tmp.path, 'ca2');
    const first = initCa(dir);
    const before = new X509Certificate(reportSigner(first).certificate);
    const replaced = initCa(dir, { force: true });
    const after = new X509Certificate(reportSigner(replaced).certificate);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.checkIssued(new X509Certificate(replaced.sign.certificate))).toBe(true);
    expect(after.verify(new X509Certificate(replaced.sign.certificate).publicKey)).toBe(true);
    // A mismatched key file is replaced too, rather than signing with a key the certificate does not name.
    writeFileSync(join(dir, kReportSignerFiles.key), readFileSync(join(ca.dir, kReportSignerFiles.key)));
    const repaired = reportSigner(replaced);
    expect(new X509Certificate(repaired.certificate).serialNumber).not.toBe(after.serialNumber);
    expect(new X509Certificate(repaired.certificate).checkPrivateKey(repaired.key)).toBe(true);
  });

  it('verifyDetached says why: not CMS, content attached, expired signer', () => {
    const signer = reportSigner(ca);
    const json = Buffer.from('{}');
    const p7s = signDetached(json, signer);
    expect(verifyDetached(json, Buffer.from('not cms'), ca.sign.certificate)).toMatchObject({ ok: false, reason: expect.stringMatching(/not a DER CMS/) });
    expect(verifyDetached(json, p7s, ca.sign.certificate, { at: new Date(ca.sign.notAfter.getTime() + 1000) })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/expired/),
    });
    // Signed attributes are re-checked: a signature over different content does not verify this content.
    expect(verifyDetached(Buffer.from('{ }'), p7s, ca.sign.certificate).ok).toBe(false);
  });

  it('signs with a GeneralizedTime signing-time after 2049 that openssl still verifies', () => {
    const json = Buffer.from('{"late":true}\n');
    const p7s = signDetached(json, reportSigner(ca), new Date('2051-01-01T00:00:00Z'));
    writeFileSync(join(tmp.path, 'late.json'), json);
    writeFileSync(join(tmp.path, 'late.json.p7s'), p7s);
    expect(opensslVerify(tmp.path, 'late.json.p7s', 'late.json', reportSignerCaFile(ca)).status).toBe(0);
    const printed = openssl(tmp.path, ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'late.json.p7s']).output;
    expect(printed).toMatch(/GENERALIZEDTIME|generalizedTime/i);
  });
});
