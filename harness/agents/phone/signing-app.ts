/**
 * The simulated signing app (the guides' TASKポータルアプリ / マイナサイン): a portal hands an
 * application over to it by a deep link (the phone alone) or a QR code on the PC's screen (PC with
 * phone); the app shows what is to be signed (申請先, 申請名, 申請日), and once the person consents
 * and types the signature password it has the card sign the document as a CMS SignedData and
 * posts it back (docs/portal-protocols.md, "Online application with an electronic signature").
 *
 *   openDeepLink(url) | scanQr(png) → review() → consentAndSign(password)
 *
 * The card work is ../card-actions.ts; QR decoding is the login phone's (./simulated-phone.ts).
 */
import { toBase64 } from '../../../iso7816/bytes.js';
import type { CardConnection, Reader } from '../../readers/reader.js';
import { signDocumentWithSignKey, toCardActionError, type CardActionCode } from '../card-actions.js';
import { parseStrictBase64 } from '../strict-base64.js';
import { kExcerpt, PhoneError, requestJson } from './phone-http.js';
import { SimulatedPhone } from './simulated-phone.js';

/** The deep-link scheme of the signing app. */
export const kSigningScheme = 'jpkihil-sign:';
/** The https form of the same hand-off: `<portal>/m/sign?s=<id>&t=<token>`. */
export const kSigningLandingPath = '/m/sign';

/** What a signing hand-off carries, in either form. */
export interface SigningPayload {
  /** The portal's base URL, without a trailing slash. */
  portal: string;
  session: string;
  token: string;
}

/** What the app shows before the person consents (以下の申請に署名します). */
export interface SigningSummary {
  recipient: string;
  title: string;
  /** 申請日, YYYY-MM-DD. */
  appliedOn: string;
}

export interface SigningReview {
  summary: SigningSummary;
  /** The canonical application document that will be signed, byte for byte. */
  document: Uint8Array;
}

/** The password of the signature certificate: 6 to 16 upper-case letters and digits. */
export const kSignPasswordPattern = /^[A-Z0-9]{6,16}$/;

export interface SigningAppOptions {
  reader: Reader;
  fetch?: typeof fetch;
  name?: string;
  cardWaitMs?: number;
  /** The signing-time attribute; the phone's clock by default. */
  now?: () => Date;
  log?: (line: string) => void;
}


