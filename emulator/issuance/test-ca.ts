/**
 * A JPKI-shaped test CA: two self-signed roots (user authentication, digital signature) laid out
 * like the J-LIS ones, issuing card certificates with the JPKI extension profile and publishing
 * CRLs. Everything is marked TEST, so nothing it issues can be mistaken for a real J-LIS
 * certificate. The profile and each guess it makes are documented in docs/card-profile.md.
 *
 * State lives in one directory (see `kCaFiles`); `ca.json` is the ledger of issued certificates.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { equalBytes, toHex, type Bytes } from '../../iso7816/bytes.js';
import { kJstOffsetMs } from '../../common/jst.js';
import { makeDirectories, parseAtomicTempName, removeStaleTempFiles, writeFileAtomic } from '../image/image-store.js';
import type { Identity, Sex } from './identity.js';
import { holderRegister, kCertificateHoldersFile, personIdFor } from './certificate-holders.js';
import { childAt, decodeTime, parseDer } from './der.js';
import {
  Oid,
  authorityKeyIdentifier,
  basicConstraints,
  buildCertificate,
  buildCrl,
  certificatePolicies,
  crlDistributionPoints,
  decodeOtherNames,
  encodeName,
  formatName,
  fromPem,
  isCrlReason,
  kCrlReasons,
  keyIdentifier,
  keyUsage,
  parseCertificate,
  serialHex,
  spkiDer,
  subjectAltName,
  subjectKeyIdentifier,
  toPem,
  type CrlReason,
  type Extension,
  type Name,
  type ParsedRdn,
  type RdnType,
} from './x509.js';

export type CertKind = 'auth' | 'sign';

export const kCaFormat = 'jpki-hil-test-ca';
export const kCaFormatVersion = 1;
export const kDefaultCrlBaseUrl = 'http://127.0.0.1:8080/crl/';

export const kCaFiles = {
  authCert: 'auth-ca.pem',
  authKey: 'auth-ca.key.pem',
  signCert: 'sign-ca.pem',
  signKey: 'sign-ca.key.pem',
  authCrl: 'auth.crl',
  signCrl: 'sign.crl',
  state: 'ca.json',
} as const;

/**
 * Policy OIDs. The auth one is jsrsasign's `jpki-cp-auth-class30` name; the sign one is the
 * test-environment OID given by the J-LIS-profile fixtures (production is `...8.5.1.1.20`),
 * chosen so a relying party configured for production policies rejects these certificates.
 */
export const kAuthPolicyOid = '1.2.392.200149.8.5.1.3.30';
export const kSignPolicyOid = '1.2.392.200149.8.5.1.0.20';
export const kSignCpsUri = 'http://www.jpki.go.jp/cps.html';

/** otherName type-ids of the signature certificate's SAN: `<arc>.1` name ... `<arc>.6` address substitute. */
export const kJpkiSanArc = '1.2.392.200149.8.5.5';
export const kSanOids = {
  name: `${kJpkiSanArc}.1`,
  nameSubstitute: `${kJpkiSanArc}.2`,
  sex: `${kJpkiSanArc}.3`,
  birth: `${kJpkiSanArc}.4`,
  // MYNA-GO's order (.5 address, .6 substitute), the one used against real cards; jsrsasign swaps them.
  address: `${kJpkiSanArc}.5`,
  addressSubstitute: `${kJpkiSanArc}.6`,
} as const;

export const kAuthCaName: Name = [
  { type: 'C', value: 'JP' },
  { type: 'O', value: 'JPKI' },
  { type: 'OU', value: 'JPKI TEST for user authentication' },
  { type: 'OU', value: 'jpki-hil TEST CA' },
];

export const kSignCaName: Name = [
  { type: 'C', value: 'JP' },
  { type: 'O', value: 'JPKI' },
  { type: 'OU', value: 'JPKI TEST for digital signature' },
  { type: 'OU', value: 'jpki-hil TEST CA' },
];

