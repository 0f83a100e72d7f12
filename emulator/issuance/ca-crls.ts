/**
 * Revocation and CRLs: each CA's CRL written from the ledger, re-published on demand or when
 * stale, and certificates revoked with a reason.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../image/image-store.js';
import type { Sex } from './identity.js';
import { childAt, decodeTime, parseDer } from './der.js';
import { Oid, buildCrl, decodeOtherNames, isCrlReason, kCrlReasons, parseCertificate, serialHex, type CrlReason } from './x509.js';
import type { CaState, CertKind, RevocationRecord, TestCa } from './ca-types.js';
import { freshState, kCaFiles, kDay, kHour, kSanOids, truncateToSeconds, writeState } from './ca-state.js';
import { decodeJpkiBirth } from './jpki-identity.js';

export interface CrlPublishOptions {
  readonly now?: Date | undefined;
  /** Defaults to one day after `now`. */
  readonly nextUpdate?: Date | undefined;
}

export function writeCrl(ca: TestCa, state: CaState, kind: CertKind, options: CrlPublishOptions): void {
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
export function normalizeSerial(serial: bigint | string): string {
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
