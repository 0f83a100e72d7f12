/**
 * The verification service: decides about a certificate, or a signature made with its key, in the
 * order relying parties use (PocketSign's Verify API, portal reference §1.2) — chain, validity,
 * signature, revocation — and stops at the first failure, so that each result code means exactly
 * one thing. It trusts the test CA through its certificates (trust anchors) and its CRLs or OCSP
 * over HTTP, never through the card or the CA's files.
 */
import { constants, verify } from 'node:crypto';
import { readCertificate, unknownCriticalExtensions, type CertificateFacts, type KeyUsageName } from './certificate-facts.js';
import { CrlChecker } from './crl-checker.js';
import { VerificationInputError } from './errors.js';
import type { FetchFunction } from './fetch-binary.js';
import { OcspChecker } from './ocsp-checker.js';
import { kCaNames, type RevocationChecker } from './revocation-status.js';
import { isAcceptedSignatureAlgorithm } from './signed-by-anchor.js';
import { prepareAnchor, type Anchor, type TrustAnchors } from './trust-anchors.js';
import type { CertificateKind, CertificateSummary, DigestAlgorithm, SignatureInput, VerificationResult, Verifier } from './types.js';

export type RevocationMode = 'crl' | 'ocsp' | 'none';

export interface RevocationOptions {
  mode: RevocationMode;
  /** CRL per CA; default: the certificate's CRL distribution point. */
  crlUrls?: { auth?: string; sign?: string };
  /** OCSP responder; default: the certificate's authorityInfoAccess OCSP address. */
  ocspUrl?: string;
  /**
   * An OCSP answer that echoes no nonce (a pre-produced one) counts only with a nextUpdate and a
   * thisUpdate at most this old (default 1 hour).
   */
  ocspMaxAgeMs?: number;
  /** How long a fetched CRL is reused (default 60 s); 0 fetches it for every verification. */
  staleWindowMs?: number;
  /** Deadline of one CRL or OCSP exchange (default 10 s). */
  timeoutMs?: number;
  /** Tests route the exchanges through `app.inject()` with this. */
  fetch?: FetchFunction;
}

export interface VerifierOptions {
  /** DER CA certificates; see `loadTrustAnchors`. */
  trustAnchors: TrustAnchors;
  revocation: RevocationOptions;
  /** The verifier's clock: default `at`, CRL cache age, freshness of CRLs and OCSP answers. */
  now?: () => Date;
  /**
   * The certificate policy OIDs each kind must carry (any one of them); default the JPKI-like
   * profile of the test CA (`kJpkiPolicyOids`).
   */
  policies?: Partial<Record<CertificateKind, readonly string[]>>;
}

export const kDefaultStaleWindowMs = 60_000;
export const kDefaultRevocationTimeoutMs = 10_000;
const kDefaultOcspMaxAgeMs = 60 * 60_000;

/**
 * The policy OIDs of the JPKI-like profile that the test CA issues (emulator/issuance/test-ca.ts):
 * the authentication one (jsrsasign's jpki-cp-auth-class30) and the test environment's signature
 * one — a verifier configured for production's signature policy (…8.5.1.1.20) refuses these.
 */
const kJpkiPolicyOids: Readonly<Record<CertificateKind, readonly string[]>> = {
  auth: ['1.2.392.200149.8.5.1.3.30'],
  sign: ['1.2.392.200149.8.5.1.0.20'],
};


const kDigestAlgorithms: readonly DigestAlgorithm[] = ['sha256', 'sha384', 'sha512'];

/** The key usage each kind of JPKI certificate must allow (docs/card-profile.md). */
const kRequiredKeyUsage: Readonly<Record<CertificateKind, KeyUsageName>> = { auth: 'digitalSignature', sign: 'nonRepudiation' };

const kCertificateNames: Readonly<Record<CertificateKind, string>> = { auth: 'an authentication certificate', sign: 'a signature certificate' };

function summarize(facts: CertificateFacts, kind: CertificateKind): CertificateSummary {
  return {
    kind,
    serial: facts.serial,
    subject: facts.subject,
    issuer: facts.issuer,
    notBefore: facts.notBefore.toISOString(),
    notAfter: facts.notAfter.toISOString(),
  };
}