const kCaAltName: Name = [
  { type: 'C', value: 'JP' },
  { type: 'O', value: '公的個人認証サービス TEST' },
];

/**
 * Serials are allocated per CA from disjoint ranges whose top byte echoes the card EF the
 * certificate lives in (000A auth, 0001 sign), so a serial alone says which CA issued it and
 * `revokeCertificate` needs no kind argument.
 */
const kSerialRanges: Readonly<Record<CertKind, { first: bigint; end: bigint }>> = {
  auth: { first: 0x0a000001n, end: 0x0b000000n },
  sign: { first: 0x01000001n, end: 0x02000000n },
};

const kHour = 3_600_000;
const kDay = 24 * kHour;

// ---------------------------------------------------------------------------------------------
// Types

export interface RevocationRecord {
  readonly date: string;
  readonly reason: CrlReason;
}

export interface IssuedRecord {
  /** Upper-case hex, even length. */
  readonly serial: string;
  readonly kind: CertKind;
  /** Subject DN in encoding order, e.g. `C=JP, CN=3K9...`. */
  readonly subject: string;
  readonly issuedAt: string;
  readonly notBefore: string;
  readonly notAfter: string;
  revoked?: RevocationRecord;
  /** The holder's person id (certificate-holders.ts); absent in ledgers written before it existed. */
  readonly person?: string;
  /** Auth certificates: SHA-256 of the card's basic-4 span (kenhojo DF32), upper-case hex. */
  readonly cardInfoDigest?: string;
}

/** The content of ca.json. */
export interface CaState {
  format: typeof kCaFormat;
  version: typeof kCaFormatVersion;
  createdAt: string;
  crlBaseUrl: string;
  /** Key identifiers of the two CA keys: ties ca.json to the PEM files next to it. */
  caKeyIds: Record<CertKind, string>;
  nextSerial: Record<CertKind, string>;
  /** Number of the CRL last published by each CA. */
  crlNumber: Record<CertKind, number>;
  issued: IssuedRecord[];
}

