/**
 * X.509 v3 certificates and v2 CRLs, built with our own DER encoder and signed with node:crypto
 * (sha256WithRSAEncryption, PKCS#1 v1.5). Only what the JPKI-shaped test CA needs, plus a reader
 * for the same structures so tests and `card show` need no third-party parser.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { fromBase64, toBase64, toHex, type Bytes } from '../../iso7816/bytes.js';
import {
  Tag,
  childAt,
  decodeBitString,
  decodeBoolean,
  decodeInteger,
  decodeOctetString,
  decodeOid,
  decodeString,
  decodeTime,
  derBitString,
  derBoolean,
  derContextPrimitive,
  derEnumerated,
  derExplicit,
  derIa5String,
  derImplicit,
  derInteger,
  derNamedBits,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derUtf8String,
  isPrintableString,
  parseDer,
  type DerNode,
} from './der.js';

export const Oid = {
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  rsaEncryption: '1.2.840.113549.1.1.1',
  countryName: '2.5.4.6',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  commonName: '2.5.4.3',
  localityName: '2.5.4.7',
  stateOrProvinceName: '2.5.4.8',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  crlReason: '2.5.29.21',
  cRLDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  cpsQualifier: '1.3.6.1.5.5.7.2.1',
} as const;

// ---------------------------------------------------------------------------------------------
// Names

export type RdnType = 'C' | 'O' | 'OU' | 'CN' | 'L' | 'ST';

export interface Rdn {
  readonly type: RdnType;
  readonly value: string;
}

/** An ordered list of single-attribute RDNs, encoded in the order given (JPKI writes C first). */
export type Name = readonly Rdn[];

const kRdnOids: Readonly<Record<RdnType, string>> = {
  C: Oid.countryName,
  O: Oid.organizationName,
  OU: Oid.organizationalUnitName,
  CN: Oid.commonName,
  L: Oid.localityName,
  ST: Oid.stateOrProvinceName,
};

const kRdnTypesByOid: ReadonlyMap<string, RdnType> = new Map(Object.entries(kRdnOids).map(([k, v]) => [v, k as RdnType]));

export function encodeName(name: Name): Bytes {
  return derSequence(
    ...name.map(({ type, value }) => {
      const oid = kRdnOids[type];
      if (oid === undefined) throw new TypeError(`unsupported RDN type "${String(type)}"`);
      if (value.length === 0) throw new TypeError(`empty ${type} value in a Name`);
      if (type === 'C' && !/^[A-Z]{2}$/.test(value)) throw new TypeError(`C must be a two-letter country code, got "${value}"`);
      // RFC 5280 wants UTF8String; PrintableString for plain ASCII matches what CAs (J-LIS included) write.
      const text = isPrintableString(value) ? derPrintableString(value) : derUtf8String(value);
      return derSet(derSequence(derOid(oid), text));
    }),
  );
}

/** RDNs of a decoded Name; attribute types we do not name are given as dotted OIDs. */
export interface ParsedRdn {
  readonly type: RdnType | string;
  readonly value: string;
}

export function decodeName(node: DerNode): ParsedRdn[] {
  if (node.tag !== Tag.SEQUENCE) throw new TypeError(`Name at offset ${node.offset} is not a SEQUENCE`);
  return node.children.flatMap((set) =>
    set.children.map((atv) => {
      const oid = decodeOid(childAt(atv, 0, 'attribute type'));
      return { type: kRdnTypesByOid.get(oid) ?? oid, value: decodeString(childAt(atv, 1, 'attribute value')) };
    }),
  );
}

