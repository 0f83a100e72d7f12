/**
 * Issuance of a card's two certificates (authentication, signature) with the JPKI extension
 * profile, recorded in the ledger and in the certificate-holder register.
 */
import { type KeyObject } from 'node:crypto';
import { type Bytes } from '../../iso7816/bytes.js';
import type { Identity } from './identity.js';
import { personIdFor } from './certificate-holders.js';
import {
  authorityKeyIdentifier,
  buildCertificate,
  certificatePolicies,
  crlDistributionPoints,
  formatName,
  keyUsage,
  serialHex,
  subjectAltName,
  subjectKeyIdentifier,
  type Extension,
  type Name,
} from './x509.js';
import type { CaAuthority, CaState, CertKind, IssuedRecord, TestCa } from './ca-types.js';
import { freshState, kAuthPolicyOid, kCaFiles, kSanOids, kSerialRanges, kSignCpsUri, kSignPolicyOid, truncateToSeconds, writeState } from './ca-state.js';
import { checkIdentity, defaultCardNotAfter, encodeJpkiBirth, localityFromAddress, opaqueId } from './jpki-identity.js';

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

export function allocateSerial(state: CaState, kind: CertKind): bigint {
  const serial = BigInt('0x' + state.nextSerial[kind]);
  const range = kSerialRanges[kind];
  if (serial < range.first || serial >= range.end) throw new Error(`the ${kind} CA has run out of serial numbers; create a fresh CA with --force`);
  state.nextSerial[kind] = serialHex(serial + 1n);
  return serial;
}

export function crlUrl(state: CaState, kind: CertKind): string {
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

