/** What the IdP's route plugins share. */
import type { KeyObject } from 'node:crypto';
import type { PortalFlaw } from '../shared/flaws.js';
import type { HolderDirectory } from '../shared/holders.js';
import type { Verifier } from '../verification/types.js';
import type { SigningKey } from './jwt.js';
import type { IdpStore } from './store.js';

export interface IdpClient {
  clientId: string;
  clientSecret: string;
  /** Shown on the consent page. */
  name: string;
  /** Matched exactly (no prefix, no wildcard), as the Digital Auth App requires. */
  redirectUris: readonly string[] | (() => readonly string[]);
}

export interface IdpContext {
  issuer: () => string;
  clients: readonly IdpClient[];
  verifier: Verifier;
  cardInfoKey: KeyObject;
  /** The issuer's certificate-to-person register: the `sub` follows the person it names. */
  holders: HolderDirectory;
  flaws: ReadonlySet<PortalFlaw>;
  signingKey: SigningKey;
  store: IdpStore;
  now: () => Date;
  testMode: boolean;
}

/** How long an authentication transaction (QR / deep link) lives. */
export const kTransactionMs = 5 * 60_000;
/** Authentication transactions the IdP keeps waiting at once; over it /authorize answers 503. */
export const kMaxTransactions = 10_000;
/** Authorization codes live 60 seconds and are single use. */
export const kCodeMs = 60_000;
export const kAccessTokenMs = 10 * 60_000;
export const kIdTokenMs = 10 * 60_000;

/** The scopes of the Digital Auth App: openid and the basic 4. */
export const kSupportedScopes = ['openid', 'name', 'address', 'birthdate', 'gender'] as const;

/** The browser's cookie that binds an authentication transaction to the browser that started it. */
export const kBrowserCookie = 'jpki_idp_browser';

/** The phone app's deep link path; the QR code carries `<issuer>/app/auth?tx=<id>&t=<token>`. */
export const kDeepLinkPath = '/app/auth';

export function redirectUrisOf(client: IdpClient): readonly string[] {
  return typeof client.redirectUris === 'function' ? client.redirectUris() : client.redirectUris;
}