export interface CaAuthority {
  readonly kind: CertKind;
  readonly name: Name;
  readonly certificate: Bytes;
  readonly key: KeyObject;
  readonly keyId: Bytes;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface TestCa {
  readonly dir: string;
  readonly auth: CaAuthority;
  readonly sign: CaAuthority;
  /** ca.json as last read or written through this handle. */
  state: CaState;
}

export interface InitCaOptions {
  readonly force?: boolean;
  readonly now?: Date;
  readonly crlBaseUrl?: string;
  /** Pre-generated RSA-2048 CA keys (tests: key generation dominates their run time). */
  readonly keys?: { readonly auth: KeyObject; readonly sign: KeyObject };
}

// ---------------------------------------------------------------------------------------------
// Files


/** A temporary file writeFileAtomic left (a killed writer): not part of the CA, not a stranger's file. */
function isTempFile(name: string): boolean {
  return parseAtomicTempName(name) !== undefined;
}

function caError(dir: string, problem: string): Error {
  return new Error(`cannot load the test CA in ${dir}: ${problem}`);
}

function readCaFile(dir: string, file: string): Buffer {
  const path = join(dir, file);
  if (!existsSync(path)) throw caError(dir, `${file} is missing`);
  try {
    return readFileSync(path);
  } catch (error) {
    throw caError(dir, `${file} cannot be read (${(error as Error).message})`);
  }
}

function writeState(dir: string, state: CaState): void {
  writeFileAtomic(join(dir, kCaFiles.state), JSON.stringify(state, null, 2) + '\n', 0o644);
  // The issuer's certificate-to-person register follows every change of the ledger, as the CRLs do.
  writeFileAtomic(join(dir, kCertificateHoldersFile), JSON.stringify(holderRegister(state.issued, formatName(kAuthCaName)), null, 2) + '\n', 0o644);
}

// ---------------------------------------------------------------------------------------------
// Validation of ca.json

function isRecordOf<T>(value: unknown, check: (v: unknown) => v is T): value is Record<CertKind, T> {
  return typeof value === 'object' && value !== null && check((value as Record<string, unknown>)['auth']) && check((value as Record<string, unknown>)['sign']);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isHex = (v: unknown): v is string => typeof v === 'string' && /^(?:[0-9A-F]{2})+$/.test(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isIsoDate = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

function checkIssued(value: unknown, index: number): string | undefined {
  if (typeof value !== 'object' || value === null) return `issued[${index}] is not an object`;
  const r = value as Record<string, unknown>;
  if (!isHex(r['serial'])) return `issued[${index}].serial is not upper-case hex`;
  if (r['kind'] !== 'auth' && r['kind'] !== 'sign') return `issued[${index}].kind is not "auth" or "sign"`;
  if (!isString(r['subject'])) return `issued[${index}].subject is not a string`;
  for (const f of ['issuedAt', 'notBefore', 'notAfter']) if (!isIsoDate(r[f])) return `issued[${index}].${f} is not a date`;
  if (r['person'] !== undefined && !isString(r['person'])) return `issued[${index}].person is not a string`;
  if (r['cardInfoDigest'] !== undefined && !isHex(r['cardInfoDigest'])) return `issued[${index}].cardInfoDigest is not upper-case hex`;
  const revoked = r['revoked'];
  if (revoked !== undefined) {
    const v = revoked as Record<string, unknown>;
    if (typeof revoked !== 'object' || revoked === null || !isIsoDate(v['date']) || !isString(v['reason']) || !isCrlReason(v['reason'])) {
      return `issued[${index}].revoked needs a date and a CRL reason name`;
    }
  }
  return undefined;
}

function parseState(dir: string, text: string): CaState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw caError(dir, `${kCaFiles.state} is not valid JSON (${(error as Error).message})`);
  }
  const bad = (what: string): Error => caError(dir, `${kCaFiles.state}: ${what}`);
  if (typeof json !== 'object' || json === null) throw bad('not a JSON object');
  const s = json as Record<string, unknown>;
  if (s['format'] !== kCaFormat) throw bad(`format is ${JSON.stringify(s['format'])}, expected "${kCaFormat}" (not a jpki-hil test CA)`);
  if (s['version'] !== kCaFormatVersion) throw bad(`version ${JSON.stringify(s['version'])} is not supported (expected ${kCaFormatVersion})`);
  if (!isIsoDate(s['createdAt'])) throw bad('createdAt is not a date');
  if (!isString(s['crlBaseUrl'])) throw bad('crlBaseUrl is not a string');
  if (!isRecordOf(s['caKeyIds'], isHex)) throw bad('caKeyIds needs auth and sign hex key identifiers');
  if (!isRecordOf(s['nextSerial'], isHex)) throw bad('nextSerial needs auth and sign hex serials');
  if (!isRecordOf(s['crlNumber'], isCount)) throw bad('crlNumber needs auth and sign counts');
  if (!Array.isArray(s['issued'])) throw bad('issued is not an array');
  s['issued'].forEach((r, i) => {
    const problem = checkIssued(r, i);
    if (problem !== undefined) throw bad(problem);
  });
  return json as CaState;
}

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

/** Re-reads ca.json before a change, so two handles in one process do not undo each other. */
function freshState(ca: TestCa): CaState {
  const state = parseState(ca.dir, readCaFile(ca.dir, kCaFiles.state).toString('utf8'));
  if (state.caKeyIds.auth !== toHex(ca.auth.keyId) || state.caKeyIds.sign !== toHex(ca.sign.keyId)) {
    throw new Error(`the test CA in ${ca.dir} was replaced after this handle loaded it; load it again`);
  }
  return state;
}

// ---------------------------------------------------------------------------------------------
// Creation

function truncateToSeconds(date: Date): Date {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
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

// ---------------------------------------------------------------------------------------------
// Identity helpers

function parseBirth(birth: string): { year: number; month: number; day: number } {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birth);
  const [year, month, day] = match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [NaN, NaN, NaN];
  const check = new Date(Date.UTC(year, month - 1, day));
  if (!match || check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
    throw new TypeError(`birth date "${birth}" is not a valid YYYY-MM-DD date`);
  }
  return { year, month, day };
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * A 29 February birthday falls on 1 March in common years. With the card rule "valid until the
 * day before", that ends validity at the close of 28 February, the moment Japanese law (民法
 * 第143条 with 年齢計算ニ関スル法律) counts the holder a year older.
 */
function birthdayIn(year: number, month: number, day: number): { month: number; day: number } {
  return month === 2 && day === 29 && !isLeapYear(year) ? { month: 3, day: 1 } : { month, day };
}

/**
 * The `count`-th birthday strictly after the (JST) issue date, as the instant 00:00 JST of that
 * day. A birthday on the issue date itself does not count (J-LIS: 「発行の日後の5回目の誕生日」).
 */
export function birthdayAfter(birth: string, issued: Date, count: number): Date {
  const b = parseBirth(birth);
  if (Number.isNaN(issued.getTime())) throw new RangeError('invalid issue Date');
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`birthday count ${count} must be a positive integer`);
  const jst = new Date(issued.getTime() + kJstOffsetMs);
  const issueYear = jst.getUTCFullYear();
  const issueKey = (jst.getUTCMonth() + 1) * 100 + jst.getUTCDate();
  const thisYear = birthdayIn(issueYear, b.month, b.day);
  const firstYear = thisYear.month * 100 + thisYear.day > issueKey ? issueYear : issueYear + 1;
  const year = firstYear + count - 1;
  const { month, day } = birthdayIn(year, b.month, b.day);
  return new Date(Date.UTC(year, month - 1, day) - kJstOffsetMs);
}

