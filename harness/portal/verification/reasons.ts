/**
 * Why the verification service refused, more precisely than its verdict code says: a stable reason
 * that travels with an UNSUPPORTED_CERTIFICATE verdict or a 503 REVOCATION_UNAVAILABLE answer, so a
 * QA team can tell a SHA-1 certificate from a foreign one, or a replayed CRL from an unreachable one.
 * docs/portal-errors.md lists the same reasons (a test keeps the two in step).
 */

export const kVerificationReasons = {
  SIGNATURE_ALGORITHM_REFUSED: { code: 'UNSUPPORTED_CERTIFICATE', when: 'The certificate is signed with SHA-1 or anything but RSA PKCS#1 v1.5 with SHA-256/384/512, or its two signature algorithm fields differ (RFC 5280 §4.1.1.2).' },
  CRITICAL_EXTENSION_UNKNOWN: { code: 'UNSUPPORTED_CERTIFICATE', when: 'The certificate has a critical extension this verifier does not process (RFC 5280 §4.2: it must then be rejected).' },
  CERTIFICATE_POLICY_MISMATCH: { code: 'UNSUPPORTED_CERTIFICATE', when: "The certificate's certificatePolicies do not name the policy OID of its kind (the JPKI-like profile's auth or sign policy)." },
  OCSP_RESPONSE_NOT_FRESH: { code: 'REVOCATION_UNAVAILABLE', when: 'The OCSP answer echoes no nonce and has no nextUpdate, or its thisUpdate is older than the configured maximum age.' },
  CRL_ENTRY_EXTENSION_UNKNOWN: { code: 'REVOCATION_UNAVAILABLE', when: 'An entry of the CRL has a critical extension this verifier does not process: the whole CRL is unusable (RFC 5280 §5.3).' },
  CRL_NOT_YET_VALID: { code: 'REVOCATION_UNAVAILABLE', when: 'The CRL\'s thisUpdate is in the future (beyond 5 minutes of clock skew).' },
  CRL_NUMBER_DECREASED: { code: 'REVOCATION_UNAVAILABLE', when: 'The CRL number is lower than one already seen from the same CA: an older CRL is being replayed.' },
} as const satisfies Record<string, { code: 'UNSUPPORTED_CERTIFICATE' | 'REVOCATION_UNAVAILABLE'; when: string }>;

export type VerificationReason = keyof typeof kVerificationReasons;
