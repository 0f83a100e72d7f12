/**
 * The two ways the verification service declines to give a result. Each carries the portal error
 * code it stands for (harness/portal/errors.ts), so a caller can map it without knowing the class.
 */

/** The input is not something that can be verified (not a DER certificate, an unknown hash). */
export class VerificationInputError extends Error {
  readonly code = 'BAD_REQUEST' as const;
  constructor(message: string) {
    super(message);
    this.name = 'VerificationInputError';
  }
}

/**
 * Revocation was required and could not be decided (CRL or OCSP responder unreachable, or its answer
 * not trustworthy). Never turned into a verdict: "could not check" must not read as "not revoked".
 */
export class RevocationUnavailableError extends Error {
  readonly code = 'REVOCATION_UNAVAILABLE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RevocationUnavailableError';
  }
}