/** The birthday that ends a JPKI certificate's default validity. */
export function fifthBirthdayAfter(birth: string, issued: Date): Date {
  return birthdayAfter(birth, issued, 5);
}

/** Default card-certificate notAfter: 23:59:59 JST (14:59:59Z) of the day before `fifthBirthdayAfter`. */
export function defaultCardNotAfter(birth: string, issued: Date): Date {
  return new Date(fifthBirthdayAfter(birth, issued).getTime() - 1000);
}

/** Gregorian start dates of the eras, with the one-digit codes used in the JPKI date of birth. */
const kEras: ReadonlyArray<{ code: string; start: number }> = [
  { code: '5', start: Date.UTC(2019, 4, 1) }, // 令和
  { code: '4', start: Date.UTC(1989, 0, 8) }, // 平成
  { code: '3', start: Date.UTC(1926, 11, 25) }, // 昭和
  { code: '2', start: Date.UTC(1912, 6, 30) }, // 大正
  { code: '1', start: Date.UTC(1868, 9, 23) }, // 明治
];

/**
 * The JPKI date-of-birth value `EYYYYMMDD`: the era code of the birth date followed by the
 * Gregorian date. The reference's fixture "419900102" is 1990-01-02 with 4 = 平成, which is the
 * era of that date, so E is derived, not a constant.
 */
export function encodeJpkiBirth(birth: string): string {
  const { year, month, day } = parseBirth(birth);
  const t = Date.UTC(year, month - 1, day);
  const era = kEras.find((e) => t >= e.start);
  if (era === undefined) throw new RangeError(`birth date ${birth} is before the Meiji era`);
  return `${era.code}${birth.replace(/-/g, '')}`;
}

