/**
 * The Digital Auth App-like phone app: it opens the IdP's deep link (tapped on the phone, or read
 * from the PC's screen as a QR code) and proves the person with the card — the IdP's challenge
 * signed with the authentication key after the 4-digit PIN, which never leaves the phone — and, the
 * first time the IdP meets the card, reads the basic 4 from the card-info AP for the IdP to check.
 * The card work is the agents' shared card-actions.ts; the QR decoding is the simulated phone's.
 */
import { toBase64 } from '../../../iso7816/bytes.js';
import type { CardConnection, Reader } from '../../readers/reader.js';
import { readCardInfo, signNonceWithAuthKey, toCardActionError, type CardActionCode } from '../card-actions.js';
import { parseStrictBase64 } from '../strict-base64.js';
import { PhoneError, parseTransactionLink, requestJson } from './phone-http.js';
import { SimulatedPhone } from './simulated-phone.js';

/** The deep link's path under the IdP; the link is `<idp>/app/auth?tx=<transaction>&t=<token>`. */
export const kAuthAppLinkPath = '/app/auth';

export interface AuthAppLink {
  /** The IdP's base URL, without a trailing slash. */
  idp: string;
  transaction: string;
  token: string;
}

export interface AuthAppOptions {
  reader: Reader;
  /** The 4-digit authentication PIN, and the card-info PIN when it differs. */
  pins: { auth: string; kenhojo?: string };
  fetch?: typeof fetch;
  name?: string;
  cardWaitMs?: number;
  log?: (line: string) => void;
}

export interface AuthAppResult {
  /** True when the IdP asked for the card info (its first meeting with this card). */
  readCardInfo: boolean;
  /** The relying party as the IdP names it, shown by the app before the PIN. */
  client: string;
}


export function parseAuthAppLink(link: string): AuthAppLink {
  const { base, transaction, token } = parseTransactionLink(link, kAuthAppLinkPath, 'an authentication link <idp>');
  return { idp: base, transaction, token };
}

export class AuthApp {
  readonly name: string;
  private readonly _options: AuthAppOptions;
  private readonly _fetch: typeof fetch;
  private readonly _log: (line: string) => void;

  constructor(options: AuthAppOptions) {
    this._options = options;
    this.name = options.name ?? 'auth app';
    this._fetch = options.fetch ?? globalThis.fetch;
    this._log = options.log ?? (() => undefined);
  }

  /** The link in a screenshot of the PC's screen, as the camera reads the QR code. */
  scanQr(png: Uint8Array): string {
    return new SimulatedPhone({ reader: this._options.reader, pins: this._options.pins, name: this.name }).scanQr(png);
  }

  /** Authenticates the transaction of a deep link with the card. */
  async open(link: string): Promise<AuthAppResult> {
    const parsed = parseAuthAppLink(link);
    const ids = { tx: parsed.transaction, t: parsed.token };
    let connection: CardConnection | undefined;
    try {
      await this._options.reader.waitForCard(this._options.cardWaitMs ?? 5000);
      connection = await this._options.reader.connect();
      const challenge = await this._post(parsed, '/api/app/challenge', ids);
      const data = typeof challenge.challenge === 'string' ? parseStrictBase64(challenge.challenge) : undefined;
      if (data === undefined) throw new PhoneError('PORTAL_ERROR', `${this.name}: the challenge has no base64 "challenge"`, 'portal');
      const client = typeof challenge.client === 'string' ? challenge.client : '';
      const signed = await signNonceWithAuthKey(connection, this._options.pins.auth, data);
      const completed = await this._post(parsed, '/api/app/complete', { ...ids, signature: toBase64(signed.signature), certificate: toBase64(signed.certificate) });
      if (completed.next !== 'card-info') return { readCardInfo: false, client };
      const files = await readCardInfo(connection, this._options.pins.kenhojo ?? this._options.pins.auth);
      await this._post(parsed, '/api/app/card-info', { ...ids, basic4: toBase64(files.basic4), basic4Signature: toBase64(files.basic4Signature) });
      return { readCardInfo: true, client };
    } catch (e) {
      if (e instanceof PhoneError) throw e;
      const failure = toCardActionError(e);
      this._log(`${this.name}: ${failure.code}: ${(failure.cause as Error | undefined)?.message ?? failure.message}`);
      await this._reportFailure(parsed, failure.code);
      throw new PhoneError(failure.code, failure.message, 'card', failure.triesLeft, { cause: e });
    } finally {
      await connection?.disconnect('reset').catch(() => undefined);
    }
  }

  private async _reportFailure(link: AuthAppLink, code: CardActionCode): Promise<void> {
    try {
      await this._post(link, '/api/app/fail', { tx: link.transaction, t: link.token, code });
    } catch (e) {
      this._log(`${this.name}: could not report ${code} to the IdP: ${(e as Error).message}`);
    }
  }

  private async _post(link: AuthAppLink, path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return requestJson(this._fetch, this.name, `${link.idp}${path}`, { method: 'POST', body });
  }
}
