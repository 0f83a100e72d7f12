/**
 * The verification service's contract: what the portal's own flows and the public
 * /api/verify/* endpoints use to decide about a certificate or a signature. Checks run in the
 * order real relying parties use — chain, validity, signature, revocation — and stop at the first
 * failure.
 */
import type { VerificationReason } from './reasons.js';

export type VerificationCode = 'OK' | 'UNSUPPORTED_CERTIFICATE' | 'CERTIFICATE_EXPIRED' | 'SIGNATURE_MISMATCH' | 'CERTIFICATE_REVOKED';

export type CertificateKind = 'auth' | 'sign';

export type RevocationSource = 'crl' | 'ocsp';

export interface CertificateSummary {
  kind: CertificateKind;
  /** Upper-case hex. */
  serial: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
}

export interface VerificationResult {
  code: VerificationCode;
  /** One sentence for people: what was checked and why it failed. */
  detail: string;
  /** The registry's precise reason, for the refusals that have one (harness/portal/verification/reasons.ts). */
  reason?: VerificationReason;
  /** Present once the chain check has identified the certificate. */
  certificate?: CertificateSummary;
  /** Present with CERTIFICATE_REVOKED. */
  revocation?: { reason: string; date: string; source: RevocationSource };
}

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';

export interface SignatureInput {
  /** DER X.509 certificate of the signer. */
  certificate: Uint8Array;
  /** PKCS#1 v1.5 signature (RSA-2048: 256 bytes). */
  signature: Uint8Array;
  /** The signed data; the verifier hashes it with `algorithm` (default sha256). */
  data: Uint8Array;
  algorithm?: DigestAlgorithm;
  /** The certificate must be of this kind (chain to that CA); either when absent. */
  kind?: CertificateKind;
}

export interface Verifier {
  verifyCertificate(certificate: Uint8Array, options?: { kind?: CertificateKind; at?: Date }): Promise<VerificationResult>;
  verifySignature(input: SignatureInput, options?: { at?: Date }): Promise<VerificationResult>;
}
