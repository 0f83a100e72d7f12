/**
 * The test CA's state on disk: its directory layout, names and constants, the ledger ca.json
 * (what it holds and how it is checked when read) and the one way it is written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../iso7816/bytes.js';
import { parseAtomicTempName, writeFileAtomic } from '../image/image-store.js';
import { holderRegister, kCertificateHoldersFile } from './certificate-holders.js';
import { createValidator, fieldName, isObject, type Schema } from '../../common/yaml-schema.js';
import { formatName, kCrlReasons, type Name } from './x509.js';
import { kCaFormat, kCaFormatVersion, type CaState, type CertKind, type TestCa } from './ca-types.js';


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

const kHexText: Schema = { type: 'string', pattern: '^(?:[0-9A-F]{2})+$', patternWords: 'upper-case hex' };
const kTime: Schema = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}', patternWords: 'an ISO time (2026-04-01T00:00:00.000Z)' };
const kPerKind = (schema: Schema): Schema => ({ type: 'object', required: ['auth', 'sign'], properties: { auth: schema, sign: schema } });

/** ca.json's shape, checked before anything is read from it. */
export const kCaStateSchema: Schema = {
  type: 'object',
  required: ['format', 'version', 'createdAt', 'crlBaseUrl', 'caKeyIds', 'nextSerial', 'crlNumber', 'issued'],
  properties: {
    format: { const: kCaFormat },
    version: { const: kCaFormatVersion },
    createdAt: kTime,
    crlBaseUrl: { type: 'string' },
    caKeyIds: kPerKind(kHexText),
    nextSerial: kPerKind(kHexText),
    crlNumber: kPerKind({ type: 'integer', minimum: 0 }),
    issued: {
      type: 'array',
      items: {
        type: 'object',
        required: ['serial', 'kind', 'subject', 'issuedAt', 'notBefore', 'notAfter'],
        properties: {
          serial: kHexText,
          kind: { enum: ['auth', 'sign'] },
          subject: { type: 'string' },
          issuedAt: kTime,
          notBefore: kTime,
          notAfter: kTime,
          person: { type: 'string' },
          cardInfoDigest: kHexText,
          revoked: { type: 'object', required: ['date', 'reason'], properties: { date: kTime, reason: { enum: Object.keys(kCrlReasons) } } },
        },
      },
    },
  },
};

const validateState = createValidator(kCaStateSchema, { schemaName: 'the ca.json schema' });

export function parseState(dir: string, text: string): CaState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw caError(dir, `${kCaFiles.state} is not valid JSON (${(error as Error).message})`);
  }
  const bad = (what: string): Error => caError(dir, `${kCaFiles.state}: ${what}`);
  // Not a test CA at all, or one of another version: said before any field.
  if (!isObject(json)) throw bad('not a JSON object');
  if (json.format !== kCaFormat) throw bad(`format is ${JSON.stringify(json.format)}, expected "${kCaFormat}" (not a jpki-hil test CA)`);
  if (json.version !== kCaFormatVersion) throw bad(`version ${JSON.stringify(json.version)} is not supported (expected ${kCaFormatVersion})`);
  const problems: string[] = [];
  validateState(json, (path, message, hint) => problems.push(`${fieldName(path)}: ${message}${hint ? ` (${hint})` : ''}`));
  if (problems.length > 0) throw bad(problems.join('; '));
  return json as unknown as CaState;
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