/** Inverse of `encodeJpkiBirth`; also accepts a bare YYYYMMDD. */
export function decodeJpkiBirth(value: string): string {
  const match = /^[1-5]?(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (!match) throw new TypeError(`"${value}" is not a JPKI date of birth (EYYYYMMDD)`);
  const birth = `${match[1]}-${match[2]}-${match[3]}`;
  parseBirth(birth);
  return birth;
}

const kPrefectures = [
  '北海道', '青森県', '岩手県', '宮城県', '秋田県', '山形県', '福島県', '茨城県', '栃木県', '群馬県', '埼玉県', '千葉県',
  '東京都', '神奈川県', '新潟県', '富山県', '石川県', '福井県', '山梨県', '長野県', '岐阜県', '静岡県', '愛知県', '三重県',
  '滋賀県', '京都府', '大阪府', '兵庫県', '奈良県', '和歌山県', '鳥取県', '島根県', '岡山県', '広島県', '山口県', '徳島県',
  '香川県', '愛媛県', '高知県', '福岡県', '佐賀県', '長崎県', '熊本県', '大分県', '宮崎県', '鹿児島県', '沖縄県',
];

function firstIndexFrom(text: string, chars: string, from: number): number {
  let best = -1;
  for (const c of chars) {
    const i = text.indexOf(c, from);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/**
 * Prefecture + municipality (市/区/町/村, or 郡+町/村) from a Japanese address, for the signature
 * certificate's L attribute. A heuristic: names like 余市郡 defeat it, so callers can pass
 * `locality` instead; it throws rather than guess when nothing fits.
 */
export function localityFromAddress(address: string): string {
  const text = address.trim().replace(/^〒?\s*\d{3}-?\d{4}\s*/, '');
  const prefecture = kPrefectures.find((p) => text.startsWith(p));
  if (prefecture === undefined) throw new TypeError(`cannot find a prefecture at the start of the address "${address}"; pass locality explicitly`);
  const rest = text.slice(prefecture.length);
  const county = /^([^市区]+?郡)([^市区]+?[町村])/.exec(rest);
  if (county) return prefecture + county[1] + county[2];
  // Index 0 is skipped so names beginning with the suffix character (市川市, 町田市) survive.
  let end = firstIndexFrom(rest, '市区', 1);
  if (end >= 0 && rest[end] === '市' && rest[end + 1] === '市') end++; // 四日市市, 廿日市市
  if (end < 0) end = firstIndexFrom(rest, '町村', 1);
  if (end < 0) throw new TypeError(`cannot find a municipality in the address "${address}"; pass locality explicitly`);
  return prefecture + rest.slice(0, end + 1);
}

const kOpaqueAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** 20 random upper-case alphanumerics: the subject CN, deliberately unrelated to the holder. */
export function opaqueId(length = 20): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // Rejection sampling keeps the 36 symbols equiprobable (252 = 7 × 36).
      if (b < 252 && out.length < length) out += kOpaqueAlphabet[b % 36];
    }
  }
  return out;
}

function checkIdentity(identity: Identity): void {
  parseBirth(identity.birth);
  if (!['1', '2', '9'].includes(identity.sex)) throw new TypeError(`sex "${identity.sex}" is not an ISO 5218 code (1, 2 or 9)`);
  if (identity.name.trim() === '') throw new TypeError('identity.name is empty');
  if (identity.address.trim() === '') throw new TypeError('identity.address is empty');
}

// ---------------------------------------------------------------------------------------------
// Issuance

export interface IssueOptions {
  readonly identity: Identity;
  readonly authKey: KeyObject;
  readonly signKey?: KeyObject | undefined;
  readonly notBefore?: Date | undefined;
  readonly notAfter?: Date | undefined;
  readonly now?: Date | undefined;
  /** L of the signature certificate; defaults to `localityFromAddress(identity.address)`. */
  readonly locality?: string | undefined;
  /** SHA-256 of the basic-4 span of the card's card-info AP, for the certificate-to-person register. */
  readonly cardInfoDigest?: string | undefined;
}

export interface IssuedCertificate {
  readonly der: Bytes;
  readonly serial: bigint;
}

export interface IssuedCard {
  readonly auth: IssuedCertificate;
  readonly sign?: IssuedCertificate;
}

