/**
 * A login's traces in the database: browser sessions, the one-time login nonces, and the QR
 * sessions a phone logs a browser in through (docs/portal-protocols.md).
 */
import type { AccountDraft } from '../account-form.js';
import type { PortalDatabase } from '../db.js';
import type { PersonIdentity } from '../../shared/card-info.js';
import type { CertificateHolder } from '../../shared/holders.js';
import type { CertificateRef } from './people.js';

/**
 * A login in progress, kept in the browser session: after the signature, waiting for the card
 * info (`card-info`); after the card info of an unknown person, waiting for registration. `holder`
 * is what the issuer said of the certificate (its person id at the register); absent only on a
 * portal built with the `trust-client-card-info` flaw.
 */
export type PendingLogin =
  | { stage: 'card-info'; certificate: CertificateRef; holder?: CertificateHolder; expiresAt: string }
  | { stage: 'register'; certificate: CertificateRef; person: PersonIdentity; holder?: string; expiresAt: string; draft?: AccountDraft };

export interface SessionRow {
  id: string;
  csrfToken: string;
  personId: string | null;
  certIssuer: string | null;
  certSerial: string | null;
  loggedInAt: string | null;
  previousLoginAt: string | null;
  pending: PendingLogin | null;
  /** The QR session whose phone logged this session in, until the browser claims it (docs/portal-protocols.md). */
  awaitingClaim: string | null;
  createdAt: string;
  expiresAt: string;
}

export interface NonceRow {
  nonce: string;
  sessionId: string | null;
  qrSessionId: string | null;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

export type QrState = 'waiting' | 'challenged' | 'card-info' | 'authenticated' | 'failed';

export interface QrSessionRow {
  id: string;
  tokenHash: string;
  browserSessionId: string;
  state: QrState;
  next: string | null;
  failCode: string | null;
  createdAt: string;
  expiresAt: string;
  updatedAt: string;
}

interface RawSession {
  id: string;
  csrf_token: string;
  person_id: string | null;
  cert_issuer: string | null;
  cert_serial: string | null;
  logged_in_at: string | null;
  previous_login_at: string | null;
  pending: string | null;
  awaiting_claim: string | null;
  created_at: string;
  expires_at: string;
}

interface RawQr {
  id: string;
  token_hash: string;
  browser_session_id: string;
  state: QrState;
  next: string | null;
  fail_code: string | null;
  created_at: string;
  expires_at: string;
  updated_at: string;
}

export class LoginStore {
  /** `purge` drops long-expired rows; it runs whenever a nonce or a QR session is made. */
  constructor(
    private readonly db: PortalDatabase,
    private readonly purge: (now: Date) => void,
  ) {}

  // --- sessions ---------------------------------------------------------------------------------

