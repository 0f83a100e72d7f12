/**
 * Every query the portal makes, as typed methods over prepared statements. Routes never write SQL;
 * they ask the store. Times are ISO-8601 UTC strings (sortable as text) and are always passed in,
 * so the injected clock decides every expiry.
 */
import { randomBytes } from 'node:crypto';
import type { AccountDraft, NotificationFlag } from './account-form.js';
import type { PortalDatabase } from './db.js';
import type { CertificateHolder } from '../shared/holders.js';

export interface CertificateRef {
  issuer: string;
  /** Upper-case hex, as the verifier reports it. */
  serial: string;
  kind: 'auth' | 'sign';
  /** ISO-8601. */
  notAfter: string;
}

/** The kenhojo basic 4 as the portal keeps them. */
export interface PersonIdentity {
  name: string;
  /** YYYY-MM-DD. */
  birth: string;
  sex: string;
  address: string;
}

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

export interface AccountRow {
  personId: string;
  nickname: string;
  emails: string[];
  flags: Record<NotificationFlag, boolean>;
  language: string;
  lastLoginAt: string | null;
  createdAt: string;
}

export interface LinkedCertificateRow {
  issuer: string;
  serial: string;
  personId: string;
  kind: string;
  notAfter: string;
  linkedAt: string;
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

export type ApplicationState = 'draft' | 'signed' | 'submitted';

export interface ApplicationRow {
  id: string;
  personId: string;
  /** The fields as entered (JSON object of strings). */
  form: Record<string, string>;
  /** The canonical JSON that is signed. */
  document: string;
  state: ApplicationState;
  cms: Uint8Array | null;
  signedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type SigningState = 'waiting' | 'signed' | 'failed';

export interface SigningSessionRow {
  id: string;
  tokenHash: string;
  applicationId: string;
  browserSessionId: string;
  state: SigningState;
  failCode: string | null;
  failMessage: string | null;
  createdAt: string;
  expiresAt: string;
  updatedAt: string;
}

export interface SubmissionRow {
  id: string;
  applicationId: string;
  personId: string;
  document: string;
  cms: Uint8Array;
  submittedAt: string;
}

interface RawApplication {
  id: string;
  person_id: string;
  form: string;
  document: string;
  state: ApplicationState;
  cms: Buffer | null;
  signed_at: string | null;
  created_at: string;
  updated_at: string;
}

interface RawSigning {
  id: string;
  token_hash: string;
  application_id: string;
  browser_session_id: string;
  state: SigningState;
  fail_code: string | null;
  fail_message: string | null;
  created_at: string;
  expires_at: string;
  updated_at: string;
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

interface RawAccount {
  person_id: string;
  nickname: string;
  emails: string;
  flags: string;
  language: string;
  last_login_at: string | null;
  created_at: string;
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

/** Rows that expired this long ago are deleted: long enough that a replay still meets NONCE_USED. */
const kPurgeAfterMs = 60 * 60 * 1000;

export class PortalStore {
  constructor(readonly db: PortalDatabase) {}

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

  // --- people, accounts, certificates ------------------------------------------------------------

  findCertificate(issuer: string, serial: string): LinkedCertificateRow | undefined {
    const raw = this.db.prepare('SELECT * FROM certificates WHERE issuer = ? AND serial = ?').get(issuer, serial) as
      | { issuer: string; serial: string; person_id: string; kind: string; not_after: string; linked_at: string }
      | undefined;
    return raw && { issuer: raw.issuer, serial: raw.serial, personId: raw.person_id, kind: raw.kind, notAfter: raw.not_after, linkedAt: raw.linked_at };
  }

  certificatesOf(personId: string): LinkedCertificateRow[] {
    const rows = this.db.prepare('SELECT * FROM certificates WHERE person_id = ? ORDER BY linked_at').all(personId) as {
      issuer: string;
      serial: string;
      person_id: string;
      kind: string;
      not_after: string;
      linked_at: string;
    }[];
    return rows.map((raw) => ({ issuer: raw.issuer, serial: raw.serial, personId: raw.person_id, kind: raw.kind, notAfter: raw.not_after, linkedAt: raw.linked_at }));
  }

