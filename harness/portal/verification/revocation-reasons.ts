/**
 * RFC 5280 §5.3.1 CRLReason codes (also OCSP's RevokedInfo reason) by the names RFC 5280 gives
 * them, which is how the verification result reports a reason (`affiliationChanged` is what a
 * move or a name change makes J-LIS give the signature certificate).
 */
const kReasonNames: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

/** An absent reason means unspecified (RFC 5280 says to leave that one out of CRL entries). */
export function revocationReasonName(code: number | undefined): string {
  if (code === undefined) return 'unspecified';
  return kReasonNames[code] ?? `reason${code}`;
}