  /** Stores a session (once: a second call for the same id changes nothing). */
  createSession(id: string, csrfToken: string, now: Date, expiresAt: Date): void {
    this.db
      .prepare('INSERT OR IGNORE INTO sessions (id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(id, csrfToken, now.toISOString(), expiresAt.toISOString());
  }

  /**
   * Gives a session a new id and CSRF token, keeping what it holds (login, pending step, its nonces,
   * QR and signing sessions) and ending any wait for a claim; the old id is gone afterwards.
   */
  rotateSession(oldId: string, newId: string, csrfToken: string, expiresAt: Date): void {
    this.db.transaction(() => {
      const moved = this.db
        .prepare(
          `INSERT INTO sessions (id, csrf_token, person_id, cert_issuer, cert_serial, logged_in_at, previous_login_at, pending, awaiting_claim, created_at, expires_at)
           SELECT ?, ?, person_id, cert_issuer, cert_serial, logged_in_at, previous_login_at, pending, NULL, created_at, ? FROM sessions WHERE id = ?`,
        )
        .run(newId, csrfToken, expiresAt.toISOString(), oldId).changes;
      if (moved !== 1) throw new Error(`no session ${oldId} to rotate`);
      this.db.prepare('UPDATE login_nonces SET session_id = ? WHERE session_id = ?').run(newId, oldId);
      this.db.prepare('UPDATE qr_sessions SET browser_session_id = ? WHERE browser_session_id = ?').run(newId, oldId);
      this.db.prepare('UPDATE signing_sessions SET browser_session_id = ? WHERE browser_session_id = ?').run(newId, oldId);
      this.db.prepare('DELETE FROM sessions WHERE id = ?').run(oldId);
    })();
  }

  /** Marks a session as changed by the phone of QR session `qrSessionId` (null: claimed): logged out until claimed. */
  setAwaitingClaim(id: string, qrSessionId: string | null): void {
    this.db.prepare('UPDATE sessions SET awaiting_claim = ? WHERE id = ?').run(qrSessionId, id);
  }

  countSessions(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
  }

  getSession(id: string): SessionRow | undefined {
    const raw = this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as RawSession | undefined;
    if (!raw) return undefined;
    return {
      id: raw.id,
      csrfToken: raw.csrf_token,
      personId: raw.person_id,
      certIssuer: raw.cert_issuer,
      certSerial: raw.cert_serial,
      loggedInAt: raw.logged_in_at,
      previousLoginAt: raw.previous_login_at,
      pending: raw.pending ? (JSON.parse(raw.pending) as PendingLogin) : null,
      awaitingClaim: raw.awaiting_claim,
      createdAt: raw.created_at,
      expiresAt: raw.expires_at,
    };
  }

  extendSession(id: string, expiresAt: Date): void {
    this.db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?').run(expiresAt.toISOString(), id);
  }

  deleteSession(id: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
  }

  setPending(id: string, pending: PendingLogin | null): void {
    this.db.prepare('UPDATE sessions SET pending = ? WHERE id = ?').run(pending ? JSON.stringify(pending) : null, id);
  }

  /**
   * Marks the session logged in as `personId` with `certificate`, and moves the account's last login
   * into the session's "previous login" (what the main menu shows as 前回のログイン).
   */
  logIn(sessionId: string, personId: string, certificate: CertificateRef, now: Date): void {
    this.db.transaction(() => {
      const account = this.db.prepare('SELECT last_login_at FROM accounts WHERE person_id = ?').get(personId) as { last_login_at: string | null } | undefined;
      if (!account) throw new Error(`person ${personId} has no account`);
      const at = now.toISOString();
      this.db
        .prepare(
          `UPDATE sessions SET person_id = ?, cert_issuer = ?, cert_serial = ?, logged_in_at = ?, previous_login_at = ?, pending = NULL
           WHERE id = ?`,
        )
        .run(personId, certificate.issuer, certificate.serial, at, account.last_login_at, sessionId);
      this.db.prepare('UPDATE accounts SET last_login_at = ? WHERE person_id = ?').run(at, personId);
    })();
  }

  // --- login nonces ------------------------------------------------------------------------------

  createNonce(nonce: string, owner: { sessionId: string } | { qrSessionId: string }, now: Date, expiresAt: Date): void {
    this.purge(now);
    this.db
      .prepare('INSERT INTO login_nonces (nonce, session_id, qr_session_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(nonce, 'sessionId' in owner ? owner.sessionId : null, 'qrSessionId' in owner ? owner.qrSessionId : null, now.toISOString(), expiresAt.toISOString());
  }

  getNonce(nonce: string): NonceRow | undefined {
    const raw = this.db.prepare('SELECT * FROM login_nonces WHERE nonce = ?').get(nonce) as
      | { nonce: string; session_id: string | null; qr_session_id: string | null; created_at: string; expires_at: string; used_at: string | null }
      | undefined;
    return (
      raw && {
        nonce: raw.nonce,
        sessionId: raw.session_id,
        qrSessionId: raw.qr_session_id,
        createdAt: raw.created_at,
        expiresAt: raw.expires_at,
        usedAt: raw.used_at,
      }
    );
  }

  /** True when this call used the nonce; false when it had been used already. */
  useNonce(nonce: string, now: Date): boolean {
    return this.db.prepare('UPDATE login_nonces SET used_at = ? WHERE nonce = ? AND used_at IS NULL').run(now.toISOString(), nonce).changes === 1;
  }

  // --- QR sessions -------------------------------------------------------------------------------

  createQrSession(row: Pick<QrSessionRow, 'id' | 'tokenHash' | 'browserSessionId'>, now: Date, expiresAt: Date): void {
    this.purge(now);
    const at = now.toISOString();
    this.db
      .prepare(
        `INSERT INTO qr_sessions (id, token_hash, browser_session_id, state, created_at, expires_at, updated_at)
         VALUES (?, ?, ?, 'waiting', ?, ?, ?)`,
      )
      .run(row.id, row.tokenHash, row.browserSessionId, at, expiresAt.toISOString(), at);
  }

  /** QR sessions not yet ended nor expired: of one browser session, or of all when `browserSessionId` is absent. */
  countOpenQrSessions(now: Date, browserSessionId?: string): number {
    const at = now.toISOString();
    const row =
      browserSessionId === undefined
        ? this.db.prepare(`SELECT count(*) AS n FROM qr_sessions WHERE expires_at > ? AND state NOT IN ('authenticated', 'failed')`).get(at)
        : this.db.prepare(`SELECT count(*) AS n FROM qr_sessions WHERE browser_session_id = ? AND expires_at > ? AND state NOT IN ('authenticated', 'failed')`).get(browserSessionId, at);
    return (row as { n: number }).n;
  }

  getQrSession(id: string): QrSessionRow | undefined {
    const raw = this.db.prepare('SELECT * FROM qr_sessions WHERE id = ?').get(id) as RawQr | undefined;
    return (
      raw && {
        id: raw.id,
        tokenHash: raw.token_hash,
        browserSessionId: raw.browser_session_id,
        state: raw.state,
        next: raw.next,
        failCode: raw.fail_code,
        createdAt: raw.created_at,
        expiresAt: raw.expires_at,
        updatedAt: raw.updated_at,
      }
    );
  }

  /** Moves a QR session from one of `from` to `to`; false when it was no longer in `from` (a race lost). */
  moveQrSession(id: string, from: readonly QrState[], to: QrState, now: Date, extra: { next?: string; failCode?: string } = {}): boolean {
    const placeholders = from.map(() => '?').join(', ');
    return (
      this.db
        .prepare(`UPDATE qr_sessions SET state = ?, next = ?, fail_code = ?, updated_at = ? WHERE id = ? AND state IN (${placeholders})`)
        .run(to, extra.next ?? null, extra.failCode ?? null, now.toISOString(), id, ...from).changes === 1
    );
  }
}