  /** The person the issuer knows as `holder` (its register's person id). */
  findPersonByHolder(holder: string): { id: string; address: string } | undefined {
    return this.db.prepare('SELECT id, address FROM persons WHERE holder = ?').get(holder) as { id: string; address: string } | undefined;
  }

  /**
   * The first person registered with this name, birth date and sex. Only the `trust-client-card-info`
   * flaw matches people this way (flaws.ts): it is the mistake that flaw demonstrates.
   */
  findPerson(identity: Pick<PersonIdentity, 'name' | 'birth' | 'sex'>): { id: string; address: string } | undefined {
    return this.db.prepare('SELECT id, address FROM persons WHERE name = ? AND birth = ? AND sex = ? ORDER BY created_at LIMIT 1').get(identity.name, identity.birth, identity.sex) as
      | { id: string; address: string }
      | undefined;
  }

  countPersons(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM persons').get() as { n: number }).n;
  }

  /** Links a certificate to a person (a renewed card, or the first login); the address follows the card. */
  linkCertificate(personId: string, certificate: CertificateRef, address: string | undefined, now: Date): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO certificates (issuer, serial, person_id, kind, not_after, linked_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(certificate.issuer, certificate.serial, personId, certificate.kind, certificate.notAfter, now.toISOString());
      if (address !== undefined) this.db.prepare('UPDATE persons SET address = ? WHERE id = ?').run(address, personId);
    })();
  }

  /**
   * Creates the person (known to the issuer as `holder`), their account and the certificate link in
   * one transaction; returns the person id.
   */
  register(person: PersonIdentity, draft: AccountDraft, certificate: CertificateRef, now: Date, holder?: string): string {
    const id = randomBytes(16).toString('hex');
    const at = now.toISOString();
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO persons (id, name, birth, sex, address, holder, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, person.name, person.birth, person.sex, person.address, holder ?? null, at);
      this.db
        .prepare('INSERT INTO accounts (person_id, nickname, emails, flags, language, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, draft.nickname, JSON.stringify([draft.email1, draft.email2].filter((e) => e !== '')), JSON.stringify(draft.flags), draft.language, at);
      this.linkCertificate(id, certificate, undefined, now);
    })();
    return id;
  }