function allocateSerial(state: CaState, kind: CertKind): bigint {
  const serial = BigInt('0x' + state.nextSerial[kind]);
  const range = kSerialRanges[kind];
  if (serial < range.first || serial >= range.end) throw new Error(`the ${kind} CA has run out of serial numbers; create a fresh CA with --force`);
  state.nextSerial[kind] = serialHex(serial + 1n);
  return serial;
}

function crlUrl(state: CaState, kind: CertKind): string {
  return `${state.crlBaseUrl}${kind === 'auth' ? kCaFiles.authCrl : kCaFiles.signCrl}`;
}

export function issueCardCertificates(ca: TestCa, options: IssueOptions): IssuedCard {
  const { identity } = options;
  checkIdentity(identity);
  const state = freshState(ca);
  const now = truncateToSeconds(options.now ?? new Date());
  const notBefore = truncateToSeconds(options.notBefore ?? now);
  // By default a card certificate also never outlives its CA, as a real CA would ensure.
  const defaultEnd = (authority: CaAuthority): Date => {
    const byBirthday = defaultCardNotAfter(identity.birth, notBefore);
    return byBirthday.getTime() < authority.notAfter.getTime() ? byBirthday : authority.notAfter;
  };
  const validity = (authority: CaAuthority): { notBefore: Date; notAfter: Date } => {
    const notAfter = truncateToSeconds(options.notAfter ?? defaultEnd(authority));
    if (notAfter.getTime() <= notBefore.getTime()) {
      throw new RangeError(`empty validity: notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`);
    }
    return { notBefore, notAfter };
  };
  const records: IssuedRecord[] = [];
  // The issuer knows its holders by their My Number (J-LIS by the resident record): every card of the
  // same person gets the same person id in the ledger, which is how renewals are recognised.
  const person = personIdFor(ca.auth.key, identity.myNumber);
  const record = (kind: CertKind, serial: bigint, subject: Name, v: { notBefore: Date; notAfter: Date }): void => {
    records.push({
      serial: serialHex(serial),
      kind,
      subject: formatName(subject),
      issuedAt: now.toISOString(),
      notBefore: v.notBefore.toISOString(),
      notAfter: v.notAfter.toISOString(),
      person,
      ...(kind === 'auth' && options.cardInfoDigest !== undefined ? { cardInfoDigest: options.cardInfoDigest.toUpperCase() } : {}),
    });
  };

  const authSerial = allocateSerial(state, 'auth');
  const authSubject: Name = [
    { type: 'C', value: 'JP' },
    { type: 'CN', value: opaqueId() },
  ];
  const authValidity = validity(ca.auth);
  const authDer = buildCertificate({
    serial: authSerial,
    issuer: ca.auth.name,
    subject: authSubject,
    ...authValidity,
    subjectPublicKey: options.authKey,
    issuerKey: ca.auth.key,
    extensions: [
      keyUsage(['digitalSignature'], true),
      certificatePolicies([{ oid: kAuthPolicyOid }], true),
      crlDistributionPoints([crlUrl(state, 'auth')]),
      authorityKeyIdentifier(ca.auth.keyId),
      subjectKeyIdentifier(options.authKey),
    ],
  });
  record('auth', authSerial, authSubject, authValidity);

  let sign: IssuedCertificate | undefined;
  if (options.signKey !== undefined) {
    const signSerial = allocateSerial(state, 'sign');
    const signSubject: Name = [
      { type: 'C', value: 'JP' },
      { type: 'L', value: options.locality ?? localityFromAddress(identity.address) },
      { type: 'CN', value: opaqueId() },
    ];
    const signValidity = validity(ca.sign);
    const san: Extension = subjectAltName([
      { otherName: { oid: kSanOids.name, value: identity.name } },
      { otherName: { oid: kSanOids.nameSubstitute, value: identity.nameSubstitute ?? identity.name } },
      { otherName: { oid: kSanOids.sex, value: identity.sex } },
      { otherName: { oid: kSanOids.birth, value: encodeJpkiBirth(identity.birth) } },
      { otherName: { oid: kSanOids.address, value: identity.address } },
      { otherName: { oid: kSanOids.addressSubstitute, value: identity.addressSubstitute ?? identity.address } },
    ]);
    const der = buildCertificate({
      serial: signSerial,
      issuer: ca.sign.name,
      subject: signSubject,
      ...signValidity,
      subjectPublicKey: options.signKey,
      issuerKey: ca.sign.key,
      extensions: [
        keyUsage(['digitalSignature', 'nonRepudiation'], true),
        certificatePolicies([{ oid: kSignPolicyOid, cpsUri: kSignCpsUri }], true),
        san,
        crlDistributionPoints([crlUrl(state, 'sign')]),
        authorityKeyIdentifier(ca.sign.keyId),
        subjectKeyIdentifier(options.signKey),
      ],
    });
    record('sign', signSerial, signSubject, signValidity);
    sign = { der, serial: signSerial };
  }

  state.issued.push(...records);
  writeState(ca.dir, state);
  ca.state = state;
  return sign === undefined ? { auth: { der: authDer, serial: authSerial } } : { auth: { der: authDer, serial: authSerial }, sign };
}

