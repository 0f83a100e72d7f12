/**
 * The test CA's state on disk: its directory layout, names and constants, the ledger ca.json
 * (what it holds and how it is checked when read) and the one way it is written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../iso7816/bytes.js';
import { parseAtomicTempName, writeFileAtomic } from '../image/image-store.js';
import { holderRegister, kCertificateHoldersFile } from './certificate-holders.js';
import { formatName, isCrlReason, type Name } from './x509.js';
import { kCaFormat, kCaFormatVersion, type CaState, type CertKind, type TestCa } from './ca-types.js';

export { kCaFormat, kCaFormatVersion } from './ca-types.js';
export type { CaAuthority, CaState, CertKind, InitCaOptions, IssuedRecord, RevocationRecord, TestCa } from './ca-types.js';

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

export const kCaAltName: Name = [
  { type: 'C', value: 'JP' },
  { type: 'O', value: '公的個人認証サービス TEST' },
];

/**
 * Serials are allocated per CA from disjoint ranges whose top byte echoes the card EF the
 * certificate lives in (000A auth, 0001 sign), so a serial alone says which CA issued it and
 * `revokeCertificate` needs no kind argument.
 */
export const kSerialRanges: Readonly<Record<CertKind, { first: bigint; end: bigint }>> = {
  auth: { first: 0x0a000001n, end: 0x0b000000n },
  sign: { first: 0x01000001n, end: 0x02000000n },
};

export const kHour = 3_600_000;
export const kDay = 24 * kHour;

// ---------------------------------------------------------------------------------------------
// Files

/** A temporary file writeFileAtomic left (a killed writer): not part of the CA, not a stranger's file. */
export function isTempFile(name: string): boolean {
  return parseAtomicTempName(name) !== undefined;
}

export function caError(dir: string, problem: string): Error {
  return new Error(`cannot load the test CA in ${dir}: ${problem}`);
}

export function readCaFile(dir: string, file: string): Buffer {
  const path = join(dir, file);
  if (!existsSync(path)) throw caError(dir, `${file} is missing`);
  try {
    return readFileSync(path);
  } catch (error) {
    throw caError(dir, `${file} cannot be read (${(error as Error).message})`);
  }
}

export function writeState(dir: string, state: CaState): void {
  writeFileAtomic(join(dir, kCaFiles.state), JSON.stringify(state, null, 2) + '\n', 0o644);
  // The issuer's certificate-to-person register follows every change of the ledger, as the CRLs do.
  writeFileAtomic(join(dir, kCertificateHoldersFile), JSON.stringify(holderRegister(state.issued, formatName(kAuthCaName)), null, 2) + '\n', 0o644);
}

// ---------------------------------------------------------------------------------------------
// Validation of ca.json

export function isRecordOf<T>(value: unknown, check: (v: unknown) => v is T): value is Record<CertKind, T> {
  return typeof value === 'object' && value !== null && check((value as Record<string, unknown>)['auth']) && check((value as Record<string, unknown>)['sign']);
}

export const isString = (v: unknown): v is string => typeof v === 'string';
export const isHex = (v: unknown): v is string => typeof v === 'string' && /^(?:[0-9A-F]{2})+$/.test(v);
export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
export const isIsoDate = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

export function checkIssued(value: unknown, index: number): string | undefined {
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

export function parseState(dir: string, text: string): CaState {
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

/** Re-reads ca.json before a change, so two handles in one process do not undo each other. */
export function freshState(ca: TestCa): CaState {
  const state = parseState(ca.dir, readCaFile(ca.dir, kCaFiles.state).toString('utf8'));
  if (state.caKeyIds.auth !== toHex(ca.auth.keyId) || state.caKeyIds.sign !== toHex(ca.sign.keyId)) {
    throw new Error(`the test CA in ${ca.dir} was replaced after this handle loaded it; load it again`);
  }
  return state;
}

export function truncateToSeconds(date: Date): Date {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
