/**
 * What the portal tests share: a test CA with cards issued from it, an emulated card driven by
 * the host JPKI client (standing in for the PC agent and the phone agent: it signs nonces and reads
 * the card-info AP exactly as they do), a portal built from the CA directory with a clock the test
 * moves, and a browser-like cookie jar around `app.inject()`.
 */
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { createMemoryCard, type CardImage } from '../../../../emulator/index.js';
import { toBase64 } from '../../../../iso7816/bytes.js';
import { JpkiClient, sha256DigestInfo } from '../../../../harness/jpki/jpki-client.js';
import { buildApp, type PortalOptions } from '../../../../harness/portal/mynaportal/app.js';
import { portalOptionsFromCaDir, type CaDirectorySettings } from '../../../../harness/portal/mynaportal/portal-options.js';
import type { CardDefinition } from '../../../../emulator/index.js';
import { issueFixture, tempDir } from '../../../support/cards.js';

export const kCookieSecret = 'portal-test-cookie-secret-0123456789';

/** A clock the test sets and moves; starts at the real time so freshly issued certificates are valid. */
export class TestClock {
  private _now: number;
  constructor(start = Date.now()) {
    this._now = start;
  }
  readonly now = (): Date => new Date(this._now);
  advance(ms: number): void {
    this._now += ms;
  }
  set(at: Date): void {
    this._now = at.getTime();
  }
}

/** An emulated card in a reader, with what the agents do with it. */
export class TestCard {
  readonly client: JpkiClient;
  constructor(
    readonly image: CardImage,
    readonly pin: string,
  ) {
    const card = createMemoryCard(image);
    card.powerOn();
    this.client = new JpkiClient({ transmit: async (command) => card.transmit(command) });
  }

  /** The agent's `sign`: the auth key signs the SHA-256 DigestInfo of the nonce. */
  async signNonce(nonceB64: string): Promise<{ signature: string; certificate: string }> {
    await this.client.verifyPin('auth', this.pin);
    const signature = await this.client.signDigestInfo('auth', sha256DigestInfo(Buffer.from(nonceB64, 'base64')));
    const certificate = await this.client.readCertificate('auth');
    return { signature: toBase64(signature), certificate: toBase64(certificate) };
  }

  /** The agent's `readCardInfo`: kenhojo EF 0002 and EF 0003 as read, after the 4-digit PIN. */
  async readCardInfo(): Promise<{ basic4: string; basic4Signature: string }> {
    await this.client.verifyPin('kenhojo', this.pin);
    return { basic4: toBase64(await this.readTlvFile(0x0002)), basic4Signature: toBase64(await this.readTlvFile(0x0003)) };
  }

