/**
 * What the verifier needs to know about one certificate, read once: node:crypto's view (for
 * issuer and signature checks, which OpenSSL does well) and pkijs's (for the extensions node does
 * not expose: key usage bits, CRL distribution points, the OCSP address).
 */
import { X509Certificate, createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { toHex } from '../../../iso7816/bytes.js';
import { VerificationInputError } from './errors.js';

const kOid = {
  keyUsage: '2.5.29.15',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  certificatePolicies: '2.5.29.32',
  ocspAccess: '1.3.6.1.5.5.7.48.1',
} as const;

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3) the JPKI kinds need. */
export const kKeyUsageBits = { digitalSignature: 0, nonRepudiation: 1 } as const;
export type KeyUsageName = keyof typeof kKeyUsageBits;

/**
 * Extensions whose meaning this verifier implements or that constrain nothing it does; any other
 * one marked critical makes the certificate unusable (RFC 5280 §4.2).
 */
const kUnderstoodCertificateExtensions: readonly string[] = [
  '2.5.29.15', // keyUsage: checked per kind
  '2.5.29.19', // basicConstraints
  '2.5.29.32', // certificatePolicies: checked per kind
  '2.5.29.17', // subjectAltName: the signature certificate's basic 4
  '2.5.29.31', // cRLDistributionPoints: where the CRL is fetched
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess: where OCSP is asked
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.14', // subjectKeyIdentifier
];

/** The critical extensions among `oids` that this verifier does not process. */
export function unknownCriticalExtensions(critical: readonly string[]): string[] {
  return critical.filter((oid) => !kUnderstoodCertificateExtensions.includes(oid));
}

/** GeneralName uniformResourceIdentifier. */
const kUriName = 6;

export interface CertificateFacts {
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly pki: pkijs.Certificate;
  /** Upper-case hex, whole bytes: the form ca.json, openssl and the portal's store use. */
  readonly serial: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** undefined when the certificate has no keyUsage extension (RFC 5280: then any use is allowed). */
  hasKeyUsage(usage: KeyUsageName): boolean | undefined;
  readonly crlUrls: readonly string[];
  readonly ocspUrls: readonly string[];
  /** The outer signatureAlgorithm and the one inside tbsCertificate (RFC 5280 §4.1.1.2: must be equal). */
  readonly signatureAlgorithms: { readonly outer: string; readonly inner: string };
  /** OIDs of the extensions marked critical. */
  readonly criticalExtensions: readonly string[];
  /** Policy OIDs of the certificatePolicies extension; empty without one. */
  readonly policies: readonly string[];
}

/** Whole-byte upper-case hex of a non-negative serial, without redundant leading zero bytes. */
export function normalizeSerial(hex: string): string {
  const value = BigInt('0x' + (hex === '' ? '0' : hex));
  const text = value.toString(16).toUpperCase();
  return text.length % 2 === 0 ? text : '0' + text;
}

/** node prints a DN one attribute per line; the portal shows it the way ca.json does. */
function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

function keyUsageBits(cert: pkijs.Certificate): Uint8Array | undefined {
  const ext = extension(cert, kOid.keyUsage);
  if (ext === undefined) return undefined;
  const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.BitString)) throw new VerificationInputError('the keyUsage extension is not a BIT STRING');
  return parsed.result.valueBlock.valueHexView;
}

function uris(names: readonly pkijs.GeneralName[] | undefined): string[] {
  return (names ?? []).filter((n) => n.type === kUriName && typeof n.value === 'string').map((n) => n.value as string);
}

function crlUrls(cert: pkijs.Certificate): string[] {
  const parsed = extension(cert, kOid.crlDistributionPoints)?.parsedValue;
  if (!(parsed instanceof pkijs.CRLDistributionPoints)) return [];
  // Only full names: a nameRelativeToCRLIssuer needs a directory, which relying parties here lack.
  return parsed.distributionPoints.flatMap((p) => (Array.isArray(p.distributionPoint) ? uris(p.distributionPoint) : []));
}

function ocspUrls(cert: pkijs.Certificate): string[] {
  const parsed = extension(cert, kOid.authorityInfoAccess)?.parsedValue;
  if (!(parsed instanceof pkijs.InfoAccess)) return [];
  return parsed.accessDescriptions.filter((d) => d.accessMethod === kOid.ocspAccess).flatMap((d) => uris([d.accessLocation]));
}

function policies(cert: pkijs.Certificate): string[] {
  const parsed = extension(cert, kOid.certificatePolicies)?.parsedValue;
  return parsed instanceof pkijs.CertificatePolicies ? parsed.certificatePolicies.map((p) => p.policyIdentifier) : [];
}

/**
 * Facts of the certificates seen lately, by the SHA-256 of their DER: a card presents the same
 * certificate at every login, and parsing it (asn1js, pkijs, OpenSSL) costs more than the login's
 * signature check. Only the parse is kept — every check (chain, validity, signature, revocation)
 * still runs on every login. Bounded, least recently used first out.
 */
const kFactsCacheSize = 1024;
const factsCache = new Map<string, CertificateFacts>();

/** Reads a DER certificate; anything else (PEM, trailing bytes, garbage) is an input error. */
export function readCertificate(der: Uint8Array): CertificateFacts {
  const key = createHash('sha256').update(der).digest('base64');
  const known = factsCache.get(key);
  if (known) {
    factsCache.delete(key);
    factsCache.set(key, known);
    return known;
  }
  const facts = parseCertificate(Uint8Array.from(der));
  factsCache.set(key, facts);
  if (factsCache.size > kFactsCacheSize) factsCache.delete(factsCache.keys().next().value!);
  return facts;
}

function parseCertificate(der: Uint8Array): CertificateFacts {
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1) throw new VerificationInputError(`the certificate is not DER (${asn1.result.error || 'undecodable'})`);
  if (asn1.offset !== der.length) throw new VerificationInputError(`the certificate is followed by ${der.length - asn1.offset} extra bytes`);
  let pki: pkijs.Certificate;
  let x509: X509Certificate;
  try {
    pki = new pkijs.Certificate({ schema: asn1.result });
    x509 = new X509Certificate(der);
  } catch (e) {
    throw new VerificationInputError(`not an X.509 certificate (${(e as Error).message})`);
  }
  const bits = keyUsageBits(pki);
  return {
    der,
    x509,
    pki,
    serial: normalizeSerial(toHex(pki.serialNumber.valueBlock.valueHexView)),
    subject: oneLine(x509.subject),
    issuer: oneLine(x509.issuer),
    notBefore: pki.notBefore.value,
    notAfter: pki.notAfter.value,
    hasKeyUsage: (usage) => {
      if (bits === undefined) return undefined;
      const bit = kKeyUsageBits[usage];
      return ((bits[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0;
    },
    crlUrls: crlUrls(pki),
    ocspUrls: ocspUrls(pki),
    signatureAlgorithms: { outer: pki.signatureAlgorithm.algorithmId, inner: pki.signature.algorithmId },
    criticalExtensions: (pki.extensions ?? []).filter((e) => e.critical).map((e) => e.extnID),
    policies: policies(pki),
  };
}
