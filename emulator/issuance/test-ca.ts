/**
 * A JPKI-shaped test CA: two self-signed roots (user authentication, digital signature) laid out
 * like the J-LIS ones, issuing card certificates with the JPKI extension profile and publishing
 * CRLs. Everything is marked TEST, so nothing it issues can be mistaken for a real J-LIS
 * certificate. The profile and each guess it makes are documented in docs/card-profile.md.
 *
 * State lives in one directory (see `kCaFiles`); `ca.json` is the ledger of issued certificates.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { equalBytes, toHex, type Bytes } from '../../iso7816/bytes.js';
import { kJstOffsetMs } from '../../common/jst.js';
import { makeDirectories, parseAtomicTempName, removeStaleTempFiles, writeFileAtomic } from '../image/image-store.js';
import { parseDer } from './der.js';
import {
  basicConstraints,
  buildCertificate,
  buildCrl,
  encodeName,
  fromPem,
  keyIdentifier,
  keyUsage,
  parseCertificate,
  serialHex,
  spkiDer,
  subjectAltName,
  subjectKeyIdentifier,
  toPem,
  type Name,
  type ParsedRdn,
  type RdnType,
} from './x509.js';
import { kCaFormat, kCaFormatVersion, type CaAuthority, type CaState, type CertKind, type InitCaOptions, type TestCa } from './ca-types.js';
import {
  caError,
  isTempFile,
  kAuthCaName,
  kCaAltName,
  kCaFiles,
  kDay,
  kDefaultCrlBaseUrl,
  kSerialRanges,
  kSignCaName,
  parseState,
  readCaFile,
  truncateToSeconds,
  writeState,
} from './ca-state.js';

export { kAuthCaName, kAuthPolicyOid, kCaFiles, kDefaultCrlBaseUrl, kJpkiSanArc, kSanOids, kSignCaName, kSignCpsUri, kSignPolicyOid } from './ca-state.js';
export { kCaFormat, kCaFormatVersion } from './ca-types.js';
export type { CaAuthority, CaState, CertKind, InitCaOptions, IssuedRecord, RevocationRecord, TestCa } from './ca-types.js';
export { birthdayAfter, decodeJpkiBirth, defaultCardNotAfter, encodeJpkiBirth, fifthBirthdayAfter, localityFromAddress, opaqueId } from './jpki-identity.js';
export { issueCardCertificates } from './card-issuance.js';
export type { IssueOptions, IssuedCard, IssuedCertificate } from './card-issuance.js';
export { crlNextUpdates, decodeSignatureIdentity, publishCrls, refreshCrlsIfStale, revokeCertificate } from './ca-crls.js';
export type { CrlPublishOptions, RevokeResult, SignatureIdentity } from './ca-crls.js';

// ---------------------------------------------------------------------------------------------
// Loading

function asName(parsed: readonly ParsedRdn[]): Name {
  const known: readonly string[] = ['C', 'O', 'OU', 'CN', 'L', 'ST'];
  return parsed.map((r) => {
    if (!known.includes(r.type)) throw new TypeError(`attribute ${r.type} is not one the test CA writes`);
    return { type: r.type as RdnType, value: r.value };
  });
}

function loadAuthority(dir: string, kind: CertKind, expectedKeyId: string): CaAuthority {
  const certFile = kind === 'auth' ? kCaFiles.authCert : kCaFiles.signCert;
  const keyFile = kind === 'auth' ? kCaFiles.authKey : kCaFiles.signKey;
  const certText = readCaFile(dir, certFile).toString('utf8');
  const keyText = readCaFile(dir, keyFile).toString('utf8');
  let certificate: Bytes;
  let parsed: ReturnType<typeof parseCertificate>;
  let name: Name;
  try {
    certificate = fromPem(certText, 'CERTIFICATE');
    parsed = parseCertificate(certificate);
    name = asName(parsed.subject);
    // Issued certificates carry an issuer re-encoded from `name`; it must match this subject byte for byte.
    if (!equalBytes(parsed.subjectDer, encodeName(name))) throw new TypeError('its subject is not encoded the way this CA writes names');
  } catch (error) {
    throw caError(dir, `${certFile} is not a valid CA certificate (${(error as Error).message})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (error) {
    throw caError(dir, `${keyFile} is not a valid private key (${(error as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw caError(dir, `${keyFile} is not an RSA key`);
  if (!equalBytes(spkiDer(key), parsed.spki)) throw caError(dir, `${keyFile} does not match the public key in ${certFile}`);
  const keyId = keyIdentifier(key);
  if (toHex(keyId) !== expectedKeyId) {
    throw caError(dir, `${certFile} is not the ${kind} CA recorded in ${kCaFiles.state} (key identifier ${toHex(keyId)}, expected ${expectedKeyId})`);
  }
  return { kind, name, certificate, key, keyId, notBefore: parsed.notBefore, notAfter: parsed.notAfter };
}

function checkCrlFile(dir: string, file: string): void {
  const bytes = readCaFile(dir, file);
  try {
    const crl = parseDer(bytes);
    if (crl.tag !== 0x30 || crl.children.length !== 3) throw new TypeError('not a signed CertificateList');
  } catch (error) {
    throw caError(dir, `${file} is not a DER CRL (${(error as Error).message})`);
  }
}

/** Loads and cross-checks a CA directory; the error names the file at fault. */
export function loadCa(dir: string): TestCa {
  if (!existsSync(dir)) throw caError(dir, 'the directory does not exist (create it with `ca init`)');
  if (!statSync(dir).isDirectory()) throw caError(dir, 'it is not a directory');
  const state = parseState(dir, readCaFile(dir, kCaFiles.state).toString('utf8'));
  const auth = loadAuthority(dir, 'auth', state.caKeyIds.auth);
  const sign = loadAuthority(dir, 'sign', state.caKeyIds.sign);
  checkCrlFile(dir, kCaFiles.authCrl);
  checkCrlFile(dir, kCaFiles.signCrl);
  return { dir, auth, sign, state };
}