// ---------------------------------------------------------------------------------------------
// Revocation and CRLs

export interface CrlPublishOptions {
  readonly now?: Date | undefined;
  /** Defaults to one day after `now`. */
  readonly nextUpdate?: Date | undefined;
}

function writeCrl(ca: TestCa, state: CaState, kind: CertKind, options: CrlPublishOptions): void {
  const thisUpdate = truncateToSeconds(options.now ?? new Date());
  const nextUpdate = truncateToSeconds(options.nextUpdate ?? new Date(thisUpdate.getTime() + kDay));
  const authority = kind === 'auth' ? ca.auth : ca.sign;
  const der = buildCrl({
    issuer: authority.name,
    issuerKey: authority.key,
    thisUpdate,
    nextUpdate,
    crlNumber: BigInt(state.crlNumber[kind]),
    revoked: state.issued.flatMap((r) => (r.kind === kind && r.revoked ? [{ serial: BigInt('0x' + r.serial), date: new Date(r.revoked.date), reason: r.revoked.reason }] : [])),
  });
  writeFileAtomic(join(ca.dir, kind === 'auth' ? kCaFiles.authCrl : kCaFiles.signCrl), der, 0o644);
}

/** Re-issues both CRLs with new numbers (e.g. to refresh nextUpdate before a long test run). */
export function publishCrls(ca: TestCa, options: CrlPublishOptions = {}): void {
  const state = freshState(ca);
  state.crlNumber.auth++;
  state.crlNumber.sign++;
  // The ledger is written first: a crash afterwards leaves a stale CRL, never a reused CRL number.
  writeState(ca.dir, state);
  ca.state = state;
  writeCrl(ca, state, 'auth', options);
  writeCrl(ca, state, 'sign', options);
}

/** When each CRL file of the CA says the next one is due (its nextUpdate). */
export function crlNextUpdates(ca: TestCa): Record<CertKind, Date> {
  const read = (kind: CertKind): Date => {
    const tbs = childAt(parseDer(readFileSync(join(ca.dir, kind === 'auth' ? kCaFiles.authCrl : kCaFiles.signCrl))), 0, 'tbsCertList');
    // TBSCertList: [version] signature issuer thisUpdate [nextUpdate] ...: the time after thisUpdate.
    const times = tbs.children.filter((c) => c.tag === 0x17 || c.tag === 0x18);
    const next = times[1];
    if (next === undefined) throw new Error(`the ${kind} CRL of ${ca.dir} has no nextUpdate`);
    return decodeTime(next);
  };
  return { auth: read('auth'), sign: read('sign') };
}

/**
 * Re-publishes the CRLs when either is due within `marginMs` (default 12 h): relying parties refuse
 * a CRL past its nextUpdate, and a test CA is often left alone for days between runs.
 */
