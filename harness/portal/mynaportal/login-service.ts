/**
 * The login decisions shared by the PC login (`/api/login*`) and the QR login (`/api/qr/login/*`):
 * issuing and spending one-time nonces, verifying the signed nonce through the verification
 * service, recognising a known certificate, and finding the person behind a new certificate by
 * asking the issuer who holds it (holders.ts) — never by the card info the client posts, which
 * only fills the registration in. Both flows end in the same browser session; only who carries
 * the bytes differs.
 */
import { randomBytes } from 'node:crypto';
import { fromBase64, toBase64 } from '../../../iso7816/bytes.js';
import { CardInfoError, verifyCardInfo, type PersonIdentity } from '../shared/card-info.js';
import { kLoginStepTtlMs, kRegistrationTtlMs, later, type PortalContext } from './context.js';
import { isPortalErrorCode, PortalError } from './errors.js';
import { HolderDirectoryError, type CertificateHolder } from '../shared/holders.js';
import type { PendingLogin } from './store/logins.js';
import type { CertificateRef } from './store/people.js';

/** The posted card info checked (shared/card-info.ts), a refusal answered from this portal's registry. */
export function checkedCardInfo(ctx: PortalContext, basic4B64: string, basic4SignatureB64: string, holder?: CertificateHolder): PersonIdentity {
  try {
    return verifyCardInfo(fromBase64(basic4B64), fromBase64(basic4SignatureB64), ctx.cardInfoKey, holder);
  } catch (e) {
    if (e instanceof CardInfoError) throw new PortalError(e.code, e.detail);
    throw e;
  }
}

export type NonceOwner = { sessionId: string } | { qrSessionId: string };

export const kNonceBytes = 32;

export function issueNonce(ctx: PortalContext, owner: NonceOwner): { nonce: string; expiresAt: string } {
  const now = ctx.now();
  const nonce = toBase64(randomBytes(kNonceBytes));
  const expiresAt = later(now, kLoginStepTtlMs);
  ctx.store.logins.createNonce(nonce, owner, now, expiresAt);
  return { nonce, expiresAt: expiresAt.toISOString() };
}

/**
 * Spends a nonce: it must exist, belong to `owner`, be unused and unexpired. A nonce of another
 * session answers NONCE_UNKNOWN and stays unspent, so nobody can burn someone else's challenge.
 * Returns the nonce bytes (what the card signed).
 */
export function spendNonce(ctx: PortalContext, nonceB64: string, owner: NonceOwner): Uint8Array {
  const bytes = fromBase64(nonceB64);
  // Look up the canonical encoding, so that a client re-encoding the same bytes is not refused.
  const nonce = toBase64(bytes);
  const row = ctx.store.logins.getNonce(nonce);
  const mine = row && ('sessionId' in owner ? row.sessionId === owner.sessionId : row.qrSessionId === owner.qrSessionId);
  if (!row || !mine) throw new PortalError('NONCE_UNKNOWN', 'this nonce was not issued to this session');
  if (row.usedAt) throw new PortalError('NONCE_USED', `the nonce was used at ${row.usedAt}`);
  const now = ctx.now();
  if (Date.parse(row.expiresAt) <= now.getTime()) throw new PortalError('NONCE_EXPIRED', `the nonce expired at ${row.expiresAt}`);
  if (!ctx.store.logins.useNonce(nonce, now)) throw new PortalError('NONCE_USED', 'the nonce was used by a concurrent request');
  return bytes;
}

function isoOrAsIs(text: string): string {
  const t = Date.parse(text);
  return Number.isNaN(t) ? text : new Date(t).toISOString();
}

/**
 * Verifies the card's signature over the nonce with the authentication certificate (chain,
 * validity, signature, revocation, in that order, by the verification service). Each refusal
 * becomes the registry code of the same name.
 */
export async function verifyLoginSignature(ctx: PortalContext, nonce: Uint8Array, signatureB64: string, certificateB64: string): Promise<CertificateRef> {
  let result;
  try {
    result = await ctx.verifier.verifySignature(
      { certificate: fromBase64(certificateB64), signature: fromBase64(signatureB64), data: nonce, algorithm: 'sha256', kind: 'auth' },
      { at: ctx.now() },
    );
  } catch (e) {
    // A verifier that cannot decide (revocation source down) says so with a coded error.
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && isPortalErrorCode(code)) throw new PortalError(code, (e as Error).message);
    throw e;
  }
  if (result.code !== 'OK') {
    const code: string = result.code;
    throw new PortalError(isPortalErrorCode(code) ? code : 'INTERNAL_ERROR', result.detail);
  }
  const summary = result.certificate;
  if (!summary) throw new PortalError('UNSUPPORTED_CERTIFICATE', 'the verifier accepted the signature but did not identify the certificate');
  return { issuer: summary.issuer, serial: summary.serial, kind: 'auth', notAfter: isoOrAsIs(summary.notAfter) };
}

