/**
 * Identity attacks a QA team wants in its own suite, as custom steps. The scenario's card is the
 * attacker's own, valid card; `otherCard` is somebody else's, from the same test CA.
 *
 *   registerOtherPerson       the other person logs in with their card and registers (B-01 → 完了)
 *   loginWithOtherCardInfo    the attacker's card signs the login, but the card-info step posts the
 *                             other person's files (read once from their card): the portal must not
 *                             open the other person's account (with: { expectCode?, default CARD_INFO_MISMATCH })
 *   signWithOtherCard         the application on the page is signed on the phone with the other
 *                             person's card: the portal must refuse it (with: { card, password?, expectCode? })
 *
 * A portal that lets the attack through fails the step as a product defect.
 */
import { JpkiClient, PhoneError, sha256DigestInfo, SigningApp, type CustomStepContext, type Reader } from 'jpki-hil/steps';

function text(ctx: CustomStepContext, key: string, fallback?: string): string {
  const value = ctx.args[key];
  if (typeof value === 'string' && value !== '') return value;
  if (fallback !== undefined) return fallback;
  throw new Error(`with.${key} is required`);
}

/** Reads a whole BER-TLV EF of the selected AP: the header first, then exactly the rest. */
async function readTlvFile(client: JpkiClient, fid: number): Promise<Uint8Array> {
  await client.selectEf(fid);
  const head = await client.readBinary(0, 5);
  const l = head[2]!;
  const total = l < 0x80 ? 3 + l : l === 0x81 ? 4 + head[3]! : 5 + ((head[3]! << 8) | head[4]!);
  const out = new Uint8Array(total);
  for (let offset = 0; offset < total; ) {
    const chunk = await client.readBinary(offset, Math.min(256, total - offset));
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** What the agent sends for a card: the nonce signed with the auth key, and the certificate. */
async function signNonce(reader: Reader, pin: string, nonceB64: string): Promise<{ signature: string; certificate: string }> {
  const connection = await reader.connect();
  try {
    const client = new JpkiClient(connection);
    await client.verifyPin('auth', pin);
    const signature = await client.signDigestInfo('auth', sha256DigestInfo(Buffer.from(nonceB64, 'base64')));
    const certificate = await client.readCertificate('auth');
    return { signature: Buffer.from(signature).toString('base64'), certificate: Buffer.from(certificate).toString('base64') };
  } finally {
    await connection.disconnect('reset').catch(() => undefined);
  }
}

/** kenhojo EF 0002 and EF 0003, after the 4-digit PIN: the card-info files. */
async function readCardInfo(reader: Reader, pin: string): Promise<{ basic4: string; basic4Signature: string }> {
  const connection = await reader.connect();
  try {
    const client = new JpkiClient(connection);
    await client.verifyPin('kenhojo', pin);
    return { basic4: Buffer.from(await readTlvFile(client, 0x0002)).toString('base64'), basic4Signature: Buffer.from(await readTlvFile(client, 0x0003)).toString('base64') };
  } finally {
    await connection.disconnect('reset').catch(() => undefined);
  }
}

interface Answer {
  status: number;
  body: { next?: string; code?: string; detail?: string };
}

/** The login page's API calls, from `cookies` (a jar of our own) or the scenario's page (its context's cookies). */
class LoginClient {
  private _csrf = '';
  private readonly _cookies = new Map<string, string>();
  constructor(
    private readonly _ctx: CustomStepContext,
    private readonly _ownJar: boolean,
  ) {}

  private async _fetch(path: string, init: { method: string; json?: unknown; form?: Record<string, string> }): Promise<{ status: number; text: string }> {
    const url = `${this._ctx.baseUrl}${path}`;
    const headers: Record<string, string> = { 'x-csrf-token': this._csrf };
    let data: string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      data = JSON.stringify(init.json);
    } else if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      data = new URLSearchParams({ _csrf: this._csrf, ...init.form }).toString();
    }
    let status: number;
    let body: string;
    if (this._ownJar) {
      headers.cookie = [...this._cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const response = await fetch(url, { method: init.method, headers, body: data, redirect: 'manual', signal: this._ctx.signal });
      for (const cookie of response.headers.getSetCookie()) {
        const pair = cookie.split(';', 1)[0]!;
        const at = pair.indexOf('=');
        this._cookies.set(pair.slice(0, at), pair.slice(at + 1));
      }
      status = response.status;
      body = await response.text();
    } else {
      const response = await this._ctx.page.request.fetch(url, { method: init.method, headers, ...(data !== undefined ? { data } : {}), maxRedirects: 0 });
      status = response.status();
      body = await response.text();
    }
    const token = /<meta name="csrf-token" content="([^"]+)">|name="_csrf" value="([^"]+)"/.exec(body);
    if (token) this._csrf = token[1] ?? token[2]!;
    return { status, text: body };
  }

  async json(path: string, json: unknown): Promise<Answer> {
    const response = await this._fetch(path, { method: 'POST', json });
    return { status: response.status, body: JSON.parse(response.text) as Answer['body'] };
  }

  async get(path: string): Promise<{ status: number; text: string }> {
    return this._fetch(path, { method: 'GET' });
  }

  async form(path: string, form: Record<string, string>): Promise<{ status: number; text: string }> {
    return this._fetch(path, { method: 'POST', form });
  }

  /** The PC login: `signer` signs the nonce; the card-info step posts `cardInfo`. */
  async logIn(signer: { reader: Reader; pin: string }, cardInfo: () => Promise<{ basic4: string; basic4Signature: string }>): Promise<Answer> {
    await this.get('/login');
    const nonce = await this.json('/api/login/nonce', {});
    if (nonce.status !== 200) throw this._ctx.fail.product(`POST /api/login/nonce answered ${nonce.status} ${nonce.body.code ?? ''}`);
    const nonceB64 = (nonce.body as { nonce?: string }).nonce!;
    const login = await this.json('/api/login', { nonce: nonceB64, ...(await signNonce(signer.reader, signer.pin, nonceB64)) });
    if (login.status !== 200 || login.body.next !== 'card-info') return login;
    return this.json('/api/login/link', await cardInfo());
  }
}

/** The other person logs in with their own card and registers an account named `with.nickname`. */
export async function registerOtherPerson(ctx: CustomStepContext): Promise<void> {
  const other = await ctx.otherCard(text(ctx, 'card'));
  const nickname = text(ctx, 'nickname');
  const client = new LoginClient(ctx, true);
  const answer = await client.logIn({ reader: other.reader, pin: other.pins.auth }, () => readCardInfo(other.reader, other.pins.kenhojo));
  if (answer.status !== 200 || answer.body.next !== '/account/new') throw ctx.fail.product(`the other person's first login answered ${answer.status} ${JSON.stringify(answer.body)}, expected registration`);
  await client.get('/account/new');
  await client.form('/account/confirm', { nickname, email1: 'other@example.jp', email1_confirm: 'other@example.jp', language_ja: 'on' });
  const done = await client.form('/account/register', {});
  if (done.status !== 200 || !done.text.includes(nickname)) throw ctx.fail.product(`registering the other person answered ${done.status}`);
  ctx.saved.otherNickname = nickname;
  ctx.log(`the other person (${text(ctx, 'card')}) registered as ${nickname}`);
}

/**
 * The replay: the scenario's own card signs, the other person's card-info files are posted. Passes
 * when the portal refuses with `expectCode` (default CARD_INFO_MISMATCH); a login that lands in an
 * account — above all the other person's — is the product's defect.
 */
export async function loginWithOtherCardInfo(ctx: CustomStepContext): Promise<void> {
  const other = await ctx.otherCard(text(ctx, 'card'));
  const expected = text(ctx, 'expectCode', 'CARD_INFO_MISMATCH');
  const client = new LoginClient(ctx, false);
  const answer = await client.logIn({ reader: ctx.reader, pin: ctx.card.pins.auth }, () => readCardInfo(other.reader, other.pins.kenhojo));
  if (answer.status === 200 && answer.body.next === '/menu') {
    const menu = await ctx.page.goto(`${ctx.baseUrl}/menu`);
    const nickname = (await ctx.page.getByTestId('nickname').textContent().catch(() => null))?.trim();
    throw ctx.fail.product(
      `the portal logged the attacker's card into an account (${menu?.status() ?? '?'} /menu, nickname ${nickname ?? 'unknown'}${ctx.saved.otherNickname && nickname?.includes(ctx.saved.otherNickname) ? ': the other person’s' : ''}) on the strength of another person's card-info files`,
    );
  }
  if (answer.body.code !== expected) {
    throw ctx.fail.product(`the card-info replay answered ${answer.status} ${answer.body.next ?? answer.body.code ?? ''}, expected the refusal ${expected}`);
  }
  ctx.log(`the portal refused the other person's card-info files: ${answer.status} ${expected}${answer.body.detail ? ` (${answer.body.detail})` : ''}`);
}

/** AP-02's 「署名アプリ」を開く, with the other person's card in the phone: the portal must refuse the signature. */
export async function signWithOtherCard(ctx: CustomStepContext): Promise<void> {
  const other = await ctx.otherCard(text(ctx, 'card'));
  const expected = text(ctx, 'expectCode', 'APPLICANT_MISMATCH');
  let link: string | null = null;
  // The page script puts the link there once the portal has opened the hand-off.
  while (!link?.startsWith('jpkihil-sign://')) {
    if (ctx.signal.aborted) throw ctx.fail.product(`AP-02 shows no signing link (sign-deeplink: ${link ?? 'none'})`);
    link = await ctx.page.getByTestId('sign-deeplink').first().getAttribute('href', { timeout: 1000 }).catch(() => null);
    if (!link?.startsWith('jpkihil-sign://')) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const app = new SigningApp({ reader: other.reader, name: 'simulated phone (signing app, another person’s card)', log: ctx.log });
  app.openDeepLink(link);
  try {
    await app.review();
    await app.consentAndSign(text(ctx, 'password', other.pins.sign));
  } catch (e) {
    if (e instanceof PhoneError && e.code === expected) {
      ctx.log(`the portal refused the signature of another person: ${e.code}`);
      return;
    }
    if (e instanceof PhoneError) throw ctx.fail.product(`signing with another person's card failed with ${e.code}, expected ${expected}: ${e.message}`);
    throw e;
  }
  throw ctx.fail.product(`the portal accepted the application signed with another person's signature certificate (expected ${expected})`);
}
