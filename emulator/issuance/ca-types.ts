/**
 * The test CA's types: the two certificate kinds, the ledger's format tag, the ledger (ca.json) with its issued and revoked
 * certificates, and a loaded CA. Kept apart so the holder register can speak of the ledger without
 * importing the code that writes it.
 */
import type { KeyObject } from 'node:crypto';
import type { Bytes } from '../../iso7816/bytes.js';
import type { CrlReason, Name } from './x509.js';

export type CertKind = 'auth' | 'sign';

export const kCaFormat = 'jpki-hil-test-ca';
export const kCaFormatVersion = 1;

export interface RevocationRecord {
  readonly date: string;
  readonly reason: CrlReason;
}

export interface IssuedRecord {
  /** Upper-case hex, even length. */
  readonly serial: string;
  readonly kind: CertKind;
  /** Subject DN in encoding order, e.g. `C=JP, CN=3K9...`. */
  readonly subject: string;
  readonly issuedAt: string;
  readonly notBefore: string;
  readonly notAfter: string;
  revoked?: RevocationRecord;
  /** The holder's person id (certificate-holders.ts); absent in ledgers written before it existed. */
  readonly person?: string;
  /** Auth certificates: SHA-256 of the card's basic-4 span (kenhojo DF32), upper-case hex. */
  readonly cardInfoDigest?: string;
}

/** The content of ca.json. */
export interface CaState {
  format: typeof kCaFormat;
  version: typeof kCaFormatVersion;
  createdAt: string;
  crlBaseUrl: string;
  /** Key identifiers of the two CA keys: ties ca.json to the PEM files next to it. */
  caKeyIds: Record<CertKind, string>;
  nextSerial: Record<CertKind, string>;
  /** Number of the CRL last published by each CA. */
  crlNumber: Record<CertKind, number>;
  issued: IssuedRecord[];
}

export interface CaAuthority {
  readonly kind: CertKind;
  readonly name: Name;
  readonly certificate: Bytes;
  readonly key: KeyObject;
  readonly keyId: Bytes;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface TestCa {
  readonly dir: string;
  readonly auth: CaAuthority;
  readonly sign: CaAuthority;
  /** ca.json as last read or written through this handle. */
  state: CaState;
}

export interface InitCaOptions {
  readonly force?: boolean;
  readonly now?: Date;
  readonly crlBaseUrl?: string;
  /** Pre-generated RSA-2048 CA keys (tests: key generation dominates their run time). */
  readonly keys?: { readonly auth: KeyObject; readonly sign: KeyObject };
}
