/**
 * The detached CMS signature of a certification report (`certification.json.p7s`): SignedData
 * (RFC 5652) over SHA-256 with RSA PKCS#1 v1.5, the signed attributes content-type (id-data),
 * signing-time and message-digest, the signer's certificate and its chain included, no eContent.
 * `openssl cms -verify -binary -inform DER -in certification.json.p7s -content certification.json
 * -CAfile <CA PEM> -out /dev/null` is the independent check; `verifyDetached` is ours, for the
 * harness's own tests and for `certify` to check what it wrote.
 *
 * This module knows nothing of the test CA: the signer (certificate, key, chain) is handed in, by
 * the CLI, from the emulator's `reportSigner`, which also says which CA file verifies it
 * (`reportSignerCaFile`).
 */
import { X509Certificate, createHash, sign, verify, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { detachedSignedData, kCmsOids, signedAttributes } from '../cms/signed-data.js';

export interface DetachedSigner {
  /** DER of the signer certificate. */
  certificate: Uint8Array;
  /** Its RSA private key. */
  key: KeyObject;
  /** DER of further certificates to include (the issuing CA, intermediates). */
  chain?: Uint8Array[] | undefined;
}

export interface VerifyResult {
  ok: boolean;
  /** Why not, when not ok. */
  reason?: string;
}

export interface VerifyOptions {
  /** When the certificates must be valid; default: now (as openssl checks). */
  at?: Date | undefined;
}

export { kCmsOids };

const kKeyUsageOid = '2.5.29.15';
const kExtKeyUsageOid = '2.5.29.37';
const kEmailProtectionOid = '1.3.6.1.5.5.7.3.4';

/** Digest algorithms accepted when verifying, by OID, with their node name. */
const kDigests: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** RSA signature algorithms accepted when verifying: the hash they imply (undefined: the digest algorithm's). */
const kRsaSignatureAlgorithms: Readonly<Record<string, string | undefined>> = {
  '1.2.840.113549.1.1.1': undefined,
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

function parseCertificate(der: Uint8Array, what: string): pkijs.Certificate {
  try {
    return pkijs.Certificate.fromBER(der);
  } catch (e) {
    throw new TypeError(`${what} is not a DER X.509 certificate (${(e as Error).message})`);
  }
}

/**
 * A detached CMS SignedData (DER ContentInfo) over `content`, signed by `signer.key` with SHA-256 and
 * RSA PKCS#1 v1.5 over the signed attributes; the signer certificate and `signer.chain` are included.
 */
export function signDetached(content: Uint8Array, signer: DetachedSigner, signingTime: Date = new Date()): Uint8Array {
  if (signer.key.type !== 'private' || signer.key.asymmetricKeyType !== 'rsa') throw new TypeError('the signer key must be an RSA private key');
  const certificate = parseCertificate(signer.certificate, 'the signer certificate');
  const chain = (signer.chain ?? []).map((der, i) => parseCertificate(der, `chain[${i}]`));
  if (!new X509Certificate(signer.certificate).checkPrivateKey(signer.key)) throw new TypeError('the signer key does not belong to the signer certificate');

  const signed = signedAttributes(content, signingTime);
  return detachedSignedData([certificate, ...chain], signed, sign('sha256', signed.toBeSigned, signer.key));
}

// ---------------------------------------------------------------------------------------------
// Verification

class Refusal extends Error {}

function refuse(reason: string): never {
  throw new Refusal(reason);
}

function der(cert: pkijs.Certificate): Uint8Array {
  return new Uint8Array(cert.toSchema().toBER());
}

function describe(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

function singleAttribute(signerInfo: pkijs.SignerInfo, oid: string, name: string): unknown {
  const found = signerInfo.signedAttrs?.attributes.filter((a) => a.type === oid) ?? [];
  if (found.length !== 1 || found[0]!.values.length !== 1) refuse(`the signed attributes need exactly one ${name}`);
  return found[0]!.values[0];
}

function findSigner(signerInfo: pkijs.SignerInfo, certificates: readonly pkijs.Certificate[]): pkijs.Certificate {
  const sid = signerInfo.sid as unknown;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    const found = certificates.find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber));
    if (found) return found;
    refuse('the signer certificate (by issuer and serial number) is not in the signature');
  }
  if (sid instanceof asn1js.Primitive) {
    // [0] IMPLICIT SubjectKeyIdentifier, kept raw by pkijs: compare with each certificate's SKI extension.
    const wanted = Buffer.from(sid.valueBlock.valueHexView).toString('hex');
    const found = certificates.find((c) => {
      const ski = c.extensions?.find((e) => e.extnID === '2.5.29.14')?.parsedValue as asn1js.OctetString | undefined;
      return ski !== undefined && Buffer.from(ski.valueBlock.valueHexView).toString('hex') === wanted;
    });
    if (found) return found;
    refuse('the signer certificate (by subject key identifier) is not in the signature');
  }
  return refuse('the signer identifier is neither issuer-and-serial nor a subject key identifier');
}

function checkValidity(cert: pkijs.Certificate, x509: X509Certificate, at: Date): void {
  if (at.getTime() < cert.notBefore.value.getTime()) refuse(`the certificate ${describe(x509)} is not valid before ${cert.notBefore.value.toISOString()}`);
  if (at.getTime() > cert.notAfter.value.getTime()) refuse(`the certificate ${describe(x509)} expired at ${cert.notAfter.value.toISOString()}`);
}

/** What openssl's default purpose (smimesign) asks of the signer: digitalSignature or nonRepudiation, and emailProtection if it has an EKU. */
function checkSignerPurpose(cert: pkijs.Certificate): void {
  const ku = cert.extensions?.find((e) => e.extnID === kKeyUsageOid)?.parsedValue as asn1js.BitString | undefined;
  if (ku !== undefined) {
    const first = ku.valueBlock.valueHexView[0] ?? 0;
    if ((first & 0xc0) === 0) refuse('the signer certificate\'s key usage has neither digitalSignature nor nonRepudiation');
  }
  const eku = cert.extensions?.find((e) => e.extnID === kExtKeyUsageOid)?.parsedValue as pkijs.ExtKeyUsage | undefined;
  if (eku !== undefined && !eku.keyPurposes.includes(kEmailProtectionOid)) refuse('the signer certificate\'s extended key usage does not allow S/MIME signing (emailProtection)');
}

/** From the signer up through the included certificates to the trust anchor; every link's signature and validity checked. */
function checkChain(signer: pkijs.Certificate, included: readonly pkijs.Certificate[], trusted: readonly Uint8Array[], at: Date): void {
  const anchors = trusted.map((d) => new X509Certificate(d));
  const pool = included.map((c) => ({ cert: c, x509: new X509Certificate(der(c)) }));
  let current = { cert: signer, x509: new X509Certificate(der(signer)) };
  for (let depth = 0; depth < 8; depth++) {
    checkValidity(current.cert, current.x509, at);
    if (anchors.some((a) => a.raw.equals(current.x509.raw))) return;
    const anchor = anchors.find((a) => current.x509.checkIssued(a));
    if (anchor !== undefined) {
      if (!current.x509.verify(anchor.publicKey)) refuse(`the certificate ${describe(current.x509)} is not signed by the trusted CA's key`);
      return;
    }
    const next = pool.find((p) => !p.x509.raw.equals(current.x509.raw) && p.x509.ca && current.x509.checkIssued(p.x509) && current.x509.verify(p.x509.publicKey));
    if (next === undefined) refuse(`the certificate ${describe(current.x509)} (issuer ${current.x509.issuer.replace(/\n/g, ', ')}) does not chain to the trusted CA`);
    current = next;
  }
  refuse('the certificate chain is too long');
}

function checkSignerInfo(signerInfo: pkijs.SignerInfo, signedData: pkijs.SignedData, certificates: readonly pkijs.Certificate[], content: Uint8Array, trusted: readonly Uint8Array[], at: Date): void {
  const digestName = kDigests[signerInfo.digestAlgorithm.algorithmId];
  if (digestName === undefined) refuse(`the digest algorithm ${signerInfo.digestAlgorithm.algorithmId} is not SHA-2`);
  const signatureOid = signerInfo.signatureAlgorithm.algorithmId;
  if (!(signatureOid in kRsaSignatureAlgorithms)) refuse(`the signature algorithm ${signatureOid} is not RSA PKCS#1 v1.5`);
  const impliedHash = kRsaSignatureAlgorithms[signatureOid];
  if (impliedHash !== undefined && impliedHash !== digestName) refuse(`the signature algorithm ${signatureOid} does not match the digest algorithm ${digestName}`);
  const signer = findSigner(signerInfo, certificates);
  const signerX509 = new X509Certificate(der(signer));
  const signature = new Uint8Array(signerInfo.signature.valueBlock.valueHexView);
  const digest = createHash(digestName).update(content).digest();

  let signedBytes: Uint8Array;
  if (signerInfo.signedAttrs) {
    const contentType = singleAttribute(signerInfo, kCmsOids.contentType, 'content-type');
    if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== signedData.encapContentInfo.eContentType) {
      refuse('the content-type attribute does not match the encapsulated content type');
    }
    const messageDigest = singleAttribute(signerInfo, kCmsOids.messageDigest, 'message-digest');
    if (!(messageDigest instanceof asn1js.OctetString)) refuse('the message-digest attribute is not an OCTET STRING');
    if (!Buffer.from(messageDigest.valueBlock.valueHexView).equals(digest)) refuse('the content does not match the message digest: it was changed after signing');
    // pkijs keeps the attributes as received, re-tagged from [0] to SET: exactly what was signed.
    signedBytes = new Uint8Array(signerInfo.signedAttrs.encodedValue);
  } else {
    signedBytes = content;
  }
  if (!verify(digestName, signedBytes, signerX509.publicKey, signature)) refuse('the signature does not verify with the signer certificate\'s key');
  checkSignerPurpose(signer);
  checkChain(signer, certificates, trusted, at);
}