export type LoginNext = '/menu' | 'card-info';
export type LinkNext = '/menu' | '/account/new';

/**
 * Who the issuer says holds `certificate`: HOLDER_UNKNOWN when it knows nobody (a certificate this
 * portal cannot tie to a person must not open or make an account), HOLDER_UNAVAILABLE when it
 * cannot be asked.
 */
export async function holderOf(ctx: PortalContext, certificate: Pick<CertificateRef, 'issuer' | 'serial'>): Promise<CertificateHolder> {
  let holder: CertificateHolder | undefined;
  try {
    holder = await ctx.holders.holderOf(certificate.issuer, certificate.serial);
  } catch (e) {
    if (e instanceof HolderDirectoryError) throw new PortalError('HOLDER_UNAVAILABLE', e.message);
    throw e;
  }
  if (!holder) throw new PortalError('HOLDER_UNKNOWN', `the issuer's register knows no holder of certificate ${certificate.serial}`);
  return holder;
}

/**
 * A verified certificate: log the session in when it is linked to a person, or when the issuer
 * says it belongs to a person who has an account (a renewed card: the same account, no card-info
 * step); else wait for card info to fill the registration in.
 */
export async function finishSignatureStep(ctx: PortalContext, sessionId: string, certificate: CertificateRef): Promise<LoginNext> {
  const linked = ctx.store.people.findCertificate(certificate.issuer, certificate.serial);
  if (linked) {
    ctx.store.logins.logIn(sessionId, linked.personId, certificate, ctx.now());
    return '/menu';
  }
  // The flaw skips the issuer: whoever the card info names will be the person (linkCardInfo).
  const holder = ctx.flaws.has('trust-client-card-info') ? undefined : await holderOf(ctx, certificate);
  const now = ctx.now();
  const known = holder && ctx.store.people.findPersonByHolder(holder.person);
  if (known) {
    if (!ctx.store.people.findCertificate(certificate.issuer, certificate.serial)) ctx.store.people.linkCertificate(known.id, certificate, undefined, now);
    ctx.store.logins.logIn(sessionId, known.id, certificate, now);
    return '/menu';
  }
  ctx.store.logins.setPending(sessionId, { stage: 'card-info', certificate, ...(holder ? { holder } : {}), expiresAt: later(now, kLoginStepTtlMs).toISOString() });
  return 'card-info';
}

/** The login waiting for card info in `pending`, or LOGIN_PENDING_EXPIRED. */
export function pendingCardInfo(ctx: PortalContext, pending: PendingLogin | null): Extract<PendingLogin, { stage: 'card-info' }> {
  if (!pending || pending.stage !== 'card-info') throw new PortalError('LOGIN_PENDING_EXPIRED', 'no login is waiting for card info in this session');
  if (Date.parse(pending.expiresAt) <= ctx.now().getTime()) throw new PortalError('LOGIN_PENDING_EXPIRED', `the pending login expired at ${pending.expiresAt}`);
  return pending;
}

/**
 * The card info step of a person the portal does not know yet: the basic 4 must verify with the
 * card-info key *and* be the ones the issuer wrote into the card whose certificate signed
 * (CARD_INFO_MISMATCH otherwise: files read from somebody else's card once). They fill the
 * registration in; the account will belong to the issuer's person id, whatever the files say.
 */
export function linkCardInfo(ctx: PortalContext, sessionId: string, pending: PendingLogin | null, basic4B64: string, basic4SignatureB64: string): LinkNext {
  const waiting = pendingCardInfo(ctx, pending);
  const flawed = ctx.flaws.has('trust-client-card-info');
  if (!flawed && !waiting.holder) throw new PortalError('LOGIN_PENDING_EXPIRED', 'the pending login was made before the issuer was asked; log in again');
  const person = checkedCardInfo(ctx, basic4B64, basic4SignatureB64, flawed ? undefined : waiting.holder);
  const now = ctx.now();
  // Registered meanwhile (another browser, a phone): this card joins that account.
  const existing = waiting.holder ? ctx.store.people.findPersonByHolder(waiting.holder.person) : ctx.store.people.findPerson(person);
  if (existing) {
    if (!ctx.store.people.findCertificate(waiting.certificate.issuer, waiting.certificate.serial)) {
      ctx.store.people.linkCertificate(existing.id, waiting.certificate, person.address, now);
    }
    ctx.store.logins.logIn(sessionId, existing.id, waiting.certificate, now);
    return '/menu';
  }
  ctx.store.logins.setPending(sessionId, {
    stage: 'register',
    certificate: waiting.certificate,
    person,
    ...(waiting.holder ? { holder: waiting.holder.person } : {}),
    expiresAt: later(now, kRegistrationTtlMs).toISOString(),
  });
  return '/account/new';
}