  getAccount(personId: string): AccountRow | undefined {
    const raw = this.db.prepare('SELECT * FROM accounts WHERE person_id = ?').get(personId) as RawAccount | undefined;
    return (
      raw && {
        personId: raw.person_id,
        nickname: raw.nickname,
        emails: JSON.parse(raw.emails) as string[],
        flags: JSON.parse(raw.flags) as Record<NotificationFlag, boolean>,
        language: raw.language,
        lastLoginAt: raw.last_login_at,
        createdAt: raw.created_at,
      }
    );
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

  // --- applications, signing sessions, submissions -----------------------------------------------

  createApplication(row: Pick<ApplicationRow, 'id' | 'personId' | 'form' | 'document'>, now: Date): void {
    const at = now.toISOString();
    this.db
      .prepare(`INSERT INTO applications (id, person_id, form, document, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'draft', ?, ?)`)
      .run(row.id, row.personId, JSON.stringify(row.form), row.document, at, at);
  }

  getApplication(id: string): ApplicationRow | undefined {
    const raw = this.db.prepare('SELECT * FROM applications WHERE id = ?').get(id) as RawApplication | undefined;
    return (
      raw && {
        id: raw.id,
        personId: raw.person_id,
        form: JSON.parse(raw.form) as Record<string, string>,
        document: raw.document,
        state: raw.state,
        cms: raw.cms ? new Uint8Array(raw.cms) : null,
        signedAt: raw.signed_at,
        createdAt: raw.created_at,
        updatedAt: raw.updated_at,
      }
    );
  }

  createSigningSession(row: Pick<SigningSessionRow, 'id' | 'tokenHash' | 'applicationId' | 'browserSessionId'>, now: Date, expiresAt: Date): void {
    const at = now.toISOString();
    this.db
      .prepare(
        `INSERT INTO signing_sessions (id, token_hash, application_id, browser_session_id, state, created_at, expires_at, updated_at)
         VALUES (?, ?, ?, ?, 'waiting', ?, ?, ?)`,
      )
      .run(row.id, row.tokenHash, row.applicationId, row.browserSessionId, at, expiresAt.toISOString(), at);
  }

  getSigningSession(id: string): SigningSessionRow | undefined {
    const raw = this.db.prepare('SELECT * FROM signing_sessions WHERE id = ?').get(id) as RawSigning | undefined;
    return (
      raw && {
        id: raw.id,
        tokenHash: raw.token_hash,
        applicationId: raw.application_id,
        browserSessionId: raw.browser_session_id,
        state: raw.state,
        failCode: raw.fail_code,
        failMessage: raw.fail_message,
        createdAt: raw.created_at,
        expiresAt: raw.expires_at,
        updatedAt: raw.updated_at,
      }
    );
  }

  /** Ends a waiting signing session as failed; false when it had ended already. */
  failSigningSession(id: string, code: string, message: string, now: Date): boolean {
    return (
      this.db
        .prepare(`UPDATE signing_sessions SET state = 'failed', fail_code = ?, fail_message = ?, updated_at = ? WHERE id = ? AND state = 'waiting'`)
        .run(code, message, now.toISOString(), id).changes === 1
    );
  }

  /**
   * Ends a waiting signing session as signed and stores the verified CMS on its application, in one
   * transaction; false when the session had ended already (a race lost).
   */
  completeSigning(id: string, applicationId: string, cms: Uint8Array, now: Date): boolean {
    const at = now.toISOString();
    return this.db.transaction(() => {
      const moved = this.db.prepare(`UPDATE signing_sessions SET state = 'signed', updated_at = ? WHERE id = ? AND state = 'waiting'`).run(at, id).changes === 1;
      if (!moved) return false;
      this.db
        .prepare(`UPDATE applications SET state = 'signed', cms = ?, signed_at = ?, updated_at = ? WHERE id = ? AND state != 'submitted'`)
        .run(Buffer.from(cms), at, at, applicationId);
      return true;
    })();
  }

  /** Records the submission and marks the application submitted; false when it was submitted already. */
  submitApplication(submission: Omit<SubmissionRow, 'submittedAt'>, now: Date): boolean {
    const at = now.toISOString();
    return this.db.transaction(() => {
      const moved =
        this.db.prepare(`UPDATE applications SET state = 'submitted', updated_at = ? WHERE id = ? AND state = 'signed'`).run(at, submission.applicationId).changes === 1;
      if (!moved) return false;
      this.db
        .prepare('INSERT INTO submissions (id, application_id, person_id, document, cms, submitted_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(submission.id, submission.applicationId, submission.personId, submission.document, Buffer.from(submission.cms), at);
      return true;
    })();
  }

  getSubmission(id: string): SubmissionRow | undefined {
    const raw = this.db.prepare('SELECT * FROM submissions WHERE id = ?').get(id) as
      | { id: string; application_id: string; person_id: string; document: string; cms: Buffer; submitted_at: string }
      | undefined;
    return (
      raw && {
        id: raw.id,
        applicationId: raw.application_id,
        personId: raw.person_id,
        document: raw.document,
        cms: new Uint8Array(raw.cms),
        submittedAt: raw.submitted_at,
      }
    );
  }

  submissionOf(applicationId: string): SubmissionRow | undefined {
    const raw = this.db.prepare('SELECT id FROM submissions WHERE application_id = ?').get(applicationId) as { id: string } | undefined;
    return raw && this.getSubmission(raw.id);
  }

  /** Drops long-expired sessions, nonces and QR sessions, so the file does not grow without end. */
  purge(now: Date): void {
    const before = new Date(now.getTime() - kPurgeAfterMs).toISOString();
    this.db.prepare('DELETE FROM login_nonces WHERE expires_at < ?').run(before);
    this.db.prepare('DELETE FROM qr_sessions WHERE expires_at < ?').run(before);
    this.db.prepare("DELETE FROM signing_sessions WHERE expires_at < ? AND state != 'signed'").run(before);
    this.db.prepare('DELETE FROM sessions WHERE expires_at < ?').run(before);
  }
}