/** `C=JP, O=JPKI, ...` in encoding order, like `openssl x509 -text` (RFC 4514 strings would reverse it). */
export function formatName(name: readonly ParsedRdn[]): string {
  return name.map((r) => `${r.type}=${r.value}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Keys

function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** SubjectPublicKeyInfo DER of a public or private key. */
export function spkiDer(key: KeyObject): Bytes {
  return Uint8Array.from(publicKeyOf(key).export({ type: 'spki', format: 'der' }));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING content (without the unused-bits octet). */
export function keyIdentifier(key: KeyObject): Bytes {
  const spki = parseDer(spkiDer(key));
  const { bytes } = decodeBitString(childAt(spki, 1, 'subjectPublicKey'));
  return Uint8Array.from(createHash('sha1').update(bytes).digest());
}

function requireRsaPrivate(key: KeyObject, what: string): void {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') {
    throw new TypeError(`${what} must be an RSA private KeyObject (got ${key.type} ${key.asymmetricKeyType ?? ''})`);
  }
}

const kSignatureAlgorithm = derSequence(derOid(Oid.sha256WithRSAEncryption), derNull());

function signTbs(tbs: Uint8Array, issuerKey: KeyObject): Bytes {
  const signature = sign('sha256', tbs, issuerKey);
  return derSequence(tbs, kSignatureAlgorithm, derBitString(Uint8Array.from(signature)));
}

// ---------------------------------------------------------------------------------------------
// Extensions

export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  /** DER of the extension value (the content of extnValue's OCTET STRING). */
  readonly value: Bytes;
}

function encodeExtensions(extensions: readonly Extension[]): Bytes {
  const seen = new Set<string>();
  return derSequence(
    ...extensions.map((e) => {
      if (seen.has(e.oid)) throw new TypeError(`extension ${e.oid} appears twice (RFC 5280 §4.2)`);
      seen.add(e.oid);
      // DER omits a BOOLEAN equal to its DEFAULT, so `critical` is written only when true.
      return derSequence(derOid(e.oid), ...(e.critical ? [derBoolean(true)] : []), derOctetString(e.value));
    }),
  );
}

export function basicConstraints(options: { ca: boolean; pathLength?: number; critical?: boolean }): Extension {
  const parts: Uint8Array[] = [];
  if (options.ca) parts.push(derBoolean(true));
  if (options.pathLength !== undefined) {
    if (!options.ca) throw new TypeError('pathLength is only meaningful with ca: true');
    parts.push(derInteger(options.pathLength));
  }
  return { oid: Oid.basicConstraints, critical: options.critical ?? true, value: derSequence(...parts) };
}

export const kKeyUsageBits = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

export type KeyUsageName = keyof typeof kKeyUsageBits;

export function keyUsage(usages: readonly KeyUsageName[], critical = true): Extension {
  if (usages.length === 0) throw new TypeError('keyUsage needs at least one usage (RFC 5280 §4.2.1.3)');
  return { oid: Oid.keyUsage, critical, value: derNamedBits(usages.map((u) => kKeyUsageBits[u])) };
}

export function subjectKeyIdentifier(subjectPublicKey: KeyObject): Extension {
  return { oid: Oid.subjectKeyIdentifier, critical: false, value: derOctetString(keyIdentifier(subjectPublicKey)) };
}

/** keyIdentifier form only; pass the issuer's key (public or private) or its key identifier. */
export function authorityKeyIdentifier(issuer: KeyObject | Uint8Array): Extension {
  const id = issuer instanceof Uint8Array ? issuer : keyIdentifier(issuer);
  return { oid: Oid.authorityKeyIdentifier, critical: false, value: derSequence(derContextPrimitive(0, id)) };
}

export interface PolicyInfo {
  readonly oid: string;
  /** URI of the certification practice statement, as an id-qt-cps qualifier. */
  readonly cpsUri?: string | undefined;
}

export function certificatePolicies(policies: readonly PolicyInfo[], critical = false): Extension {
  if (policies.length === 0) throw new TypeError('certificatePolicies needs at least one policy');
  return {
    oid: Oid.certificatePolicies,
    critical,
    value: derSequence(
      ...policies.map((p) =>
        derSequence(
          derOid(p.oid),
          ...(p.cpsUri === undefined ? [] : [derSequence(derSequence(derOid(Oid.cpsQualifier), derIa5String(p.cpsUri)))]),
        ),
      ),
    ),
  };
}

/** One DistributionPoint per URI, each with a `fullName` holding a uniformResourceIdentifier. */
export function crlDistributionPoints(uris: readonly string[]): Extension {
  return {
    oid: Oid.cRLDistributionPoints,
    critical: false,
    // distributionPoint [0] is EXPLICIT (DistributionPointName is a CHOICE); fullName [0] is IMPLICIT GeneralNames.
    value: derSequence(...uris.map((uri) => derSequence(derExplicit(0, derImplicit(0, derSequence(uriGeneralName(uri))))))),
  };
}

export type GeneralName =
  | { readonly otherName: { readonly oid: string; readonly value: string } }
  | { readonly directoryName: Name }
  | { readonly uri: string };

function uriGeneralName(uri: string): Bytes {
  return derImplicit(6, derIa5String(uri));
}

function encodeGeneralName(name: GeneralName): Bytes {
  if ('otherName' in name) {
    // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }, itself under [0] IMPLICIT;
    // JPKI puts a UTF8String in the ANY (MYNA-GO parses exactly this shape).
    return derImplicit(0, derSequence(derOid(name.otherName.oid), derExplicit(0, derUtf8String(name.otherName.value))));
  }
  if ('directoryName' in name) return derExplicit(4, encodeName(name.directoryName)); // Name is a CHOICE: explicit
  return uriGeneralName(name.uri);
}

export function subjectAltName(names: readonly GeneralName[], critical = false): Extension {
  if (names.length === 0) throw new TypeError('subjectAltName needs at least one name');
  return { oid: Oid.subjectAltName, critical, value: derSequence(...names.map(encodeGeneralName)) };
}

// ---------------------------------------------------------------------------------------------
// Certificates

export interface CertificateOptions {
  readonly serial: bigint;
  readonly issuer: Name;
  readonly subject: Name;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Public (or private: its public half is used) key of the subject. */
  readonly subjectPublicKey: KeyObject;
  readonly issuerKey: KeyObject;
  readonly extensions: readonly Extension[];
}

function checkSerial(serial: bigint): void {
  // RFC 5280 §4.1.2.2: positive, at most 20 octets.
  if (serial <= 0n || serial >= 1n << 159n) throw new RangeError(`serial ${serial} must be positive and fit in 20 octets`);
}

export function buildCertificate(options: CertificateOptions): Bytes {
  checkSerial(options.serial);
  requireRsaPrivate(options.issuerKey, 'issuerKey');
  if (options.notAfter.getTime() < options.notBefore.getTime()) throw new RangeError('notAfter is before notBefore');
  const tbs = derSequence(
    derExplicit(0, derInteger(2)), // v3
    derInteger(options.serial),
    kSignatureAlgorithm,
    encodeName(options.issuer),
    derSequence(derTime(options.notBefore), derTime(options.notAfter)),
    encodeName(options.subject),
    spkiDer(options.subjectPublicKey),
    ...(options.extensions.length > 0 ? [derExplicit(3, encodeExtensions(options.extensions))] : []),
  );
  return signTbs(tbs, options.issuerKey);
}

export interface ParsedExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Bytes;
}

export interface ParsedCertificate {
  readonly serial: bigint;
  readonly issuer: ParsedRdn[];
  readonly subject: ParsedRdn[];
  /** The encoded subject Name: what an issued certificate's issuer field must equal byte for byte. */
  readonly subjectDer: Bytes;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Bytes;
  readonly extensions: ParsedExtension[];
  readonly tbs: Bytes;
  readonly signature: Bytes;
}

function parseExtensions(node: DerNode | undefined): ParsedExtension[] {
  if (node === undefined) return [];
  return childAt(node, 0, 'extensions').children.map((ext) => {
    const hasCritical = ext.children.length === 3;
    return {
      oid: decodeOid(childAt(ext, 0, 'extnID')),
      critical: hasCritical ? decodeBoolean(childAt(ext, 1)) : false,
      value: decodeOctetString(childAt(ext, hasCritical ? 2 : 1, 'extnValue')),
    };
  });
}

/** Reads the fields of a certificate; does not verify the signature. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const cert = parseDer(der);
  const tbs = childAt(cert, 0, 'tbsCertificate');
  let i = 0;
  if (tbs.children[0]?.tag === 0xa0) i++;
  const serial = decodeInteger(childAt(tbs, i++, 'serialNumber'));
  i++; // signature algorithm
  const issuer = decodeName(childAt(tbs, i++, 'issuer'));
  const validity = childAt(tbs, i++, 'validity');
  const subjectNode = childAt(tbs, i++, 'subject');
  const subject = decodeName(subjectNode);
  const spki = childAt(tbs, i++, 'subjectPublicKeyInfo').encoded;
  const extensions = parseExtensions(tbs.children.slice(i).find((c) => c.tag === 0xa3));
  return {
    serial,
    issuer,
    subject,
    subjectDer: subjectNode.encoded,
    notBefore: decodeTime(childAt(validity, 0, 'notBefore')),
    notAfter: decodeTime(childAt(validity, 1, 'notAfter')),
    spki,
    extensions,
    tbs: tbs.encoded,
    signature: decodeBitString(childAt(cert, 2, 'signatureValue')).bytes,
  };
}

/** The value of a decoded otherName whose content is a single string, as JPKI uses them. */
export interface ParsedOtherName {
  readonly oid: string;
  readonly value: string;
}

/** otherName entries of a subjectAltName extension value; other GeneralName kinds are skipped. */
export function decodeOtherNames(sanValue: Uint8Array): ParsedOtherName[] {
  return parseDer(sanValue)
    .children.filter((gn) => gn.tag === 0xa0)
    .map((gn) => ({ oid: decodeOid(childAt(gn, 0, 'type-id')), value: decodeString(childAt(childAt(gn, 1, 'otherName value'), 0, 'otherName string')) }));
}

export function serialHex(serial: bigint): string {
  const hex = serial.toString(16).toUpperCase();
  return hex.length % 2 === 0 ? hex : '0' + hex;
}

// ---------------------------------------------------------------------------------------------
// CRLs

/** RFC 5280 §5.3.1 CRLReason values (7 is unused). */
export const kCrlReasons = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type CrlReason = keyof typeof kCrlReasons;

export function isCrlReason(text: string): text is CrlReason {
  return Object.prototype.hasOwnProperty.call(kCrlReasons, text);
}

export interface RevokedEntry {
  readonly serial: bigint;
  readonly date: Date;
  readonly reason: CrlReason;
}

export interface CrlOptions {
  readonly issuer: Name;
  readonly issuerKey: KeyObject;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly crlNumber: bigint;
  readonly revoked: readonly RevokedEntry[];
}

export function buildCrl(options: CrlOptions): Bytes {
  requireRsaPrivate(options.issuerKey, 'issuerKey');
  if (options.crlNumber < 0n || options.crlNumber >= 1n << 159n) throw new RangeError(`CRL number ${options.crlNumber} must be 0..2^159 (RFC 5280 §5.2.3)`);
  if (options.nextUpdate.getTime() < options.thisUpdate.getTime()) throw new RangeError('nextUpdate is before thisUpdate');
  const entries = options.revoked.map((r) => {
    checkSerial(r.serial);
    const code = kCrlReasons[r.reason];
    if (code === undefined) throw new TypeError(`unknown CRL reason "${String(r.reason)}"`);
    // RFC 5280 §5.3.1: the reasonCode entry extension SHOULD be absent rather than say "unspecified".
    const extensions = code === 0 ? [] : [encodeExtensions([{ oid: Oid.crlReason, critical: false, value: derEnumerated(code) }])];
    return derSequence(derInteger(r.serial), derTime(r.date), ...extensions);
  });
  const tbs = derSequence(
    derInteger(1), // v2
    kSignatureAlgorithm,
    encodeName(options.issuer),
    derTime(options.thisUpdate),
    derTime(options.nextUpdate),
    // An empty revokedCertificates must be omitted, not encoded as an empty SEQUENCE.
    ...(entries.length > 0 ? [derSequence(...entries)] : []),
    derExplicit(
      0,
      encodeExtensions([
        authorityKeyIdentifier(options.issuerKey),
        { oid: Oid.crlNumber, critical: false, value: derInteger(options.crlNumber) },
      ]),
    ),
  );
  return signTbs(tbs, options.issuerKey);
}

// ---------------------------------------------------------------------------------------------
// PEM

export function toPem(der: Uint8Array, label: string): string {
  const body = toBase64(der).replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** The first PEM block of `text` (optionally the first with `label`), decoded. */
export function fromPem(text: string, label?: string): Bytes {
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const match of text.matchAll(pattern)) {
    if (label !== undefined && match[1] !== label) continue;
    const body = (match[2] ?? '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw new TypeError(`PEM block "${match[1]}" has invalid base64`);
    return fromBase64(body);
  }
  throw new TypeError(label === undefined ? 'no PEM block found' : `no "${label}" PEM block found`);
}

/** Hex of a SHA-256 over DER: a stable short name for a certificate in logs and JSON. */
export function fingerprint(der: Uint8Array): string {
  return toHex(Uint8Array.from(createHash('sha256').update(der).digest()));
}
