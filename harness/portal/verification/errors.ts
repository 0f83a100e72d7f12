/**
 * The two ways the verification service declines to give a result. Each carries the portal error
 * code it stands for (harness/portal/mynaportal/errors.ts), so a caller can map it without knowing the class.
 */
import type { VerificationReason } from './reasons.js';

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
  /** Set when the revocation data was had but refused for one of the registry's reasons. */
  readonly reason: VerificationReason | undefined;
  constructor(message: string, options?: { cause?: unknown; reason?: VerificationReason }) {
    super(message, options);
    this.name = 'RevocationUnavailableError';
    this.reason = options?.reason ?? (options?.cause instanceof RevocationUnavailableError ? options.cause.reason : undefined);
  }
}