  /** Reads a whole BER-TLV EF: the header first, then exactly the rest. */
  private async readTlvFile(fid: number): Promise<Uint8Array> {
    await this.client.selectEf(fid);
    const head = await this.client.readBinary(0, 5);
    const l = head[2]!;
    const total = l < 0x80 ? 3 + l : l === 0x81 ? 4 + head[3]! : 5 + ((head[3]! << 8) | head[4]!);
    const out = new Uint8Array(total);
    let offset = 0;
    while (offset < total) {
      const chunk = await this.client.readBinary(offset, Math.min(256, total - offset));
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

export interface CaWorld {
  dir: string;
  caDir: string;
  /** Issues a card from scenarios/cards/<name>.yaml with this CA: each issuance is another person (a My Number of their own). */
  issue(name: string, change?: (d: CardDefinition) => CardDefinition): Promise<TestCard>;
  /** A renewed card of the holder of `card`: new keys and certificates, the same person (My Number) for the issuer. */
  renew(card: TestCard, name?: string): Promise<TestCard>;
  remove(): void;
}

export function caWorld(): CaWorld {
  const dir = tempDir('jpki-hil-portal-');
  return {
    dir: dir.path,
    caDir: join(dir.path, 'ca'),
    async issue(name, change) {
      const fixture = await issueFixture(dir.path, name, change);
      return new TestCard(fixture.image, fixture.definition.pins.auth);
    },
    async renew(card, name = 'adult') {
      const fixture = await issueFixture(dir.path, name, (d) => ({ ...d, identity: { ...d.identity, myNumber: card.image.identity.myNumber } }));
      return new TestCard(fixture.image, fixture.definition.pins.auth);
    },
    remove: () => dir.remove(),
  };
}

/** A portal over the CA directory: in-memory database, the test's clock, details in errors. */
export async function portalFor(world: CaWorld, clock: TestClock, settings: Partial<CaDirectorySettings> = {}, override: Partial<PortalOptions> = {}): Promise<FastifyInstance> {
  const options = portalOptionsFromCaDir(world.caDir, { db: ':memory:', revocation: 'none', now: clock.now, testMode: true, cookieSecret: kCookieSecret, ...settings });
  return buildApp({ ...options, ...override });
}

/** A browser: keeps the session cookie between requests and knows its page's CSRF token. */
export class Browser {
  private readonly _cookies = new Map<string, string>();
  csrfToken = '';

  constructor(readonly app: FastifyInstance) {}

  get cookies(): Record<string, string> {
    return Object.fromEntries(this._cookies);
  }

  private _keep(response: LightMyRequestResponse): LightMyRequestResponse {
    for (const cookie of response.cookies as { name: string; value: string; expires?: Date; maxAge?: number }[]) {
      const cleared = cookie.value === '' || (cookie.expires !== undefined && cookie.expires.getTime() <= Date.now()) || cookie.maxAge === 0;
      if (cleared) this._cookies.delete(cookie.name);
      else this._cookies.set(cookie.name, cookie.value);
    }
    const token = /<meta name="csrf-token" content="([^"]+)">|name="_csrf" value="([^"]+)"/.exec(response.body);
    if (token && response.headers['content-type']?.toString().startsWith('text/html')) this.csrfToken = token[1] ?? token[2]!;
    return response;
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    return this._keep(await this.app.inject({ method: 'GET', url, cookies: this.cookies }));
  }

  /** A script's JSON POST with the CSRF header. */
  async postJson(url: string, payload: unknown, headers: Record<string, string> = { 'x-csrf-token': this.csrfToken }): Promise<LightMyRequestResponse> {
    return this._keep(await this.app.inject({ method: 'POST', url, payload: payload as object, headers, cookies: this.cookies }));
  }

  /** A form POST with the hidden CSRF field (unless the test overrides it). */
  async postForm(url: string, fields: Record<string, string>, withCsrf = true): Promise<LightMyRequestResponse> {
    const body = new URLSearchParams(withCsrf ? { _csrf: this.csrfToken, ...fields } : fields).toString();
    return this._keep(
      await this.app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, cookies: this.cookies }),
    );
  }

  /** The PC login of docs/portal-protocols.md, with `card` in the reader; returns where the page goes. */
  async loginWithCard(card: TestCard): Promise<string> {
    if (!this.csrfToken) await this.get('/login');
    const nonce = await this.postJson('/api/login/nonce', {});
    if (nonce.statusCode !== 200) throw new Error(`nonce: ${nonce.statusCode} ${nonce.body}`);
    const signed = await card.signNonce(nonce.json<{ nonce: string }>().nonce);
    const login = await this.postJson('/api/login', { nonce: nonce.json<{ nonce: string }>().nonce, ...signed });
    if (login.statusCode !== 200) throw new Error(`login: ${login.statusCode} ${login.body}`);
    let next = login.json<{ next: string }>().next;
    if (next === 'card-info') {
      const link = await this.postJson('/api/login/link', await card.readCardInfo());
      if (link.statusCode !== 200) throw new Error(`link: ${link.statusCode} ${link.body}`);
      next = link.json<{ next: string }>().next;
    }
    // The login script goes to `next`; the page there carries the session's new CSRF token.
    await this.get(next);
    return next;
  }
}

/** The text inside the element with `data-testid`, tags stripped (enough for the server's own markup). */
export function byTestId(body: string, testId: string): string | undefined {
  const m = new RegExp(`<([a-z0-9]+)[^>]*data-testid="${testId}"[^>]*>([\\s\\S]*?)</\\1>`).exec(body);
  return m ? m[2]!.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim() : undefined;
}

/** The value attribute of the input with `data-testid`. */
export function inputValue(body: string, testId: string): string | undefined {
  const tag = new RegExp(`<input[^>]*data-testid="${testId}"[^>]*>`).exec(body)?.[0];
  return tag ? /value="([^"]*)"/.exec(tag)?.[1] : undefined;
}

export function isChecked(body: string, testId: string): boolean {
  const tag = new RegExp(`<input[^>]*data-testid="${testId}"[^>]*>`).exec(body)?.[0];
  if (!tag) throw new Error(`no input with data-testid="${testId}"`);
  return / checked(\s|>|$)/.test(tag);
}

/** The registration form filled in as a person would, the guide's example values by default. */
export function registrationForm(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    nickname: 'マイナ父',
    email1: 'maina_dad@example.com',
    email1_confirm: 'maina_dad@example.com',
    email2: '',
    email2_confirm: '',
    language_ja: 'on',
    notify_info: 'on',
    notify_notices: 'on',
    notify_settings: 'on',
    notify_connections: 'on',
    notify_storage: 'on',
    notify_login: 'on',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined));
}

// jsqr is CommonJS with an `exports.default`: Node's ESM loader hands over the exports object,
// vitest's interop the function itself.
const jsQR = (typeof jsQRModule === 'function' ? jsQRModule : jsQRModule.default) as typeof jsQRModule.default;

/** Reads a QR code off a PNG data URL, as the phone agent reads it off a screenshot. */
export function decodeQrDataUrl(dataUrl: string): string {
  const prefix = 'data:image/png;base64,';
  if (!dataUrl.startsWith(prefix)) throw new Error(`not a PNG data URL: ${dataUrl.slice(0, 40)}`);
  const png = PNG.sync.read(Buffer.from(dataUrl.slice(prefix.length), 'base64'));
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  if (!decoded) throw new Error('no QR code found in the image');
  return decoded.data;
}
