/**
 * Signature checks of the revocation data itself (CRLs, OCSP responses) against a trust anchor's
 * key: revocation data that is not signed by the CA is no revocation data at all.
 */
import { constants, verify, type KeyObject } from 'node:crypto';

/** RSA PKCS#1 v1.5 signature algorithms, by OID, with their hash. SHA-1 is not accepted. */
const kRsaSignatureHashes: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

/** RSA PKCS#1 v1.5 with SHA-256/384/512: the signatures this verifier accepts on certificates, CRLs and OCSP answers. */
export function isAcceptedSignatureAlgorithm(algorithmOid: string): boolean {
  return Object.hasOwn(kRsaSignatureHashes, algorithmOid);
}

/** Throws for an algorithm we do not accept; false for a signature that does not verify. */
export function isSignedBy(tbs: Uint8Array, algorithmOid: string, signature: Uint8Array, key: KeyObject): boolean {
  const hash = kRsaSignatureHashes[algorithmOid];
  if (hash === undefined) throw new Error(`signature algorithm ${algorithmOid} is not accepted (RSA PKCS#1 v1.5 with SHA-256/384/512 only)`);
  try {
    return verify(hash, tbs, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    // A malformed signature (wrong length, not RSA) is simply not a valid one.
    return false;
  }
}
