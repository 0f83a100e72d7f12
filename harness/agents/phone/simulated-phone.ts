/**
 * The simulated phone: a smartphone app that reads the portal's QR code from the PC's screen (a
 * screenshot decoded, as a camera would) and logs the PC in with the card over "NFC" — any Reader,
 * the in-process emulator in CI. It speaks the QR login API of docs/portal-protocols.md ("QR login"):
 * challenge → the card signs the nonce with the auth key → complete → (for a card the portal does not
 * know) card-info → link, and reports its own failures to `/fail` so that the PC page can say what
 * happened on the phone.
 *
 * The card work is the PC agent's (../card-actions.ts), so the two flows differ only where the
 * devices do.
 */
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { toBase64 } from '../../../iso7816/bytes.js';
import type { CardConnection, Reader } from '../../readers/reader.js';
import { readCardInfo, signNonceWithAuthKey, toCardActionError, type CardActionCode } from '../card-actions.js';
import { parseStrictBase64 } from '../strict-base64.js';
import { kExcerpt, PhoneError, requestJson } from './phone-http.js';

export { PhoneError, type PhoneErrorSource } from './phone-http.js';

/**
 * Codes of the phone's own failures; a portal refusal keeps the portal's code (QR_EXPIRED,
 * QR_ALREADY_USED, QR_UNKNOWN, …) and a card failure the card-action code.
 */
export type PhoneOwnCode = 'BAD_IMAGE' | 'QR_NOT_FOUND' | 'QR_INVALID' | 'PORTAL_UNREACHABLE' | 'PORTAL_ERROR';

export interface SimulatedPhoneOptions {
  /** The card as the phone reaches it (over NFC on a real phone). */
  reader: Reader;
  /** What the person types into the app: the 4-digit auth PIN, and the card-info PIN when it differs. */
  pins: { auth: string; kenhojo?: string };
  fetch?: typeof fetch;
  /** For messages and logs, e.g. the phone profile's name. */
  name?: string;
  /** How long the app waits for the card to be held to the phone. */
  cardWaitMs?: number;
  log?: (line: string) => void;
}

export interface QrLoginResult {
  /** Where the portal sends the PC page next ("/menu", "/account/new", …). */
  next?: string;
  /** True when the portal asked for the card info and the phone linked it. */
  linked?: boolean;
}

/** What the QR code carries: `<portal>/m/qr-login?s=<id>&t=<token>`. */
export interface QrLoginPayload {
  /** The portal's base URL (origin and any path prefix), without a trailing slash. */
  portal: string;
  session: string;
  token: string;
}

// jsqr is CommonJS with `exports.default` typed as an ES default export: under NodeNext the default
// import is the whole module object to TypeScript, and its `default` is the function at run time too.
const jsQR = jsQRModule.default;

const kQrLoginPath = '/m/qr-login';
const kDefaultCardWaitMs = 5000;
/** Enough of a portal's unexpected answer to tell what it was, not a whole error page. */

/** Reads the QR payload; a QR that is not a login QR of this protocol is QR_INVALID. */
export function parseQrLoginPayload(payload: string): QrLoginPayload {
  let url: URL;
  try {
    url = new URL(payload);
  } catch {
    throw new PhoneError('QR_INVALID', `the QR code holds "${payload.slice(0, kExcerpt)}", not a URL`, 'phone');
  }
  const session = url.searchParams.get('s');
  const token = url.searchParams.get('t');
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.pathname.endsWith(kQrLoginPath) || !session || !token) {
    throw new PhoneError('QR_INVALID', `the QR code holds ${payload.slice(0, kExcerpt)}, not a login URL <portal>${kQrLoginPath}?s=<id>&t=<token>`, 'phone');
  }
  return { portal: `${url.origin}${url.pathname.slice(0, -kQrLoginPath.length)}`, session, token };
}

export class SimulatedPhone {
  readonly name: string;
  private readonly _reader: Reader;
  private readonly _pins: { auth: string; kenhojo?: string };
  private readonly _fetch: typeof fetch;
  private readonly _cardWaitMs: number;
  private readonly _log: (line: string) => void;

