/**
 * Every query the portal makes, as typed methods over prepared statements, in three parts: logins
 * (sessions, nonces, QR sessions), people (persons, accounts, certificates) and applications.
 * Routes never write SQL; they ask the store. Times are ISO-8601 UTC strings (sortable as text)
 * and are always passed in, so the injected clock decides every expiry.
 */
import type { PortalDatabase } from './db.js';
import { ApplicationStore } from './store/applications.js';
import { LoginStore } from './store/logins.js';
import { PeopleStore } from './store/people.js';

/** Rows that expired this long ago are deleted: long enough that a replay still meets NONCE_USED. */
const kPurgeAfterMs = 60 * 60 * 1000;

export class PortalStore {
  readonly logins: LoginStore;
  readonly people: PeopleStore;
  readonly applications: ApplicationStore;

  constructor(readonly db: PortalDatabase) {
    this.logins = new LoginStore(db, (now) => this.purge(now));
    this.people = new PeopleStore(db);
    this.applications = new ApplicationStore(db);
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