export function refreshCrlsIfStale(ca: TestCa, options: { now?: Date; marginMs?: number } = {}): boolean {
  const now = options.now ?? new Date();
  const limit = now.getTime() + (options.marginMs ?? 12 * kHour);
  const next = crlNextUpdates(ca);
  if (next.auth.getTime() > limit && next.sign.getTime() > limit) return false;
  publishCrls(ca, { now });
  return true;
}

/** Accepts a bigint or hex, with or without `0x` and byte separators ("0A000001", "0a:00:00:01"). */
function normalizeSerial(serial: bigint | string): string {
  if (typeof serial === 'bigint') {
    if (serial <= 0n) throw new RangeError(`serial ${serial} is not positive`);
    return serialHex(serial);
  }
  const compact = serial.trim().replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (!/^[0-9a-fA-F]+$/.test(compact)) throw new TypeError(`serial "${serial}" is not hexadecimal`);
  return serialHex(BigInt('0x' + compact));
}

export interface RevokeResult {
  readonly alreadyRevoked: boolean;
  readonly kind: CertKind;
  readonly serial: string;
  /** The revocation in force: the first one when the certificate was already revoked. */
  readonly revoked: RevocationRecord;
}

export function revokeCertificate(ca: TestCa, serial: bigint | string, reason: CrlReason, options: CrlPublishOptions = {}): RevokeResult {
  if (!isCrlReason(reason)) throw new TypeError(`"${String(reason)}" is not a CRL reason (one of ${Object.keys(kCrlReasons).join(', ')})`);
  if (reason === 'removeFromCRL') throw new TypeError('removeFromCRL only has meaning in delta CRLs, which this CA does not publish');
  const wanted = normalizeSerial(serial);
  const state = freshState(ca);
  const record = state.issued.find((r) => r.serial === wanted);
  if (record === undefined) throw new Error(`no certificate with serial ${wanted} was issued by the test CA in ${ca.dir}`);
  if (record.revoked !== undefined) {
    ca.state = state;
    return { alreadyRevoked: true, kind: record.kind, serial: wanted, revoked: record.revoked };
  }
  const now = truncateToSeconds(options.now ?? new Date());
  record.revoked = { date: now.toISOString(), reason };
  state.crlNumber[record.kind]++;
  writeState(ca.dir, state);
  ca.state = state;
  writeCrl(ca, state, record.kind, { now, nextUpdate: options.nextUpdate });
  return { alreadyRevoked: false, kind: record.kind, serial: wanted, revoked: record.revoked };
}

// ---------------------------------------------------------------------------------------------
// Reading back

export interface SignatureIdentity {
  readonly name: string;
  readonly nameSubstitute: string;
  readonly sex: Sex;
  /** YYYY-MM-DD. */
  readonly birth: string;
  readonly address: string;
  readonly addressSubstitute: string;
}

/** The 基本4情報 from a signature certificate's SAN; substitutes default to the plain values when absent. */
export function decodeSignatureIdentity(certDer: Uint8Array): SignatureIdentity {
  const cert = parseCertificate(certDer);
  const san = cert.extensions.find((e) => e.oid === Oid.subjectAltName);
  if (san === undefined) throw new TypeError('the certificate has no subjectAltName: not a JPKI signature certificate');
  const values = new Map(decodeOtherNames(san.value).map((o) => [o.oid, o.value]));
  const required = (field: 'name' | 'sex' | 'birth' | 'address'): string => {
    const value = values.get(kSanOids[field]);
    if (value === undefined) throw new TypeError(`the subjectAltName has no ${field} (${kSanOids[field]})`);
    return value;
  };
  const name = required('name');
  const address = required('address');
  const sex = required('sex');
  if (sex !== '1' && sex !== '2' && sex !== '9') throw new TypeError(`sex value "${sex}" is not an ISO 5218 code`);
  return {
    name,
    nameSubstitute: values.get(kSanOids.nameSubstitute) ?? name,
    sex,
    birth: decodeJpkiBirth(required('birth')),
    address,
    addressSubstitute: values.get(kSanOids.addressSubstitute) ?? address,
  };
}
