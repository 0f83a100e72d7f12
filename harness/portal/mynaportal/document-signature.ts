/**
 * Verifying the CMS SignedData that the signing app posts over an application document.
 *
 * A signature is believed only when both hold: the CMS itself (parsed with pkijs; detached;
 * SHA-256; the message digest equals SHA-256 of the canonical document; the signature over the
 * signed attributes verifies with the included certificate), the verification service's verdict
 * on that certificate and signature (kind 'sign': chain, validity, revocation), and the applicant
 * check: the person the signature certificate names is the applicant the document names.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { constantTimeEqual } from '../../../iso7816/bytes.js';
import { kCmsOids } from '../../cms/signed-data.js';
import type { CertificateSummary, VerificationResult } from '../verification/types.js';
import type { PortalContext } from './context.js';
import { isPortalErrorCode, kPortalErrors, PortalError, type PortalErrorCode } from './errors.js';
import { comparableText, signerIdentity } from './signer-identity.js';
import { revocationReasonText } from './views/signing-messages.js';

/** A verified signature: who signed and when they say they did. */
export interface CmsVerdict {
  certificate: CertificateSummary;
  signingTime: string;
}

/** A refusal with the verifier's extra facts (the revocation reason) for the page and the answer. */
export class SignatureRefusal extends PortalError {
  constructor(
    code: PortalErrorCode,
    detail: string,
    readonly revocation?: VerificationResult['revocation'],
  ) {
    super(code, detail);
  }
  /** The registry's message, with the revocation reason when there is one. */
  get text(): string {
    const base = kPortalErrors[this.code].message;
    return this.revocation ? `${base}（失効理由: ${revocationReasonText(this.revocation.reason)}）` : base;
  }
}

function cmsInvalid(detail: string): PortalError {
  return new PortalError('CMS_INVALID', detail);
}

const kVerifierToSign: Partial<Record<string, PortalErrorCode>> = {
  UNSUPPORTED_CERTIFICATE: 'SIGN_CERTIFICATE_UNSUPPORTED',
  CERTIFICATE_EXPIRED: 'SIGN_CERTIFICATE_EXPIRED',
  CERTIFICATE_REVOKED: 'SIGN_CERTIFICATE_REVOKED',
  SIGNATURE_MISMATCH: 'SIGN_SIGNATURE_MISMATCH',
};

function attributeValue(signerInfo: pkijs.SignerInfo, oid: string): unknown {
  const attribute = signerInfo.signedAttrs?.attributes.find((a) => a.type === oid);
  if (!attribute || attribute.values.length !== 1) throw cmsInvalid(`the signed attributes lack exactly one ${oid}`);
  return attribute.values[0];
}

/**
 * Verifies a detached CMS SignedData over `document`; throws the registry code of the first thing
 * wrong. The structure and the message digest are checked here; the signature over the signed
 * attributes, the chain, the validity and the revocation of the certificate by the verifier.
 */
