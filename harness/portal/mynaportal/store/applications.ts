/**
 * Online applications: the drafts, the signing sessions that hand a document to the signing app,
 * and the submissions with their CMS signatures.
 */
import type { PortalDatabase } from '../db.js';

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

export class ApplicationStore {
  constructor(private readonly db: PortalDatabase) {}


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
}
