/**
 * The xID-like phone app of the Sendai guide (seeds/004, クロスアイディアプリ): it opens My Page's
 * linking deep link (tapped on the phone, or read from the PC's screen as a QR code) and links the
 * card — the portal's challenge signed with the authentication key after the 4-digit card PIN, and
 * the basic 4 read from the card-info AP, both posted to the portal, which checks them.
 *
 * The app has its own PIN besides the card's: on first use (「利用を開始する」 → 「ID有効化のため、PIN
 * を設定する」) the person sets it, later uses ask for it (「認証のためPINを入力する」). It stays on the
 * phone, stored only as a salted scrypt hash, and is never sent anywhere. The guide states no rules
 * for it; ours: 4 digits, not one digit repeated, not a run (1234, 9876); 5 wrong entries in a row
 * lock the app until it is set up again (`reset()`), as a phone app's local lock does.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { toBase64 } from '../../../iso7816/bytes.js';
import type { CardConnection, Reader } from '../../readers/reader.js';
import { readCardInfo, signNonceWithAuthKey, toCardActionError } from '../card-actions.js';
import { parseStrictBase64 } from '../strict-base64.js';
import { PhoneError, parseTransactionLink, requestJson } from './phone-http.js';
import { SimulatedPhone } from './simulated-phone.js';

/** The deep link's path under the portal; the link is `<portal>/xid/link?tx=<transaction>&t=<token>`. */
export const kXidLinkPath = '/xid/link';
export const kXidPinMaxTries = 5;

export interface XidLink {
  /** The portal's base URL, without a trailing slash. */
  portal: string;
  transaction: string;
  token: string;
}

export interface XidAppOptions {
  reader: Reader;
  /** The card's 4-digit authentication PIN, and the card-info PIN when it differs. */
  cardPins: { auth: string; kenhojo?: string };
  fetch?: typeof fetch;
  name?: string;
  cardWaitMs?: number;
  log?: (line: string) => void;
}

export interface XidLinkResult {
  /** True when this use set the app PIN (the app's first use). */
  firstUse: boolean;
  /** The name on the card, as the portal confirmed it. */
  name: string;
}


/** Why an app PIN is refused as a new PIN, or undefined when it is acceptable. */
export function xidPinProblem(pin: string): string | undefined {
  if (!/^[0-9]{4}$/.test(pin)) return 'the app PIN is 4 digits';
  if (/^(.)\1{3}$/.test(pin)) return 'the app PIN repeats one digit';
  const steps = [1, 2, 3].map((i) => Number(pin[i]) - Number(pin[i - 1]));
  if (steps.every((d) => d === 1) || steps.every((d) => d === -1)) return 'the app PIN is a run of digits';
  return undefined;
}

export function parseXidLink(link: string): XidLink {
  const { base, transaction, token } = parseTransactionLink(link, kXidLinkPath, 'a linking link <portal>');
  return { portal: base, transaction, token };
}

export class XidApp {
  readonly name: string;
  private readonly _options: XidAppOptions;
  private readonly _fetch: typeof fetch;
  private readonly _log: (line: string) => void;
  private _pinHash: { salt: Buffer; hash: Buffer } | undefined;
  private _wrongTries = 0;

  constructor(options: XidAppOptions) {
    this._options = options;
    this.name = options.name ?? 'xID app';
    this._fetch = options.fetch ?? globalThis.fetch;
    this._log = options.log ?? (() => undefined);
  }

  /** Whether the app PIN has been set (the app has been used). */
  get isSetUp(): boolean {
    return this._pinHash !== undefined;
  }

  /** Wrong app PIN entries left before the app locks. */
  get pinTriesLeft(): number {
    return kXidPinMaxTries - this._wrongTries;
  }

  /** Forgets the app PIN, as reinstalling the app does. */
  reset(): void {
    this._pinHash = undefined;
    this._wrongTries = 0;
  }

  /** The link in a screenshot of the PC's screen, as the camera reads the QR code. */
  scanQr(png: Uint8Array): string {
    return new SimulatedPhone({ reader: this._options.reader, pins: this._options.cardPins, name: this.name }).scanQr(png);
  }

  /**
   * Links the card through a deep link. `appPin` sets the app PIN on first use and is checked on
   * later uses; a refused app PIN stops here, before the portal or the card hear of anything.
   */
  async link(link: string, appPin: string): Promise<XidLinkResult> {
    const parsed = parseXidLink(link);
    const firstUse = this._unlock(appPin);
    const ids = { tx: parsed.transaction, t: parsed.token };
    let connection: CardConnection | undefined;
    try {
      await this._options.reader.waitForCard(this._options.cardWaitMs ?? 5000);
      connection = await this._options.reader.connect();
      const challenge = await this._post(parsed, '/api/xid/challenge', ids);
      const data = typeof challenge.challenge === 'string' ? parseStrictBase64(challenge.challenge) : undefined;
      if (data === undefined) throw new PhoneError('PORTAL_ERROR', `${this.name}: the challenge has no base64 "challenge"`, 'portal');
      const signed = await signNonceWithAuthKey(connection, this._options.cardPins.auth, data);
      const files = await readCardInfo(connection, this._options.cardPins.kenhojo ?? this._options.cardPins.auth);
      const linked = await this._post(parsed, '/api/xid/link', {
        ...ids,
        signature: toBase64(signed.signature),
        certificate: toBase64(signed.certificate),
        basic4: toBase64(files.basic4),
        basic4Signature: toBase64(files.basic4Signature),
      });
      return { firstUse, name: typeof linked.name === 'string' ? linked.name : '' };
    } catch (e) {
      if (e instanceof PhoneError) throw e;
      const failure = toCardActionError(e);
      this._log(`${this.name}: ${failure.code}: ${(failure.cause as Error | undefined)?.message ?? failure.message}`);
      throw new PhoneError(failure.code, failure.message, 'card', failure.triesLeft, { cause: e });
    } finally {
      await connection?.disconnect('reset').catch(() => undefined);
    }
  }

  /** Sets the app PIN on first use (returns true) or checks it (returns false); throws when refused. */
  private _unlock(appPin: string): boolean {
    if (!this._pinHash) {
      const problem = xidPinProblem(appPin);
      if (problem) throw new PhoneError('APP_PIN_INVALID', `${this.name}: ${problem}`, 'phone');
      const salt = randomBytes(16);
      this._pinHash = { salt, hash: scryptSync(appPin, salt, 32) };
      this._wrongTries = 0;
      return true;
    }
    if (this._wrongTries >= kXidPinMaxTries) throw new PhoneError('APP_PIN_LOCKED', `${this.name}: the app is locked after ${kXidPinMaxTries} wrong app PINs; set it up again`, 'phone', 0);
    if (timingSafeEqual(scryptSync(appPin, this._pinHash.salt, 32), this._pinHash.hash)) {
      this._wrongTries = 0;
      return false;
    }
    this._wrongTries += 1;
    const left = kXidPinMaxTries - this._wrongTries;
    if (left === 0) throw new PhoneError('APP_PIN_LOCKED', `${this.name}: wrong app PIN; the app is now locked`, 'phone', 0);
    throw new PhoneError('APP_PIN_WRONG', `${this.name}: wrong app PIN, ${left} tries left`, 'phone', left);
  }

  private async _post(link: XidLink, path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return requestJson(this._fetch, this.name, `${link.portal}${path}`, { method: 'POST', body });
  }
}
