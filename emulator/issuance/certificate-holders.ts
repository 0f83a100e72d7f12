/**
 * The issuer's certificate-to-person register, J-LIS's platform reduced to the test CA: for an
 * authentication certificate it says which person holds it (a stable, opaque id that a new card
 * keeps), which certificate of the same person it renewed and which renewed it, and the digest of
 * the basic 4 the issuer signed into that card's card-info AP (kenhojo EF 0003, DF32). A relying
 * party keys accounts by the person id instead of trusting the card-info files a client posts, and
 * checks those files against the digest when it uses them to fill a form.
 *
 * The authentication certificate itself names nobody (`C=JP, CN=<opaque>`); only the issuer can
 * tie it to a person, which is why this is a service of the issuer and not something an RP can
 * compute. Published two ways, like the CRLs: as a file next to the CA certificates (for runs
 * without a server) and by `jpki-hil ca serve` at `GET /holders?issuer=…&serial=…`.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import type { CertKind, IssuedRecord } from './ca-types.js';

/** The published register, next to the CA certificates. */
export const kCertificateHoldersFile = 'certificate-holders.json';
export const kCertificateHoldersFormat = 'jpki-hil-certificate-holders';

/** One authentication certificate as the register describes it. */
export interface CertificateHolder {
  /** The issuer DN as relying parties print it (`C=JP, O=JPKI, OU=…`). */
  readonly issuer: string;
  /** Upper-case hex, even length. */
  readonly serial: string;
  /** The holder: stable across renewals and moves, opaque, never the My Number. */
  readonly person: string;
  readonly notAfter: string;
  /** SHA-256 of the card's basic-4 span (kenhojo DF32), upper-case hex; absent for certificates issued without a card. */
  readonly cardInfoDigest?: string;
  /** The same person's authentication certificate this one replaced. */
  readonly renews?: string;
  /** The same person's authentication certificate that replaced this one (a renewed card). */
  readonly renewedBy?: string;
  readonly revoked?: boolean;
}

export interface CertificateHolderRegister {
  readonly format: typeof kCertificateHoldersFormat;
  readonly version: 1;
  readonly certificates: readonly CertificateHolder[];
}

/**
 * The person id for a My Number at this CA: an HMAC under the authentication CA's private key, so
 * the same person gets the same id on every card, and nobody without the CA key can link an id to a
 * My Number (or guess one from the other).
 */
export function personIdFor(caKey: KeyObject, myNumber: string): string {
  const secret = caKey.export({ type: 'pkcs8', format: 'der' });
  return 'P' + createHmac('sha256', secret).update(`jpki-hil person\n${myNumber}`).digest('hex').slice(0, 24).toUpperCase();
}

/** The register over the CA's ledger: every authentication certificate issued to a known person. */
export function holderRegister(issued: readonly IssuedRecord[], authIssuer: string): CertificateHolderRegister {
  const auth = issued.filter((r): r is IssuedRecord & { person: string } => r.kind === ('auth' satisfies CertKind) && r.person !== undefined);
  const certificates = auth.map((record) => {
    // Renewals in issuing order: the certificate just before and just after, for the same person.
    const same = auth.filter((r) => r.person === record.person);
    const index = same.indexOf(record);
    const before = same[index - 1];
    const after = same[index + 1];
    return {
      issuer: authIssuer,
      serial: record.serial,
      person: record.person,
      notAfter: record.notAfter,
      ...(record.cardInfoDigest !== undefined ? { cardInfoDigest: record.cardInfoDigest } : {}),
      ...(before ? { renews: before.serial } : {}),
      ...(after ? { renewedBy: after.serial } : {}),
      ...(record.revoked ? { revoked: true } : {}),
    };
  });
  return { format: kCertificateHoldersFormat, version: 1, certificates };
}

/** The register's entry for one certificate, or undefined. */
export function findHolder(register: CertificateHolderRegister, issuer: string, serial: string): CertificateHolder | undefined {
  const wanted = serial.toUpperCase();
  return register.certificates.find((c) => c.issuer === issuer && c.serial === wanted);
}
