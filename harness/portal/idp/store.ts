/**
 * What the IdP remembers, in memory (it is a test double: a restart forgets every transaction,
 * code and token, as a real IdP's would expire anyway): the authentication transactions the phone
 * app completes, the authorization codes, the access tokens, and the people it has met — each a
 * stable subject id (from the issuer's person id) and the basic 4 it verified, with the
 * authentication certificates linked to them.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { CertificateHolder } from '../shared/holders.js';
import type { PersonIdentity } from '../shared/card-info.js';

/** An /authorize request that passed validation. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string;
  nonce: string;
  codeChallenge: string;
}

export type TransactionState = 'waiting' | 'challenged' | 'card-info' | 'authenticated' | 'failed';

export interface Transaction {
  id: string;
  tokenHash: string;
  /** The hash of the browser cookie that started it: only that browser collects the code. */
  browserHash: string;
  request: AuthorizationRequest;
  state: TransactionState;
  /** The challenge the card signs (state 'challenged'). */
  challenge?: Buffer;
  /** The certificate that signed it, while the card info is awaited (state 'card-info'). */
  certificateKey?: string;
  /** Who the issuer says holds that certificate (absent only with the trust-client-card-info flaw). */
  holder?: CertificateHolder;
  sub?: string;
  failure?: string;
  expiresAt: number;
}

export interface AuthorizationCode {
  request: AuthorizationRequest;
  sub: string;
  expiresAt: number;
  used: boolean;
  /** Access tokens issued for it, revoked when the code is replayed (RFC 6749 §4.1.2). */
  accessTokens: string[];
}

export interface AccessToken {
  sub: string;
  scopes: string[];
  expiresAt: number;
  revoked: boolean;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export class IdpStore {
  readonly transactions = new Map<string, Transaction>();
  readonly codes = new Map<string, AuthorizationCode>();
  readonly accessTokens = new Map<string, AccessToken>();
  private readonly _persons = new Map<string, PersonIdentity>();
  private readonly _certificates = new Map<string, string>();

  constructor(private readonly _subjectSecret: string) {}

  /**
   * The subject id of the person the issuer's register calls `holder`: the same with every card of
   * theirs and every address, and (an HMAC under the IdP's secret) unlinkable to the register's id.
   */
  subjectOfHolder(holder: string): string {
    return createHmac('sha256', this._subjectSecret).update(`holder\n${holder}`).digest('base64url');
  }

  /**
   * The subject id by name, birth date and sex: what the `trust-client-card-info` flaw does
   * (../flaws.ts) — two people sharing them share a `sub`, and posted card info picks the person.
   */
  subjectOf(person: PersonIdentity): string {
    return createHmac('sha256', this._subjectSecret).update(`${person.name}\n${person.birth}\n${person.sex}`).digest('base64url');
  }

  /** Records the person (their latest basic 4) under `sub` and links the certificate to them; returns the sub. */
  linkCertificate(certificateKey: string, person: PersonIdentity, sub = this.subjectOf(person)): string {
    this._persons.set(sub, person);
    this._certificates.set(certificateKey, sub);
    return sub;
  }

  /** Links one more certificate (a renewed card) to a person met before. */
  linkRenewedCertificate(certificateKey: string, sub: string): void {
    this._certificates.set(certificateKey, sub);
  }

  subjectOfCertificate(certificateKey: string): string | undefined {
    return this._certificates.get(certificateKey);
  }

  person(sub: string): PersonIdentity | undefined {
    return this._persons.get(sub);
  }

  /**
   * Forgets expired transactions, codes and access tokens (a code is kept while an access token it
   * gave is alive, so that its replay still revokes them); run whenever one is created.
   */
  purge(now: number): void {
    for (const [id, transaction] of this.transactions) if (transaction.expiresAt <= now) this.transactions.delete(id);
    for (const [hash, token] of this.accessTokens) if (token.expiresAt <= now) this.accessTokens.delete(hash);
    for (const [hash, code] of this.codes) {
      if (code.expiresAt <= now && !code.accessTokens.some((t) => this.accessTokens.has(t))) this.codes.delete(hash);
    }
  }
}
