/** What a revocation source (CRL or OCSP) says about one certificate. */
import type { CertificateFacts } from './certificate-facts.js';
import type { Anchor } from './trust-anchors.js';
import type { RevocationSource } from './types.js';

export type RevocationStatus = { revoked: false } | { revoked: true; reason: string; date: Date; source: RevocationSource };

/** Throws RevocationUnavailableError when it cannot say; never guesses "not revoked". */
export interface RevocationChecker {
  check(certificate: CertificateFacts, anchor: Anchor): Promise<RevocationStatus>;
}

export const kCaNames: Readonly<Record<Anchor['kind'], string>> = { auth: 'authentication CA', sign: 'signature CA' };
