/**
 * People, their accounts and the certificates linked to them: who a login is, found by a known
 * certificate or by what the issuer says holds it (shared/holders.ts), and registration.
 */
import { randomBytes } from 'node:crypto';
import type { AccountDraft, NotificationFlag } from '../account-form.js';
import type { PortalDatabase } from '../db.js';
import type { PersonIdentity } from '../../shared/card-info.js';

export interface CertificateRef {
  issuer: string;
  /** Upper-case hex, as the verifier reports it. */
  serial: string;
  kind: 'auth' | 'sign';
  /** ISO-8601. */
  notAfter: string;
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

interface RawAccount {
  person_id: string;
  nickname: string;
  emails: string;
  flags: string;
  language: string;
  last_login_at: string | null;
  created_at: string;
}

export class PeopleStore {
  constructor(private readonly db: PortalDatabase) {}


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
}
