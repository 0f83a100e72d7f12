/**
 * The test CA checked against an independent implementation: the `openssl` command parses,
 * prints and verifies everything we produce.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, unlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Identity } from '../../../emulator/issuance/identity.js';
import {
  decodeSignatureIdentity,
  initCa,
  issueCardCertificates,
  kCaFiles,
  loadCa,
  publishCrls,
  revokeCertificate,
  type TestCa,
} from '../../../emulator/issuance/test-ca.js';
import { fromPem, parseCertificate, serialHex, toPem } from '../../../emulator/issuance/x509.js';

interface Run {
  status: number;
  out: string;
}

/** Runs openssl and returns its exit status and combined output instead of throwing. */
function openssl(...args: string[]): Run {
  try {
    const out = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, out };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { status: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function ok(...args: string[]): string {
  const r = openssl(...args);
  expect(r.status, r.out).toBe(0);
  return r.out;
}

const rsa = (): KeyObject => generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 }).privateKey;

const identity: Identity = {
  name: '番号　花子',
  nameKana: 'バンゴウ　ハナコ',
  address: '東京都千代田区千代田1-1 テストハイツ101',
  birth: '1990-01-02',
  sex: '2',
  myNumber: '123456789018',
  nameSubstitute: '番号　花子',
  addressSubstitute: '東京都千代田区千代田1－1　テストハイツ101',
};

let root: string;
let caDir: string;
let ca: TestCa;
const keys: Record<'caAuth' | 'caSign' | 'cardAuth' | 'cardSign' | 'other', KeyObject> = {} as never;
let authPem: string;
let signPem: string;
let authDer: Uint8Array;
let signDer: Uint8Array;

function save(name: string, data: string | Uint8Array): string {
  const path = join(root, name);
  writeFileSync(path, data);
  return path;
}