export async function verifyDocumentSignature(ctx: PortalContext, cms: Uint8Array, document: Uint8Array): Promise<CmsVerdict> {
  let signedData: pkijs.SignedData;
  try {
    const contentInfo = pkijs.ContentInfo.fromBER(cms);
    if (contentInfo.contentType !== kCmsOids.signedData) throw cmsInvalid(`the content type is ${contentInfo.contentType}, not signedData`);
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch (e) {
    if (e instanceof PortalError) throw e;
    throw cmsInvalid(`not a CMS ContentInfo: ${(e as Error).message}`);
  }
  if (signedData.encapContentInfo.eContentType !== kCmsOids.data) throw cmsInvalid('the encapsulated content type is not id-data');
  if (signedData.encapContentInfo.eContent) throw cmsInvalid('the signature is not detached: it carries the content');
  if (signedData.signerInfos.length !== 1) throw cmsInvalid(`${signedData.signerInfos.length} signers, expected one`);
  const signerInfo = signedData.signerInfos[0]!;
  if (signerInfo.digestAlgorithm.algorithmId !== kCmsOids.sha256) throw cmsInvalid(`the digest algorithm is ${signerInfo.digestAlgorithm.algorithmId}, not SHA-256`);
  if (!signerInfo.signedAttrs) throw cmsInvalid('no signed attributes');
  if (!(signerInfo.sid instanceof pkijs.IssuerAndSerialNumber)) throw cmsInvalid('the signer is not named by issuer and serial number');
  const sid = signerInfo.sid;
  const certificate = (signedData.certificates ?? []).find(
    (c): c is pkijs.Certificate => c instanceof pkijs.Certificate && c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber),
  );
  if (!certificate) throw cmsInvalid('the signer certificate is not in the CMS');

  const contentType = attributeValue(signerInfo, kCmsOids.contentType);
  if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== kCmsOids.data) throw cmsInvalid('the content-type attribute is not id-data');
  const signingTime = attributeValue(signerInfo, kCmsOids.signingTime);
  if (!(signingTime instanceof asn1js.UTCTime || signingTime instanceof asn1js.GeneralizedTime)) throw cmsInvalid('the signing-time attribute is not a time');
  const messageDigest = attributeValue(signerInfo, kCmsOids.messageDigest);
  if (!(messageDigest instanceof asn1js.OctetString)) throw cmsInvalid('the message-digest attribute is not an OCTET STRING');
  const digest = createHash('sha256').update(document).digest();
  if (!constantTimeEqual(new Uint8Array(messageDigest.valueBlock.valueHexView), digest)) {
    throw new PortalError('DOCUMENT_MISMATCH', 'the message digest is not SHA-256 of the application document');
  }

  // pkijs keeps the attributes as received, re-tagged from [0] to SET: exactly what was signed.
  const signedAttributes = new Uint8Array(signerInfo.signedAttrs.encodedValue);
  const signature = new Uint8Array(signerInfo.signature.valueBlock.valueHexView);
  let result: VerificationResult;
  try {
    result = await ctx.verifier.verifySignature(
      { certificate: new Uint8Array(certificate.toSchema().toBER()), signature, data: signedAttributes, algorithm: 'sha256', kind: 'sign' },
      { at: ctx.now() },
    );
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && isPortalErrorCode(code)) throw new PortalError(code, (e as Error).message);
    throw e;
  }
  if (result.code !== 'OK') throw new SignatureRefusal(kVerifierToSign[result.code] ?? 'INTERNAL_ERROR', result.detail, result.revocation);
  if (!result.certificate) throw new PortalError('SIGN_CERTIFICATE_UNSUPPORTED', 'the verifier did not identify the certificate');
  if (!ctx.flaws.has('skip-applicant-check')) checkApplicant(certificate, document);
  return { certificate: result.certificate, signingTime: signingTime.toDate().toISOString() };
}

/**
 * A valid signature is not yet the applicant's: the person the signature certificate names (its
 * SAN, bound to the key that signed) must be the applicant the document names — same name and
 * same address, compared as people write them (comparableText) — else APPLICANT_MISMATCH.
 */
function checkApplicant(certificate: pkijs.Certificate, document: Uint8Array): void {
  let applicant: { name?: unknown; address?: unknown } | undefined;
  try {
    applicant = (JSON.parse(Buffer.from(document).toString('utf8')) as { applicant?: { name?: unknown; address?: unknown } }).applicant;
  } catch {
    applicant = undefined;
  }
  if (typeof applicant?.name !== 'string' || typeof applicant.address !== 'string') throw new PortalError('APPLICANT_MISMATCH', 'the document names no applicant');
  const signer = signerIdentity(certificate);
  if (signer.name === undefined || signer.address === undefined) throw new PortalError('APPLICANT_MISMATCH', 'the signature certificate names no person (no JPKI subjectAltName)');
  if (comparableText(signer.name) !== comparableText(applicant.name)) {
    throw new PortalError('APPLICANT_MISMATCH', `the document names the applicant ${applicant.name}, the signature certificate ${signer.name}`);
  }
  if (comparableText(signer.address) !== comparableText(applicant.address)) {
    throw new PortalError('APPLICANT_MISMATCH', `the applicant's address in the document is not the one in the signature certificate`);
  }
}