/** Issued by `anchor`: names match and the anchor's key verifies the certificate's signature. */
function isIssuedBy(facts: CertificateFacts, anchor: Anchor): boolean {
  return facts.x509.checkIssued(anchor.x509) && facts.x509.verify(anchor.x509.publicKey);
}

function revocationChecker(options: RevocationOptions, now: () => Date): RevocationChecker | undefined {
  const fetchFn = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? kDefaultRevocationTimeoutMs;
  switch (options.mode) {
    case 'none':
      return undefined;
    case 'crl': {
      const staleWindowMs = options.staleWindowMs ?? kDefaultStaleWindowMs;
      if (!(staleWindowMs >= 0)) throw new RangeError(`staleWindowMs ${staleWindowMs} must be 0 or more`);
      return new CrlChecker({ fetch: fetchFn, now, staleWindowMs, timeoutMs, urls: options.crlUrls ?? {} });
    }
    case 'ocsp': {
      const maxAgeMs = options.ocspMaxAgeMs ?? kDefaultOcspMaxAgeMs;
      if (!(maxAgeMs >= 0)) throw new RangeError(`ocspMaxAgeMs ${maxAgeMs} must be 0 or more`);
      return new OcspChecker({ fetch: fetchFn, now, timeoutMs, maxAgeMs, url: options.ocspUrl });
    }
    default:
      throw new TypeError(`revocation mode ${JSON.stringify(options.mode)} is not crl, ocsp or none`);
  }
}

