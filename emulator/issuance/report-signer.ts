/**
 * The certificate and key the test CA signs certification reports with (`certification.json.p7s`).
 *
 * Issued by the test CA's digital-signature authority (sign-ca.pem): signing a document is what that
 * authority is for, and `openssl cms -verify -CAfile sign-ca.pem` accepts the result under its
 * default purpose (smimesign): the leaf has keyUsage digitalSignature and no extendedKeyUsage, the
 * CA has basicConstraints cA and keyCertSign. Deliberately *without* nonRepudiation: the portal
 * (and any relying party following JPKI) wants nonRepudiation in a signature certificate, so the
 * report signer can never pass for a citizen's 署名用電子証明書 issued by the same CA. It carries no
 * JPKI policy, no subjectAltName and no CRL distribution point, and its serial is random (64 bits)
 * and far outside the ledger's card ranges; it is not recorded in ca.json and cannot be revoked.
 *
 * Made on first use, stored next to the CA files (`report-signer.pem`, `report-signer.key.pem`,
 * written atomically, the key 0600) and reused while it still belongs to this CA and is valid.
 * Anything else — a missing or unreadable file, a key not matching the certificate, a certificate
 * from a CA since replaced with `ca init --force`, one expired — makes a fresh one: the files are a
 * cache of something the CA can always re-derive.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { equalBytes } from '../../iso7816/bytes.js';
import { writeFileAtomic } from '../image/image-store.js';
import { kCaFiles, type CaAuthority, type TestCa } from './test-ca.js';
import {
  authorityKeyIdentifier,
  basicConstraints,
  buildCertificate,
  fromPem,
  keyUsage,
  parseCertificate,
  spkiDer,
  subjectKeyIdentifier,
  toPem,
  type Name,
} from './x509.js';

export const kReportSignerFiles = {
  cert: 'report-signer.pem',
  key: 'report-signer.key.pem',
} as const;

/** Which of the CA's authorities issues the report signer: the digital-signature one. */
export const kReportSignerAuthority = 'sign' as const;

export const kReportSignerName: Name = [
  { type: 'C', value: 'JP' },
  { type: 'OU', value: 'jpki-hil TEST CA' },
  { type: 'CN', value: 'jpki-hil test CA certification report signer' },
];

export interface ReportSigner {
  /** DER of the signer certificate. */
  readonly certificate: Uint8Array;
  readonly key: KeyObject;
  /** DER of the certificates from the signer's issuer up to the root, included in the CMS: the issuing CA. */
  readonly chain: Uint8Array[];
}

export interface ReportSignerOptions {
  /** The clock for validity checks and a new certificate's notBefore. */
  readonly now?: Date | undefined;
  /** An RSA-2048 private key to use when a new certificate is made (tests: key generation is slow). */
  readonly key?: KeyObject | undefined;
}

function authority(ca: TestCa): CaAuthority {
  return ca[kReportSignerAuthority];
}

/** The CA certificate (PEM) in the CA directory that verifies report signatures: `-CAfile` for openssl. */
export function reportSignerCaFile(ca: TestCa): string {
  return join(ca.dir, kCaFiles.signCert);
}

function truncateToSeconds(date: Date): Date {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function randomPositiveSerial(): bigint {
  const bytes = randomBytes(8);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01; // positive, never short: above every ledger range
  return BigInt('0x' + bytes.toString('hex'));
}

/** The stored signer when it is usable as is; undefined when a new one must be made. */
function loadStored(ca: TestCa, now: Date): ReportSigner | undefined {
  const certPath = join(ca.dir, kReportSignerFiles.cert);
  const keyPath = join(ca.dir, kReportSignerFiles.key);
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  const issuer = authority(ca);
  try {
    const certificate = fromPem(readFileSync(certPath, 'utf8'), 'CERTIFICATE');
    const key = createPrivateKey(readFileSync(keyPath, 'utf8'));
    if (key.asymmetricKeyType !== 'rsa') return undefined;
    const parsed = parseCertificate(certificate);
    if (!equalBytes(spkiDer(key), parsed.spki)) return undefined;
    const x509 = new X509Certificate(certificate);
    const caX509 = new X509Certificate(issuer.certificate);
    if (!x509.checkIssued(caX509) || !x509.verify(caX509.publicKey)) return undefined;
    if (now.getTime() < parsed.notBefore.getTime() || now.getTime() > parsed.notAfter.getTime()) return undefined;
    return { certificate, key, chain: [issuer.certificate] };
  } catch {
    return undefined;
  }
}

function makeSigner(ca: TestCa, now: Date, key: KeyObject | undefined): ReportSigner {
  const issuer = authority(ca);
  const notBefore = truncateToSeconds(now);
  if (notBefore.getTime() > issuer.notAfter.getTime()) {
    throw new Error(`the ${kReportSignerAuthority} CA of ${ca.dir} expired at ${issuer.notAfter.toISOString()}; create a fresh CA with --force`);
  }
  const signerKey = key ?? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 }).privateKey;
  if (signerKey.type !== 'private' || signerKey.asymmetricKeyType !== 'rsa') throw new TypeError('the report signer key must be an RSA private key');
  const certificate = buildCertificate({
    serial: randomPositiveSerial(),
    issuer: issuer.name,
    subject: kReportSignerName,
    notBefore,
    notAfter: issuer.notAfter,
    subjectPublicKey: signerKey,
    issuerKey: issuer.key,
    extensions: [
      keyUsage(['digitalSignature'], true),
      basicConstraints({ ca: false, critical: false }),
      subjectKeyIdentifier(signerKey),
      authorityKeyIdentifier(issuer.keyId),
    ],
  });
  // Key first: a crash in between leaves a certificate that does not match, which the next call replaces.
  writeFileAtomic(join(ca.dir, kReportSignerFiles.key), signerKey.export({ type: 'pkcs8', format: 'pem' }), 0o600);
  writeFileAtomic(join(ca.dir, kReportSignerFiles.cert), toPem(certificate, 'CERTIFICATE'), 0o644);
  return { certificate, key: signerKey, chain: [issuer.certificate] };
}

/**
 * The report signer of `ca`: the stored one when it still fits, otherwise a new RSA-2048 certificate
 * "jpki-hil test CA certification report signer" issued by the CA's digital-signature authority,
 * valid from now until the CA itself expires.
 */
export function reportSigner(ca: TestCa, options: ReportSignerOptions = {}): ReportSigner {
  const now = options.now ?? new Date();
  return loadStored(ca, now) ?? makeSigner(ca, now, options.key);
}