/** 23:59:59 JST of the day before the same calendar day `years` later: how the J-LIS roots end. */
function caNotAfter(now: Date, years: number): Date {
  const jst = new Date(now.getTime() + kJstOffsetMs);
  const startOfAnniversaryJst = Date.UTC(jst.getUTCFullYear() + years, jst.getUTCMonth(), jst.getUTCDate());
  return new Date(startOfAnniversaryJst - kJstOffsetMs - 1000);
}

function randomPositiveSerial(): bigint {
  const bytes = randomBytes(8);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01; // positive, and never short
  return BigInt('0x' + bytes.toString('hex'));
}

function generateCaKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 }).privateKey;
}

function buildCaCertificate(name: Name, key: KeyObject, now: Date): Bytes {
  return buildCertificate({
    // Random rather than 1: a re-created CA must not reuse issuer+serial of the one it replaces.
    serial: randomPositiveSerial(),
    issuer: name,
    subject: name,
    notBefore: now,
    notAfter: caNotAfter(now, 10),
    subjectPublicKey: key,
    issuerKey: key,
    extensions: [
      keyUsage(['keyCertSign', 'cRLSign'], true),
      basicConstraints({ ca: true, critical: true }),
      subjectKeyIdentifier(key),
      subjectAltName([{ directoryName: kCaAltName }]),
    ],
  });
}

function normalizeCrlBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`crlBaseUrl "${text}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`crlBaseUrl "${text}" must be http: or https:`);
  if (!/^[\x21-\x7e]+$/.test(text)) throw new TypeError(`crlBaseUrl "${text}" must be plain ASCII (it is written as an IA5String)`);
  return text.endsWith('/') ? text : text + '/';
}

const kAllFiles: readonly string[] = Object.values(kCaFiles);

/**
 * Creates a test CA in `dir`, or returns the one already there. Refuses to touch a directory
 * holding anything else unless `force` is set; with `force`, our files are replaced and foreign
 * files are left alone.
 */
export function initCa(dir: string, options: InitCaOptions = {}): TestCa & { readonly created: boolean } {
  const crlBaseUrl = options.crlBaseUrl === undefined ? undefined : normalizeCrlBaseUrl(options.crlBaseUrl);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a directory; choose another path`);
  if (existsSync(dir)) {
    // Temporary copies a killed writer left (CA keys among them): remove those of dead writers.
    for (const name of readdirSync(dir)) {
      const temp = parseAtomicTempName(name);
      if (temp) removeStaleTempFiles(join(dir, temp.target));
    }
  }
  if (!options.force && existsSync(dir)) {
    const entries = readdirSync(dir).filter((e) => !isTempFile(e));
    const ours = kAllFiles.filter((f) => entries.includes(f));
    if (ours.length === kAllFiles.length) {
      let existing: TestCa;
      try {
        existing = loadCa(dir);
      } catch (error) {
        throw new Error(`${(error as Error).message}; fix it, or run with --force to replace it with a fresh CA`);
      }
      if (crlBaseUrl !== undefined && existing.state.crlBaseUrl !== crlBaseUrl) {
        throw new Error(
          `the test CA in ${dir} publishes CRLs at ${existing.state.crlBaseUrl}, not ${crlBaseUrl}; ` +
            'run with --force to replace it with a fresh CA (certificates it issued will no longer verify)',
        );
      }
      return { ...existing, created: false };
    }
    if (ours.length > 0) {
      const missing = kAllFiles.filter((f) => !ours.includes(f));
      throw new Error(`${dir} holds an incomplete test CA (missing ${missing.join(', ')}); run with --force to replace it with a fresh CA`);
    }
    if (entries.length > 0) {
      throw new Error(`${dir} is not empty and is not a test CA directory; choose an empty directory, or run with --force to create the CA there anyway`);
    }
  }

  const now = truncateToSeconds(options.now ?? new Date());
  makeDirectories(dir, 0o700);
  // Removing the ledger first means a crash part-way leaves an "incomplete" CA, not a mixed one.
  rmSync(join(dir, kCaFiles.state), { force: true });

  const authKey = options.keys?.auth ?? generateCaKey();
  const signKey = options.keys?.sign ?? generateCaKey();
  const baseUrl = crlBaseUrl ?? kDefaultCrlBaseUrl;
  const state: CaState = {
    format: kCaFormat,
    version: kCaFormatVersion,
    createdAt: now.toISOString(),
    crlBaseUrl: baseUrl,
    caKeyIds: { auth: toHex(keyIdentifier(authKey)), sign: toHex(keyIdentifier(signKey)) },
    nextSerial: { auth: serialHex(kSerialRanges.auth.first), sign: serialHex(kSerialRanges.sign.first) },
    crlNumber: { auth: 1, sign: 1 },
    issued: [],
  };
  for (const [kind, key, name] of [
    ['auth', authKey, kAuthCaName],
    ['sign', signKey, kSignCaName],
  ] as const) {
    const cert = buildCaCertificate(name, key, now);
    writeFileAtomic(join(dir, kind === 'auth' ? kCaFiles.authKey : kCaFiles.signKey), key.export({ type: 'pkcs8', format: 'pem' }), 0o600);
    writeFileAtomic(join(dir, kind === 'auth' ? kCaFiles.authCert : kCaFiles.signCert), toPem(cert, 'CERTIFICATE'), 0o644);
    const crl = buildCrl({ issuer: name, issuerKey: key, thisUpdate: now, nextUpdate: new Date(now.getTime() + kDay), crlNumber: 1n, revoked: [] });
    writeFileAtomic(join(dir, kind === 'auth' ? kCaFiles.authCrl : kCaFiles.signCrl), crl, 0o644);
  }
  writeState(dir, state);
  return { ...loadCa(dir), created: true };
}

