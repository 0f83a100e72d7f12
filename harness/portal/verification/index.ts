/** The verification service's entry point for the portal's routes and flows. */
export type * from './types.js';
export { createVerifier, kDefaultRevocationTimeoutMs, kDefaultStaleWindowMs, type RevocationMode, type RevocationOptions, type VerifierOptions } from './verifier.js';
export { loadTrustAnchors, kTrustAnchorFiles, pemCertificates, type TrustAnchors } from './trust-anchors.js';
export { RevocationUnavailableError, VerificationInputError } from './errors.js';
export { revocationReasonName } from './revocation-reasons.js';
export { kVerificationReasons, type VerificationReason } from './reasons.js';