/**
 * Checks a detached CMS signature over `content` against the trusted CA certificate(s) (DER): the
 * message digest, the signature over the signed attributes, the signer's key usage as openssl's
 * smimesign purpose wants it, and a chain (through the certificates in the CMS) to a trusted CA,
 * every certificate valid at `options.at`. Never throws for a bad signature: it says why.
 */
export function verifyDetached(content: Uint8Array, p7s: Uint8Array, trustedCaDer: Uint8Array | readonly Uint8Array[], options: VerifyOptions = {}): VerifyResult {
  const at = options.at ?? new Date();
  const trusted = trustedCaDer instanceof Uint8Array ? [trustedCaDer] : [...trustedCaDer];
  try {
    for (const [i, t] of trusted.entries()) {
      try {
        new X509Certificate(t);
      } catch (e) {
        throw new TypeError(`trusted CA ${i} is not a DER certificate (${(e as Error).message})`);
      }
    }
    let signedData: pkijs.SignedData;
    try {
      const contentInfo = pkijs.ContentInfo.fromBER(p7s);
      if (contentInfo.contentType !== kCmsOids.signedData) refuse(`the content type is ${contentInfo.contentType}, not signedData`);
      signedData = new pkijs.SignedData({ schema: contentInfo.content });
    } catch (e) {
      if (e instanceof Refusal) throw e;
      refuse(`not a DER CMS SignedData (${(e as Error).message})`);
    }
    if (signedData.encapContentInfo.eContent) refuse('the signature is not detached: it carries its content');
    if (signedData.signerInfos.length === 0) refuse('the signature has no signer');
    const certificates = (signedData.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
    for (const signerInfo of signedData.signerInfos) checkSignerInfo(signerInfo, signedData, certificates, content, trusted, at);
    return { ok: true };
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, reason: e.message };
    throw e;
  }
}