  constructor(options: SimulatedPhoneOptions) {
    this.name = options.name ?? 'simulated phone';
    this._reader = options.reader;
    this._pins = options.pins;
    this._fetch = options.fetch ?? globalThis.fetch;
    this._cardWaitMs = options.cardWaitMs ?? kDefaultCardWaitMs;
    this._log = options.log ?? (() => undefined);
  }

  /** Decodes the QR code in a screenshot (PNG), as the camera would find it on the PC's screen. */
  scanQr(png: Uint8Array): string {
    let image: PNG;
    try {
      image = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
    } catch (e) {
      throw new PhoneError('BAD_IMAGE', `${this.name}: the screenshot is not a PNG image (${(e as Error).message})`, 'phone', undefined, { cause: e });
    }
    const pixels = new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    const code = jsQR(pixels, image.width, image.height);
    if (!code || code.data === '') {
      throw new PhoneError(
        'QR_NOT_FOUND',
        `${this.name}: no QR code found in the ${image.width}×${image.height} screenshot; is the QR code on screen, whole and uncovered?`,
        'phone',
      );
    }
    return code.data;
  }

  /**
   * Logs the PC in with the QR's session: the card is held to the phone first (the app asks for it
   * before it starts, and keeps the NFC session through the portal round trips), then challenge,
   * signature, complete, and the card info when the portal asks for it.
   */
  async loginWithQr(payload: string): Promise<QrLoginResult> {
    const qr = parseQrLoginPayload(payload);
    const session = { s: qr.session, t: qr.token };
    let connection: CardConnection | undefined;
    try {
      connection = await this._holdCard();
      const challenge = await this._post(qr, '/api/qr/login/challenge', session);
      const nonce = parseStrictBase64(challenge.nonce);
      if (nonce === undefined) throw new PhoneError('PORTAL_ERROR', `${this.name}: the challenge has no base64 "nonce"`, 'portal');
      const signed = await signNonceWithAuthKey(connection, this._pins.auth, nonce);
      const completed = await this._post(qr, '/api/qr/login/complete', {
        ...session,
        nonce: challenge.nonce,
        signature: toBase64(signed.signature),
        certificate: toBase64(signed.certificate),
      });
      if (completed.next !== 'card-info') return typeof completed.next === 'string' ? { next: completed.next } : {};
      // The app asks for one 4-digit PIN; the card-info AP gets the same one unless the scenario says otherwise.
      const files = await readCardInfo(connection, this._pins.kenhojo ?? this._pins.auth);
      const linked = await this._post(qr, '/api/qr/login/link', { ...session, basic4: toBase64(files.basic4), basic4Signature: toBase64(files.basic4Signature) });
      return typeof linked.next === 'string' ? { next: linked.next, linked: true } : { linked: true };
    } catch (e) {
      // The portal already knows about its own refusals, and the phone's app errors concern nobody else.
      if (e instanceof PhoneError) throw e;
      const failure = toCardActionError(e);
      this._log(`${this.name}: ${failure.code}: ${(failure.cause as Error | undefined)?.message ?? failure.message}`);
      await this._reportFailure(qr, failure.code);
      throw new PhoneError(failure.code, failure.message, 'card', failure.triesLeft, { cause: e });
    } finally {
      await connection?.disconnect('reset').catch(() => undefined);
    }
  }

  private async _holdCard(): Promise<CardConnection> {
    await this._reader.waitForCard(this._cardWaitMs);
    return this._reader.connect();
  }

  /** Tells the portal why the phone gave up; a failure to tell is logged, never hides the reason itself. */
  private async _reportFailure(qr: QrLoginPayload, code: CardActionCode): Promise<void> {
    try {
      await this._post(qr, '/api/qr/login/fail', { s: qr.session, t: qr.token, code });
    } catch (e) {
      this._log(`${this.name}: could not report ${code} to the portal: ${(e as Error).message}`);
    }
  }

  /** POSTs JSON; a `{ code, message }` error answer becomes a PhoneError with the portal's code. */
  private async _post(qr: QrLoginPayload, path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return requestJson(this._fetch, this.name, `${qr.portal}${path}`, { method: 'POST', body });
  }
}