beforeAll(() => {
  for (const k of ['caAuth', 'caSign', 'cardAuth', 'cardSign', 'other'] as const) keys[k] = rsa();
  root = mkdtempSync(join(tmpdir(), 'jpki-test-ca-'));
  caDir = join(root, 'ca');
  ca = initCa(caDir, { keys: { auth: keys.caAuth, sign: keys.caSign } });
  const issued = issueCardCertificates(ca, { identity, authKey: keys.cardAuth, signKey: keys.cardSign });
  authDer = issued.auth.der;
  signDer = issued.sign!.der;
  authPem = save('auth.pem', toPem(authDer, 'CERTIFICATE'));
  signPem = save('sign.pem', toPem(signDer, 'CERTIFICATE'));
  save('auth.der', authDer);
  save('sign.der', signDer);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const subjectOf = (file: string, inform = 'PEM'): string =>
  ok('x509', '-inform', inform, '-in', file, '-noout', '-subject', '-nameopt', 'oneline,-esc_msb').trim().replace(/^subject=/, '');
const issuerOf = (file: string): string => ok('x509', '-in', file, '-noout', '-issuer', '-nameopt', 'oneline,-esc_msb').trim().replace(/^issuer=/, '');
const textOf = (file: string, inform = 'PEM'): string => ok('x509', '-inform', inform, '-in', file, '-noout', '-text', '-nameopt', 'oneline,-esc_msb');

describe('CA certificates', () => {
  it('are self-signed JPKI-shaped roots, DN in order C, O, OU, OU', () => {
    const authCa = join(caDir, kCaFiles.authCert);
    const signCa = join(caDir, kCaFiles.signCert);
    expect(subjectOf(authCa)).toBe('C = JP, O = JPKI, OU = JPKI TEST for user authentication, OU = jpki-hil TEST CA');
    expect(issuerOf(authCa)).toBe(subjectOf(authCa));
    expect(subjectOf(signCa)).toBe('C = JP, O = JPKI, OU = JPKI TEST for digital signature, OU = jpki-hil TEST CA');
    expect(issuerOf(signCa)).toBe(subjectOf(signCa));
    for (const file of [authCa, signCa]) {
      const text = textOf(file);
      expect(text).toContain('Public-Key: (2048 bit)');
      expect(text).toContain('Exponent: 65537 (0x10001)');
      expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
      expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
      expect(text).toContain('X509v3 Subject Key Identifier');
      // openssl escapes non-ASCII bytes in a GeneralName DirName whatever -nameopt says; undo that.
      const unescaped = Buffer.from(text.replace(/\\x([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
      expect(unescaped).toContain('DirName:/C=JP/O=公的個人認証サービス TEST');
      expect(text).toMatch(/Not After : .* 14:59:59 20\d\d GMT/);
      expect(ok('verify', '-CAfile', file, file)).toContain(': OK');
    }
  });

  it('are valid for ten years, ending at the close of a JST day', () => {
    const cert = parseCertificate(fromPem(readFileSync(join(caDir, kCaFiles.authCert), 'utf8')));
    const years = (cert.notAfter.getTime() - cert.notBefore.getTime()) / (365.25 * 24 * 3600 * 1000);
    expect(years).toBeGreaterThan(9.99);
    expect(years).toBeLessThan(10.01);
    expect(cert.notAfter.toISOString()).toMatch(/T14:59:59\.000Z$/);
  });

  it('keep their private keys as PKCS#8, readable only by the owner', () => {
    for (const file of [kCaFiles.authKey, kCaFiles.signKey]) {
      const path = join(caDir, file);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      ok('pkey', '-in', path, '-noout');
    }
  });
});

describe('authentication certificate', () => {
  it('has an opaque subject and the auth CA as issuer', () => {
    expect(subjectOf(authPem)).toMatch(/^C = JP, CN = [A-Z0-9]{20}$/);
    expect(issuerOf(authPem)).toBe(subjectOf(join(caDir, kCaFiles.authCert)));
    expect(subjectOf(authPem)).not.toContain('千代田');
  });

  it('carries the JPKI auth profile', () => {
    const text = textOf(join(root, 'auth.der'), 'DER');
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Certificate Policies: critical\n\s+Policy: 1\.2\.392\.200149\.8\.5\.1\.3\.30\n/);
    expect(text).toContain('URI:http://127.0.0.1:8080/crl/auth.crl');
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(text).not.toContain('Subject Alternative Name');
    expect(text).not.toContain('Basic Constraints');
    expect(text).toContain('Public-Key: (2048 bit)');
    expect(authDer.length).toBeLessThan(2000);
  });

  it('verifies against the auth CA only', () => {
    expect(ok('verify', '-CAfile', join(caDir, kCaFiles.authCert), authPem)).toContain(': OK');
    const wrong = openssl('verify', '-CAfile', join(caDir, kCaFiles.signCert), authPem);
    expect(wrong.status).not.toBe(0);
    expect(wrong.out).toContain('unable to get local issuer certificate');
  });
});

describe('signature certificate', () => {
  it('has C, L, CN in that order and the sign CA as issuer', () => {
    expect(subjectOf(signPem)).toMatch(/^C = JP, L = 東京都千代田区, CN = [A-Z0-9]{20}$/);
    expect(issuerOf(signPem)).toBe(subjectOf(join(caDir, kCaFiles.signCert)));
  });

  it('carries the JPKI signature profile', () => {
    const text = textOf(join(root, 'sign.der'), 'DER');
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation\n/);
    expect(text).toMatch(/X509v3 Certificate Policies: critical\n\s+Policy: 1\.2\.392\.200149\.8\.5\.1\.0\.20\n\s+CPS: http:\/\/www\.jpki\.go\.jp\/cps\.html\n/);
    expect(text).toContain('URI:http://127.0.0.1:8080/crl/sign.crl');
    expect(text).toContain('othername: 1.2.392.200149.8.5.5.1::番号　花子');
    expect(text).toContain('othername: 1.2.392.200149.8.5.5.3::2');
    expect(text).toContain('othername: 1.2.392.200149.8.5.5.4::419900102');
    expect(text).toContain('othername: 1.2.392.200149.8.5.5.5::東京都千代田区千代田1-1 テストハイツ101');
    expect(text).toContain('othername: 1.2.392.200149.8.5.5.6::東京都千代田区千代田1－1　テストハイツ101');
    expect(signDer.length).toBeLessThan(2000);
  });

  it('has the otherName OIDs in its SAN, as openssl asn1parse shows', () => {
    const file = join(root, 'sign.der');
    const outer = ok('asn1parse', '-inform', 'DER', '-in', file);
    const lines = outer.split('\n');
    const at = lines.findIndex((l) => l.includes(':X509v3 Subject Alternative Name'));
    expect(at).toBeGreaterThan(0);
    const offset = /^\s*(\d+):/.exec(lines[at + 1] ?? '')?.[1];
    expect(offset).toBeDefined();
    const san = ok('asn1parse', '-inform', 'DER', '-in', file, '-strparse', offset!);
    const oids = [...san.matchAll(/OBJECT\s+:(\S+)/g)].map((m) => m[1]);
    expect(oids).toEqual([1, 2, 3, 4, 5, 6].map((n) => `1.2.392.200149.8.5.5.${n}`));
    expect(san).toContain('UTF8STRING        :419900102');
  });

  it('gives back exactly the identity it was issued for', () => {
    expect(decodeSignatureIdentity(signDer)).toEqual({
      name: identity.name,
      nameSubstitute: identity.nameSubstitute,
      sex: identity.sex,
      birth: identity.birth,
      address: identity.address,
      addressSubstitute: identity.addressSubstitute,
    });
    expect(() => decodeSignatureIdentity(authDer)).toThrow(/subjectAltName/);
  });

  it('verifies against the sign CA and not against the auth CA', () => {
    expect(ok('verify', '-CAfile', join(caDir, kCaFiles.signCert), signPem)).toContain(': OK');
    const wrong = openssl('verify', '-CAfile', join(caDir, kCaFiles.authCert), signPem);
    expect(wrong.status).not.toBe(0);
    expect(wrong.out).toContain('unable to get local issuer certificate');
  });

  it('ends the day before the 5th birthday after issue by default', () => {
    const cert = parseCertificate(signDer);
    const issuedJst = new Date(cert.notBefore.getTime() + 9 * 3600_000);
    // Born 2 January: the 5th birthday after an issue date from 3 January on (JST) is 5 years after the next one.
    const firstYear = issuedJst.getUTCMonth() === 0 && issuedJst.getUTCDate() < 2 ? issuedJst.getUTCFullYear() : issuedJst.getUTCFullYear() + 1;
    expect(cert.notAfter.toISOString()).toBe(`${firstYear + 4}-01-01T14:59:59.000Z`);
  });

  it('defaults substitutes to the plain values', () => {
    const plain: Identity = { name: '試験　太郎', address: '大阪府大阪市北区中之島1-3-20', birth: '1975-08-15', sex: '1', myNumber: '123456789018' };
    const issued = issueCardCertificates(ca, { identity: plain, authKey: keys.cardAuth, signKey: keys.cardSign });
    const decoded = decodeSignatureIdentity(issued.sign!.der);
    expect(decoded.nameSubstitute).toBe(plain.name);
    expect(decoded.addressSubstitute).toBe(plain.address);
    expect(decoded.birth).toBe('1975-08-15');
    expect(subjectOf(save('plain.der', issued.sign!.der), 'DER')).toMatch(/^C = JP, L = 大阪府大阪市, CN = /);
  });
});

describe('ca.json', () => {
  it('records what was issued, without personal data beyond the locality', () => {
    const state = JSON.parse(readFileSync(join(caDir, kCaFiles.state), 'utf8'));
    expect(state.format).toBe('jpki-hil-test-ca');
    expect(state.version).toBe(1);
    expect(state.crlBaseUrl).toBe('http://127.0.0.1:8080/crl/');
    const auth = state.issued.find((r: { serial: string }) => r.serial === serialHex(parseCertificate(authDer).serial));
    expect(auth).toMatchObject({ kind: 'auth', subject: expect.stringMatching(/^C=JP, CN=[A-Z0-9]{20}$/) });
    const sign = state.issued.find((r: { serial: string }) => r.serial === serialHex(parseCertificate(signDer).serial));
    expect(sign).toMatchObject({ kind: 'sign', notAfter: parseCertificate(signDer).notAfter.toISOString() });
    const text = readFileSync(join(caDir, kCaFiles.state), 'utf8');
    expect(text).not.toContain('花子');
    expect(text).not.toContain('1990');
  });

  it('gives every certificate a distinct serial', () => {
    const serials = ca.state.issued.map((r) => r.serial);
    expect(new Set(serials).size).toBe(serials.length);
  });
});

describe('revocation', () => {
  it('publishes a CRL that openssl reads and enforces', () => {
    const target = issueCardCertificates(ca, { identity, authKey: keys.other, signKey: keys.other });
    const keep = issueCardCertificates(ca, { identity, authKey: keys.cardAuth });
    const targetPem = save('revoked-auth.pem', toPem(target.auth.der, 'CERTIFICATE'));
    const keepPem = save('kept-auth.pem', toPem(keep.auth.der, 'CERTIFICATE'));
    const before = openssl('crl', '-inform', 'DER', '-in', join(caDir, kCaFiles.authCrl), '-noout', '-text');
    expect(before.out).toContain('No Revoked Certificates.');

    const result = revokeCertificate(ca, target.auth.serial, 'keyCompromise');
    expect(result).toMatchObject({ alreadyRevoked: false, kind: 'auth', serial: serialHex(target.auth.serial) });

    const crl = ok('crl', '-inform', 'DER', '-in', join(caDir, kCaFiles.authCrl), '-noout', '-text');
    expect(crl).toContain(`Serial Number: ${serialHex(target.auth.serial)}`);
    expect(crl).toMatch(/X509v3 CRL Reason Code: \n\s+Key Compromise/);
    expect(crl).toMatch(/X509v3 CRL Number: \n\s+2\n/);
    expect(crl).toContain('X509v3 Authority Key Identifier');
    expect(crl).toContain('Issuer: C = JP, O = JPKI, OU = JPKI TEST for user authentication, OU = jpki-hil TEST CA');
    ok('crl', '-inform', 'DER', '-in', join(caDir, kCaFiles.authCrl), '-noout', '-CAfile', join(caDir, kCaFiles.authCert));

    const crlArgs = ['verify', '-crl_check', '-CAfile', join(caDir, kCaFiles.authCert), '-CRLfile', join(caDir, kCaFiles.authCrl)];
    const revoked = openssl(...crlArgs, targetPem);
    expect(revoked.status).not.toBe(0);
    expect(revoked.out).toContain('certificate revoked');
    expect(ok(...crlArgs, keepPem)).toContain(': OK');

    // The sign CA's CRL is unaffected by an auth revocation.
    const signCrl = ok('crl', '-inform', 'DER', '-in', join(caDir, kCaFiles.signCrl), '-noout', '-text');
    expect(signCrl).toContain('No Revoked Certificates.');
    expect(ok('verify', '-crl_check', '-CAfile', join(caDir, kCaFiles.signCert), '-CRLfile', join(caDir, kCaFiles.signCrl), signPem)).toContain(': OK');
  });

  it('revokes a signature certificate on the sign CRL, found by hex serial', () => {
    const target = issueCardCertificates(ca, { identity, authKey: keys.other, signKey: keys.other });
    const hex = serialHex(target.sign!.serial).toLowerCase().replace(/(..)(?!$)/g, '$1:');
    expect(revokeCertificate(ca, hex, 'cessationOfOperation').kind).toBe('sign');
    const crl = ok('crl', '-inform', 'DER', '-in', join(caDir, kCaFiles.signCrl), '-noout', '-text');
    expect(crl).toContain(`Serial Number: ${serialHex(target.sign!.serial)}`);
    expect(crl).toContain('Cessation Of Operation');
    const pem = save('revoked-sign.pem', toPem(target.sign!.der, 'CERTIFICATE'));
    const r = openssl('verify', '-crl_check', '-CAfile', join(caDir, kCaFiles.signCert), '-CRLfile', join(caDir, kCaFiles.signCrl), pem);
    expect(r.out).toContain('certificate revoked');
  });

  it('keeps the first revocation when revoked twice', () => {
    const target = issueCardCertificates(ca, { identity, authKey: keys.other });
    const first = revokeCertificate(ca, target.auth.serial, 'superseded', { now: new Date('2030-01-01T00:00:00Z') });
    const crlBefore = readFileSync(join(caDir, kCaFiles.authCrl));
    const second = revokeCertificate(ca, target.auth.serial, 'keyCompromise');
    expect(second.alreadyRevoked).toBe(true);
    expect(second.revoked).toEqual(first.revoked);
    expect(second.revoked).toEqual({ date: '2030-01-01T00:00:00.000Z', reason: 'superseded' });
    expect(readFileSync(join(caDir, kCaFiles.authCrl))).toEqual(crlBefore);
  });

  it('omits the reasonCode extension for "unspecified" (RFC 5280 §5.3.1)', () => {
    const target = issueCardCertificates(ca, { identity, authKey: keys.other });
    revokeCertificate(ca, target.auth.serial, 'unspecified');
    const crl = ok('crl', '-inform', 'DER', '-in', join(caDir, kCaFiles.authCrl), '-noout', '-text');
    const entry = crl.slice(crl.indexOf(`Serial Number: ${serialHex(target.auth.serial)}`));
    expect(entry).toMatch(/^Serial Number: \S+\n\s+Revocation Date: [^\n]+\n\s+Serial Number:|^Serial Number: \S+\n\s+Revocation Date: [^\n]+\n\s+Signature Algorithm/);
  });

  it('re-publishes both CRLs with new numbers and the same entries', () => {
    const before = { ...ca.state.crlNumber };
    const revokedAuth = ca.state.issued.filter((r) => r.kind === 'auth' && r.revoked).length;
    const nextUpdate = new Date(Date.now() + 7 * 24 * 3600_000);
    publishCrls(ca, { nextUpdate });
    expect(ca.state.crlNumber).toEqual({ auth: before.auth + 1, sign: before.sign + 1 });
    const crl = ok('crl', '-inform', 'DER', '-in', join(caDir, kCaFiles.authCrl), '-noout', '-text');
    expect(crl).toMatch(new RegExp(`X509v3 CRL Number: \\n\\s+${before.auth + 1}\\n`));
    expect(crl.match(/Serial Number:/g)).toHaveLength(revokedAuth);
    expect(ok('crl', '-inform', 'DER', '-in', join(caDir, kCaFiles.signCrl), '-noout', '-nextupdate')).toContain(String(nextUpdate.getUTCFullYear()));
  });

  it('refuses unknown serials and reasons', () => {
    expect(() => revokeCertificate(ca, 0x7fffffffn, 'keyCompromise')).toThrow(/no certificate with serial 7FFFFFFF/);
    expect(() => revokeCertificate(ca, 'zz', 'keyCompromise')).toThrow(/hexadecimal/);
    expect(() => revokeCertificate(ca, serialHex(parseCertificate(authDer).serial), 'bogus' as never)).toThrow(/not a CRL reason/);
    expect(() => revokeCertificate(ca, serialHex(parseCertificate(authDer).serial), 'removeFromCRL')).toThrow(/delta CRL/);
  });
});

describe('validity in the past', () => {
  it('produces certificates openssl reports as expired', () => {
    const issued = issueCardCertificates(ca, { identity, authKey: keys.other, signKey: keys.other, now: new Date('2012-04-01T00:00:00Z') });
    const cert = parseCertificate(issued.sign!.der);
    expect(cert.notBefore.toISOString()).toBe('2012-04-01T00:00:00.000Z');
    // Born 2 January: birthdays 2013..2017 after an April 2012 issue, so the end is 2017-01-01 23:59:59 JST.
    expect(cert.notAfter.toISOString()).toBe('2017-01-01T14:59:59.000Z');
    const authPath = save('expired-auth.pem', toPem(issued.auth.der, 'CERTIFICATE'));
    const signPath = save('expired-sign.pem', toPem(issued.sign!.der, 'CERTIFICATE'));
    for (const [file, caFile] of [
      [authPath, kCaFiles.authCert],
      [signPath, kCaFiles.signCert],
    ] as const) {
      const r = openssl('verify', '-CAfile', join(caDir, caFile), file);
      expect(r.status).not.toBe(0);
      expect(r.out).toContain('certificate has expired');
    }
  });

  it('honours explicit notBefore / notAfter', () => {
    const notBefore = new Date('2040-01-01T00:00:00Z');
    const notAfter = new Date('2051-06-01T00:00:00Z');
    const issued = issueCardCertificates(ca, { identity, authKey: keys.other, notBefore, notAfter });
    const text = textOf(save('explicit.der', issued.auth.der), 'DER');
    expect(text).toContain('Not Before: Jan  1 00:00:00 2040 GMT');
    expect(text).toContain('Not After : Jun  1 00:00:00 2051 GMT');
    const asn1 = ok('asn1parse', '-inform', 'DER', '-in', join(root, 'explicit.der'));
    expect(asn1).toContain('UTCTIME           :400101000000Z');
    expect(asn1).toContain('GENERALIZEDTIME   :20510601000000Z');
    expect(() => issueCardCertificates(ca, { identity, authKey: keys.other, notBefore: notAfter, notAfter: notBefore })).toThrow(/empty validity/);
  });
});

describe('initCa / loadCa', () => {
  const fresh = (name: string): string => join(root, name);

  it('is idempotent on a complete CA and rewrites nothing', () => {
    const dir = fresh('idem');
    const first = initCa(dir, { keys: { auth: keys.caAuth, sign: keys.caSign } });
    expect(first.created).toBe(true);
    const before = Object.values(kCaFiles).map((f) => [readFileSync(join(dir, f)), statSync(join(dir, f)).mtimeMs] as const);
    const again = initCa(dir, { crlBaseUrl: 'http://127.0.0.1:8080/crl/' });
    expect(again.created).toBe(false);
    expect(again.auth.certificate).toEqual(first.auth.certificate);
    const after = Object.values(kCaFiles).map((f) => [readFileSync(join(dir, f)), statSync(join(dir, f)).mtimeMs] as const);
    expect(after).toEqual(before);
  });

  it('refuses a different CRL base URL, a partial or a foreign directory without --force', () => {
    const dir = fresh('refuse');
    initCa(dir, { keys: { auth: keys.caAuth, sign: keys.caSign }, crlBaseUrl: 'http://localhost:9000/crl' });
    expect(loadCa(dir).state.crlBaseUrl).toBe('http://localhost:9000/crl/');
    expect(() => initCa(dir, { crlBaseUrl: 'http://localhost:9999/crl/' })).toThrow(/localhost:9000.*--force/);

    unlinkSync(join(dir, kCaFiles.signCrl));
    expect(() => initCa(dir)).toThrow(/incomplete test CA \(missing sign\.crl\).*--force/);

    const foreign = fresh('foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'hello');
    expect(() => initCa(foreign)).toThrow(/not empty.*--force/);

    const file = save('plain-file', 'x');
    expect(() => initCa(file)).toThrow(/not a directory/);
  });

  it('with force, replaces the CA and leaves foreign files alone', () => {
    const dir = fresh('force');
    const old = initCa(dir, { keys: { auth: keys.caAuth, sign: keys.caSign } });
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    const replaced = initCa(dir, { force: true, keys: { auth: keys.other, sign: keys.caSign }, now: new Date('2030-05-05T05:05:05Z') });
    expect(replaced.created).toBe(true);
    expect(replaced.auth.certificate).not.toEqual(old.auth.certificate);
    expect(replaced.auth.notBefore.toISOString()).toBe('2030-05-05T05:05:05.000Z');
    expect(replaced.auth.notAfter.toISOString()).toBe('2040-05-04T14:59:59.000Z');
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(replaced.state.issued).toEqual([]);
    // A handle on the replaced CA must not write into the new ledger.
    expect(() => issueCardCertificates(old, { identity, authKey: keys.other })).toThrow(/replaced/);
    // The partial directory from the previous test is repaired by force.
    initCa(fresh('refuse'), { force: true, keys: { auth: keys.caAuth, sign: keys.caSign } });
    expect(loadCa(fresh('refuse')).state.crlBaseUrl).toBe('http://127.0.0.1:8080/crl/');
  });

  it('names the missing or bad file when loading fails', () => {
    const dir = fresh('broken');
    initCa(dir, { keys: { auth: keys.caAuth, sign: keys.caSign } });
    const backup = join(root, 'auth-key-backup.pem');
    copyFileSync(join(dir, kCaFiles.authKey), backup);

    unlinkSync(join(dir, kCaFiles.authKey));
    expect(() => loadCa(dir)).toThrow(/auth-ca\.key\.pem is missing/);

    copyFileSync(join(dir, kCaFiles.signKey), join(dir, kCaFiles.authKey));
    expect(() => loadCa(dir)).toThrow(/auth-ca\.key\.pem does not match the public key in auth-ca\.pem/);

    writeFileSync(join(dir, kCaFiles.authKey), 'garbage');
    expect(() => loadCa(dir)).toThrow(/auth-ca\.key\.pem is not a valid private key/);
    copyFileSync(backup, join(dir, kCaFiles.authKey));
    expect(loadCa(dir).auth.kind).toBe('auth');

    const json = readFileSync(join(dir, kCaFiles.state), 'utf8');
    writeFileSync(join(dir, kCaFiles.state), '{');
    expect(() => loadCa(dir)).toThrow(/ca\.json is not valid JSON/);
    writeFileSync(join(dir, kCaFiles.state), JSON.stringify({ ...JSON.parse(json), format: 'other' }));
    expect(() => loadCa(dir)).toThrow(/ca\.json: format/);
    // Every bad field at once, each by its path, as the schema path words them.
    const state = JSON.parse(json) as { nextSerial: Record<string, unknown>; crlNumber: Record<string, unknown>; issued: Record<string, unknown>[] };
    state.nextSerial.sign = '0a1b';
    delete state.crlNumber.auth;
    state.issued.push({ serial: '01', kind: 'signature', subject: 'x', issuedAt: 'yesterday', notBefore: '2026-04-01T00:00:00.000Z', notAfter: '2031-04-01T00:00:00.000Z', revoked: { date: '2026-05-01T00:00:00.000Z', reason: 'lost' } });
    const last = state.issued.length - 1;
    writeFileSync(join(dir, kCaFiles.state), JSON.stringify(state));
    expect(() => loadCa(dir)).toThrow(
      [
        'ca.json: nextSerial.sign: "0a1b" is not upper-case hex',
        'crlNumber: missing required field "auth"',
        `issued[${last}].kind: "signature" is not one of auth, sign`,
        `issued[${last}].issuedAt: "yesterday" is not an ISO time (2026-04-01T00:00:00.000Z)`,
        `issued[${last}].revoked.reason: "lost" is not one of unspecified, keyCompromise`,
      ].join('; '),
    );
    writeFileSync(join(dir, kCaFiles.state), json);

    writeFileSync(join(dir, kCaFiles.signCrl), 'not der');
    expect(() => loadCa(dir)).toThrow(/sign\.crl is not a DER CRL/);
    expect(() => initCa(dir)).toThrow(/sign\.crl.*--force/);

    writeFileSync(join(dir, kCaFiles.signCert), 'nope');
    expect(() => loadCa(dir)).toThrow(/sign-ca\.pem is not a valid CA certificate/);

    expect(() => loadCa(fresh('does-not-exist'))).toThrow(/does not exist/);
  });
});