export function createVerifier(options: VerifierOptions): Verifier {
  const now = options.now ?? ((): Date => new Date());
  const anchors: Record<CertificateKind, Anchor[]> = {
    auth: options.trustAnchors.auth.map((der, i) => prepareAnchor('auth', der, i)),
    sign: options.trustAnchors.sign.map((der, i) => prepareAnchor('sign', der, i)),
  };
  const revocation = revocationChecker(options.revocation, now);
  const policies = { ...kJpkiPolicyOids, ...options.policies };

  async function decide(
    der: Uint8Array,
    kind: CertificateKind | undefined,
    at: Date,
    signatureMatches?: (facts: CertificateFacts) => boolean,
  ): Promise<VerificationResult> {
    if (kind !== undefined && kind !== 'auth' && kind !== 'sign') throw new VerificationInputError(`kind ${JSON.stringify(kind)} is not auth or sign`);
    if (Number.isNaN(at.getTime())) throw new VerificationInputError('the verification time is not a valid date');
    const facts = readCertificate(der);

    // (1) Chain. First the signature algorithm, so that a SHA-1 certificate is refused for that
    // reason whatever the OpenSSL underneath would still verify.
    const { outer, inner } = facts.signatureAlgorithms;
    if (!isAcceptedSignatureAlgorithm(outer) || outer !== inner) {
      return {
        code: 'UNSUPPORTED_CERTIFICATE',
        reason: 'SIGNATURE_ALGORITHM_REFUSED',
        detail:
          outer !== inner
            ? `The certificate's signature algorithm ${outer} differs from the one in its tbsCertificate (${inner}).`
            : `The certificate is signed with ${outer}${outer === '1.2.840.113549.1.1.5' ? ' (SHA-1 with RSA)' : ''}; only RSA PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512 is accepted.`,
      };
    }
    // Issued by a trust anchor of the wanted kind.
    const kinds: CertificateKind[] = kind === undefined ? ['auth', 'sign'] : [kind];
    const anchor = kinds.flatMap((k) => anchors[k]).find((a) => isIssuedBy(facts, a));
    if (anchor === undefined) {
      const other = kind === undefined ? undefined : anchors[kind === 'auth' ? 'sign' : 'auth'].find((a) => isIssuedBy(facts, a));
      return {
        code: 'UNSUPPORTED_CERTIFICATE',
        detail:
          other !== undefined && kind !== undefined
            ? `The certificate was issued by the ${kCaNames[other.kind]}, but ${kCertificateNames[kind]} is required.`
            : `The certificate (issuer ${facts.issuer}) was not issued by any trusted ${kind === undefined ? 'JPKI CA' : kCaNames[kind]}.`,
      };
    }
    const certificate = summarize(facts, anchor.kind);
    const unknownCritical = unknownCriticalExtensions(facts.criticalExtensions);
    if (unknownCritical.length > 0) {
      return {
        code: 'UNSUPPORTED_CERTIFICATE',
        reason: 'CRITICAL_EXTENSION_UNKNOWN',
        detail: `The certificate has critical extensions this verifier does not process (${unknownCritical.join(', ')}).`,
        certificate,
      };
    }
    const wantedPolicies = policies[anchor.kind];
    if (!facts.policies.some((oid) => wantedPolicies.includes(oid))) {
      return {
        code: 'UNSUPPORTED_CERTIFICATE',
        reason: 'CERTIFICATE_POLICY_MISMATCH',
        detail: `The certificate's policies (${facts.policies.join(', ') || 'none'}) do not include ${wantedPolicies.join(' or ')}, which ${kCertificateNames[anchor.kind]} of this profile carries.`,
        certificate,
      };
    }
    const usage = kRequiredKeyUsage[anchor.kind];
    if (facts.hasKeyUsage(usage) === false) {
      return { code: 'UNSUPPORTED_CERTIFICATE', detail: `The certificate's key usage does not include ${usage}, which ${kCertificateNames[anchor.kind]} needs.`, certificate };
    }
    if (facts.x509.publicKey.asymmetricKeyType !== 'rsa') {
      return { code: 'UNSUPPORTED_CERTIFICATE', detail: 'The certificate does not carry an RSA key, as every JPKI certificate does.', certificate };
    }

    // (2) Validity at `at`; a certificate not yet valid is refused with the same code.
    if (at.getTime() < facts.notBefore.getTime()) {
      return { code: 'CERTIFICATE_EXPIRED', detail: `The certificate is not valid before ${certificate.notBefore} (checked at ${at.toISOString()}).`, certificate };
    }
    if (at.getTime() > facts.notAfter.getTime()) {
      return { code: 'CERTIFICATE_EXPIRED', detail: `The certificate expired at ${certificate.notAfter} (checked at ${at.toISOString()}).`, certificate };
    }

    // (3) Signature, when one is being verified.
    if (signatureMatches !== undefined && !signatureMatches(facts)) {
      return { code: 'SIGNATURE_MISMATCH', detail: 'The signature does not verify with the certificate\'s public key over the given data.', certificate };
    }

    // (4) Revocation: a RevocationUnavailableError propagates, since "could not check" is no verdict.
    if (revocation !== undefined) {
      const status = await revocation.check(facts, anchor);
      if (status.revoked) {
        return {
          code: 'CERTIFICATE_REVOKED',
          detail: `The certificate was revoked at ${status.date.toISOString()} (${status.reason}), according to the ${status.source === 'crl' ? 'CRL' : 'OCSP responder'} of the ${kCaNames[anchor.kind]}.`,
          certificate,
          revocation: { reason: status.reason, date: status.date.toISOString(), source: status.source },
        };
      }
    }
    const checked = revocation === undefined ? 'revocation not checked' : `not revoked (${options.revocation.mode.toUpperCase()})`;
    const what = kCertificateNames[anchor.kind].replace(/^an? /, 'the ');
    const detail = signatureMatches === undefined ? `The certificate is ${what}: trusted, valid and ${checked}.` : `The signature verifies with ${what}: trusted, valid and ${checked}.`;
    return { code: 'OK', detail, certificate };
  }

  return {
    verifyCertificate: (certificate, opts = {}) => decide(certificate, opts.kind, opts.at ?? now()),
    verifySignature: async (input: SignatureInput, opts = {}) => {
      const algorithm = input.algorithm ?? 'sha256';
      if (!kDigestAlgorithms.includes(algorithm)) throw new VerificationInputError(`digest algorithm ${JSON.stringify(algorithm)} is not one of ${kDigestAlgorithms.join(', ')}`);
      const matches = (facts: CertificateFacts): boolean => {
        try {
          // PKCS#1 v1.5 over the DigestInfo of `algorithm`, which is what the card's 80 2A computes.
          return verify(algorithm, input.data, { key: facts.x509.publicKey, padding: constants.RSA_PKCS1_PADDING }, input.signature);
        } catch {
          return false;
        }
      };
      return decide(input.certificate, input.kind, opts.at ?? now(), matches);
    },
  };
}