/** Reads a hand-off: `jpkihil-sign://sign?s=&t=&portal=` or `<portal>/m/sign?s=&t=`; anything else is QR_INVALID. */
export function parseSigningPayload(payload: string): SigningPayload {
  const invalid = (): PhoneError =>
    new PhoneError('QR_INVALID', `"${payload.slice(0, kExcerpt)}" is not a signing hand-off (${kSigningScheme}//sign?s=&t=&portal= or <portal>${kSigningLandingPath}?s=&t=)`, 'phone');
  let url: URL;
  try {
    url = new URL(payload);
  } catch {
    throw invalid();
  }
  const session = url.searchParams.get('s');
  const token = url.searchParams.get('t');
  if (!session || !token) throw invalid();
  if (url.protocol === kSigningScheme) {
    const portal = url.searchParams.get('portal');
    if (url.host !== 'sign' || !portal || !/^https?:\/\//.test(portal)) throw invalid();
    return { portal: portal.replace(/\/+$/, ''), session, token };
  }
  if ((url.protocol === 'http:' || url.protocol === 'https:') && url.pathname.endsWith(kSigningLandingPath)) {
    return { portal: `${url.origin}${url.pathname.slice(0, -kSigningLandingPath.length)}`, session, token };
  }
  throw invalid();
}

export class SigningApp {
  readonly name: string;
  private readonly _reader: Reader;
  private readonly _fetch: typeof fetch;
  private readonly _cardWaitMs: number;
  private readonly _now: () => Date;
  private readonly _log: (line: string) => void;
  private _payload: SigningPayload | undefined;
  private _review: SigningReview | undefined;

  constructor(options: SigningAppOptions) {
    this.name = options.name ?? 'signing app';
    this._reader = options.reader;
    this._fetch = options.fetch ?? globalThis.fetch;
    this._cardWaitMs = options.cardWaitMs ?? 5000;
    this._now = options.now ?? (() => new Date());
    this._log = options.log ?? (() => undefined);
  }

  /** The app opened by the portal's link (the phone alone). */
  openDeepLink(url: string): SigningPayload {
    this._payload = parseSigningPayload(url);
    this._review = undefined;
    return this._payload;
  }

  /** The app's camera on the PC's screen: decodes the QR code and opens what it holds. */
  scanQr(png: Uint8Array): SigningPayload {
    const scanner = new SimulatedPhone({ reader: this._reader, pins: { auth: '' }, name: this.name });
    return this.openDeepLink(scanner.scanQr(png));
  }

  /** Fetches what is to be signed and returns the summary the app shows (申請先, 申請名, 申請日). */
  async review(): Promise<SigningSummary> {
    const payload = this._opened();
    const url = `${payload.portal}/api/sign/sessions/${encodeURIComponent(payload.session)}/document?t=${encodeURIComponent(payload.token)}`;
    const answer = await this._request(url, { method: 'GET' });
    const summary = answer.summary as Partial<SigningSummary> | undefined;
    const document = typeof answer.document === 'string' ? parseStrictBase64(answer.document) : undefined;
    if (!summary || typeof summary.recipient !== 'string' || typeof summary.title !== 'string' || typeof summary.appliedOn !== 'string' || !document) {
      throw new PhoneError('PORTAL_ERROR', `${this.name}: the document answer lacks a summary or a base64 document`, 'portal');
    }
    this._review = { summary: { recipient: summary.recipient, title: summary.title, appliedOn: summary.appliedOn }, document };
    return this._review.summary;
  }

  /** The document as reviewed (what consentAndSign signs). */
  get reviewed(): SigningReview | undefined {
    return this._review;
  }

  /**
   * 同意する, then the password and the card: the password is upper-cased as the real apps do and
   * refused here (PASSWORD_FORMAT, the card untouched) unless it is 6–16 letters and digits. A card
   * failure is reported to the portal, so the PC page can say what happened, and thrown.
   */
  async consentAndSign(password: string): Promise<{ ok: true }> {
    const payload = this._opened();
    const review = this._review ?? (await this.review(), this._review!);
    const upper = password.toUpperCase();
    if (!kSignPasswordPattern.test(upper)) {
      throw new PhoneError('PASSWORD_FORMAT', '署名用電子証明書のパスワードは、英数字6文字以上16文字以下で入力してください。', 'phone');
    }
    let connection: CardConnection | undefined;
    let cms: Uint8Array;
    try {
      await this._reader.waitForCard(this._cardWaitMs);
      connection = await this._reader.connect();
      cms = await signDocumentWithSignKey(connection, upper, review.document, this._now());
    } catch (e) {
      const failure = toCardActionError(e);
      this._log(`${this.name}: ${failure.code}: ${(failure.cause as Error | undefined)?.message ?? failure.message}`);
      await this._report(payload, failure.code, failure.triesLeft);
      throw new PhoneError(failure.code, failure.message, 'card', failure.triesLeft, { cause: e });
    } finally {
      await connection?.disconnect('reset').catch(() => undefined);
    }
    const url = `${payload.portal}/api/sign/sessions/${encodeURIComponent(payload.session)}/complete`;
    await this._request(url, { method: 'POST', body: { t: payload.token, cms: toBase64(cms) } });
    return { ok: true };
  }

  private _opened(): SigningPayload {
    if (!this._payload) throw new PhoneError('QR_INVALID', `${this.name}: no signing request opened (openDeepLink or scanQr first)`, 'phone');
    return this._payload;
  }

  private async _report(payload: SigningPayload, code: CardActionCode, triesLeft: number | undefined): Promise<void> {
    const url = `${payload.portal}/api/sign/sessions/${encodeURIComponent(payload.session)}/fail`;
    try {
      await this._request(url, { method: 'POST', body: { t: payload.token, code, ...(triesLeft === undefined ? {} : { triesLeft }) } });
    } catch (e) {
      this._log(`${this.name}: could not report ${code} to the portal: ${(e as Error).message}`);
    }
  }

  /** JSON in and out; a `{ code, message }` refusal becomes a PhoneError with the portal's code. */
  private async _request(url: string, init: { method: 'GET' | 'POST'; body?: Record<string, unknown> }): Promise<Record<string, unknown>> {
    return requestJson(this._fetch, this.name, url, init);
  }
}
