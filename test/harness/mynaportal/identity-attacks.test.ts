/**
 * Identity attacks against the real servers, over HTTP on loopback, with the cards signing
 * in-process as the agents do: the Mynaportal-like portal, the IdP and My Page must take the person
 * from whom the issuer says holds the certificate that signed (never from posted card-info files,
 * never by name, birth date and sex), must let a renewed card into the same account, and the portal
 * must refuse an application signed by somebody other than the applicant it names.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard } from '../../../emulator/index.js';
import { signDocumentWithSignKey } from '../../../harness/agents/card-actions.js';
import { startIdp, type RunningIdp } from '../../../harness/portal/idp/server.js';
import { startMyPage, type RunningMyPage } from '../../../harness/portal/mypage/server.js';
import { portalOptionsFromCaDir } from '../../../harness/portal/mynaportal/portal-options.js';
import { startPortal, type RunningPortal } from '../../../harness/portal/mynaportal/server.js';
import { caWorld, registrationForm, type CaWorld, type TestCard } from './support/portal-fixture.js';

/** A browser over real HTTP: one cookie jar per origin, the page's CSRF token, no redirects followed. */
class HttpBrowser {
  private readonly _jar = new Map<string, string>();
  csrfToken = '';

  async request(method: 'GET' | 'POST', url: string, body?: { json?: unknown; form?: Record<string, string> }): Promise<{ status: number; text: string; location: string | null }> {
    const headers: Record<string, string> = { cookie: [...this._jar].map(([k, v]) => `${k}=${v}`).join('; ') };
    let payload: string | undefined;
    if (body?.json !== undefined) {
      headers['content-type'] = 'application/json';
      headers['x-csrf-token'] = this.csrfToken;
      payload = JSON.stringify(body.json);
    } else if (body?.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams({ _csrf: this.csrfToken, ...body.form }).toString();
    }
    const response = await fetch(url, { method, headers, body: payload, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at);
      const value = pair!.slice(at + 1);
      if (value === '' || /max-age=0|expires=Thu, 01 Jan 1970/i.test(cookie)) this._jar.delete(name);
      else this._jar.set(name, value);
    }
    const text = await response.text();
    const token = /<meta name="csrf-token" content="([^"]+)">|name="_csrf" value="([^"]+)"/.exec(text);
    if (token && response.headers.get('content-type')?.startsWith('text/html')) this.csrfToken = token[1] ?? token[2]!;
    return { status: response.status, text, location: response.headers.get('location') };
  }

  async json<T>(url: string, json: unknown): Promise<{ status: number; body: T }> {
    const response = await this.request('POST', url, { json });
    return { status: response.status, body: JSON.parse(response.text) as T };
  }
}

async function postJson<T>(url: string, json: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
  return { status: response.status, body: (await response.json()) as T };
}

/**
 * The PC login over HTTP: the `signer` card signs the nonce; the card-info step (when asked) posts
 * the files read from `cardInfoOf` — the card itself, or, in the attack, another person's.
 */
async function logIn(portal: RunningPortal, browser: HttpBrowser, signer: TestCard, cardInfoOf: TestCard = signer): Promise<{ status: number; next?: string; code?: string }> {
  await browser.request('GET', `${portal.url}/login`);
  const nonce = (await browser.json<{ nonce: string }>(`${portal.url}/api/login/nonce`, {})).body.nonce;
  const login = await browser.json<{ next?: string; code?: string }>(`${portal.url}/api/login`, { nonce, ...(await signer.signNonce(nonce)) });
  if (login.status !== 200 || login.body.next !== 'card-info') return { status: login.status, ...login.body };
  const link = await browser.json<{ next?: string; code?: string }>(`${portal.url}/api/login/link`, await cardInfoOf.readCardInfo());
  return { status: link.status, ...link.body };
}

/** B-01 → B-02 → 完了 with `nickname`. */
async function register(portal: RunningPortal, browser: HttpBrowser, nickname: string): Promise<void> {
  await browser.request('GET', `${portal.url}/account/new`);
  await browser.request('POST', `${portal.url}/account/confirm`, { form: registrationForm({ nickname }) });
  expect((await browser.request('POST', `${portal.url}/account/register`, { form: {} })).status).toBe(200);
}

async function nicknameOnMenu(portal: RunningPortal, browser: HttpBrowser): Promise<string | undefined> {
  const menu = await browser.request('GET', `${portal.url}/menu`);
  return /data-testid="nickname"[^>]*>([^<]*)</.exec(menu.text)?.[1]?.trim();
}

async function cmsOf(card: TestCard, password: string, document: Uint8Array): Promise<string> {
  const emulated = createMemoryCard(card.image);
  emulated.powerOn();
  return Buffer.from(await signDocumentWithSignKey({ transmit: async (command) => emulated.transmit(command) }, password, document)).toString('base64');
}

describe('identity is bound to the card that authenticated', () => {
  let world: CaWorld;
  let victim: TestCard;
  let attacker: TestCard;
  /** Another person with the victim's name, birth date and sex (and address). */
  let namesake: TestCard;
  /** The victim's next card: new keys and certificates, the same person for the issuer. */
  let renewed: TestCard;
  let portal: RunningPortal;
  let idp: RunningIdp;
  let myPage: RunningMyPage;

  beforeAll(async () => {
    world = caWorld();
    victim = await world.issue('adult');
    attacker = await world.issue('foreign-resident');
    namesake = await world.issue('adult');
    renewed = await world.renew(victim);
    const trust = portalOptionsFromCaDir(world.caDir, { db: ':memory:', revocation: 'none', testMode: true });
    portal = await startPortal({ ...trust, loginRateLimit: false, port: 0 });
    idp = await startIdp({
      ...trust,
      port: 0,
      cookieSecret: 'idp-cookie-secret-0123456789',
      clients: [{ clientId: 'rp', clientSecret: 'rp-secret', name: 'テストRP', redirectUris: ['http://127.0.0.1/callback'] }],
    });
    myPage = await startMyPage({ verifier: trust.verifier, cardInfoPublicKey: trust.cardInfoPublicKey, holders: trust.holders, testMode: true, port: 0 });
  });
  afterAll(async () => {
    await portal?.close();
    await idp?.close();
    await myPage?.close();
    world?.remove();
  });

  describe('the Mynaportal-like portal', () => {
    it('does not let one’s own card into another person’s account with that person’s card-info files', async () => {
      const owner = new HttpBrowser();
      expect(await logIn(portal, owner, victim)).toMatchObject({ status: 200, next: '/account/new' });
      await register(portal, owner, '被害者');

      const intruder = new HttpBrowser();
      const answer = await logIn(portal, intruder, attacker, victim);
      expect(answer).toMatchObject({ status: 403, code: 'CARD_INFO_MISMATCH' });
      expect((await intruder.request('GET', `${portal.url}/menu`)).status).toBe(401);
      // Nor has the attacker's card become a way into the victim's account.
      const again = new HttpBrowser();
      expect(await logIn(portal, again, attacker, attacker)).toMatchObject({ status: 200, next: '/account/new' });
    });

    it('gives two people with the same name, birth date and sex two accounts', async () => {
      const first = new HttpBrowser();
      const firstLogin = await logIn(portal, first, victim);
      expect(firstLogin.next).toBe('/menu');
      expect(await nicknameOnMenu(portal, first)).toBe('被害者');

      const second = new HttpBrowser();
      expect(await logIn(portal, second, namesake)).toMatchObject({ status: 200, next: '/account/new' });
      await register(portal, second, '同姓同名');
      expect(await nicknameOnMenu(portal, second)).toBe('同姓同名');
      expect(await nicknameOnMenu(portal, first)).toBe('被害者');
    });

    it('lets a renewed card into the same account, without the card-info step', async () => {
      const browser = new HttpBrowser();
      await browser.request('GET', `${portal.url}/login`);
      const nonce = (await browser.json<{ nonce: string }>(`${portal.url}/api/login/nonce`, {})).body.nonce;
      const login = await browser.json<{ next: string }>(`${portal.url}/api/login`, { nonce, ...(await renewed.signNonce(nonce)) });
      expect(login).toEqual({ status: 200, body: { next: '/menu' } });
      expect(await nicknameOnMenu(portal, browser)).toBe('被害者');
    });

    it('refuses an application signed with another person’s signature certificate', async () => {
      const owner = new HttpBrowser();
      expect((await logIn(portal, owner, victim)).next).toBe('/menu');
      await owner.request('GET', `${portal.url}/applications/new`);
      const created = await owner.request('POST', `${portal.url}/applications/confirm`, { form: { name: '番号　太郎', address: '東京都千代田区霞が関二丁目1番2号' } });
      expect(created.status).toBe(303);
      const id = /^\/applications\/([A-Za-z0-9_-]+)\/confirm$/.exec(created.location!)![1]!;
      await owner.request('GET', `${portal.url}/applications/${id}/confirm`);
      const start = await owner.json<{ link: string }>(`${portal.url}/api/applications/${id}/signing`, {});
      const link = new URL(start.body.link);
      const s = link.searchParams.get('s')!;
      const t = link.searchParams.get('t')!;
      const documentAnswer = (await (await fetch(`${portal.url}/api/sign/sessions/${s}/document?t=${t}`)).json()) as { document: string };
      const document = Buffer.from(documentAnswer.document, 'base64');

      const foreign = await postJson<{ code: string }>(`${portal.url}/api/sign/sessions/${s}/complete`, { t, cms: await cmsOf(attacker, 'STAY2028', document) });
      expect(foreign).toMatchObject({ status: 403, body: { code: 'APPLICANT_MISMATCH' } });
      const submit = await owner.request('POST', `${portal.url}/applications/${id}/submit`, { form: {} });
      expect(submit.text).toContain('data-code="APPLICATION_NOT_SIGNED"');
    });
  });

  describe('the IdP', () => {
    /** /authorize in a browser, then the phone API by hand: challenge, the card's signature, and card info from `cardInfoOf`. */
    async function authenticate(signer: TestCard, cardInfoOf: TestCard): Promise<{ complete: { next?: string; code?: string }; cardInfo?: { status: number; body: { next?: string; code?: string } } }> {
      const verifier = randomBytes(32).toString('base64url');
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: 'rp',
        redirect_uri: 'http://127.0.0.1/callback',
        scope: 'openid name address birthdate gender',
        state: 'state-1',
        nonce: 'nonce-1',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      const browser = new HttpBrowser();
      const start = await browser.request('GET', `${idp.url}/authorize?${query.toString()}`);
      const waiting = await browser.request('GET', new URL(start.location!, idp.url).href);
      const deepLink = new URL(/data-testid="deep-link" href="([^"]+)"/.exec(waiting.text)![1]!.replace(/&amp;/g, '&'));
      const tx = { tx: deepLink.searchParams.get('tx')!, t: deepLink.searchParams.get('t')! };
      const challenge = (await postJson<{ challenge: string }>(`${idp.url}/api/app/challenge`, tx)).body.challenge;
      const complete = (await postJson<{ next?: string; code?: string }>(`${idp.url}/api/app/complete`, { ...tx, ...(await signer.signNonce(challenge)) })).body;
      if (complete.next !== 'card-info') return { complete };
      return { complete, cardInfo: await postJson(`${idp.url}/api/app/card-info`, { ...tx, ...(await cardInfoOf.readCardInfo()) }) };
    }

    it('does not make one’s own card another person’s identity with that person’s card-info files', async () => {
      const first = await authenticate(victim, victim);
      expect(first.cardInfo).toMatchObject({ status: 200, body: { next: 'done' } });
      const attack = await authenticate(attacker, victim);
      expect(attack.cardInfo).toMatchObject({ status: 403, body: { code: 'CARD_INFO_MISMATCH' } });
      // Nothing was linked: the attacker's card is still unknown to the IdP.
      expect((await authenticate(attacker, attacker)).complete.next).toBe('card-info');
    });

    it('keeps a renewed card with its person, and two namesakes apart', async () => {
      expect((await authenticate(renewed, renewed)).complete.next).toBe('done');
      expect((await authenticate(namesake, namesake)).cardInfo).toMatchObject({ status: 200 });
      const store = idp.app.idpContext.store;
      const subjects = [victim, renewed, namesake].map((card) => store.subjectOfCertificate(certificateKey(card)));
      expect(subjects[0]).toBeDefined();
      expect(subjects[1]).toBe(subjects[0]);
      expect(subjects[2]).toBeDefined();
      expect(subjects[2]).not.toBe(subjects[0]);
    });
  });

  describe('My Page', () => {
    /** The account is made directly (signing up is not what is attacked); the link goes over HTTP as the xID app does it. */
    const accounts = new Map<string, string>();
    async function link(accountEmail: string, signer: TestCard, cardInfoOf: TestCard): Promise<{ status: number; body: { linked?: boolean; code?: string } }> {
      const ctx = myPage.app.myPageContext;
      let accountId = accounts.get(accountEmail);
      if (!accountId) {
        accountId = ctx.store.createAccount({ email: accountEmail, passwordHash: 'unused', nickname: accountEmail.split('@')[0]! }, new Date()).id;
        accounts.set(accountEmail, accountId);
      }
      const account = { id: accountId };
      const { transaction, token } = ctx.transactions.open(account.id);
      const tx = { tx: transaction.id, t: token };
      const challenge = (await postJson<{ challenge: string }>(`${myPage.url}/api/xid/challenge`, tx)).body.challenge;
      return postJson(`${myPage.url}/api/xid/link`, { ...tx, ...(await signer.signNonce(challenge)), ...(await cardInfoOf.readCardInfo()) });
    }

    it('does not link one’s own card under another person’s card-info files', async () => {
      expect(await link('victim@example.jp', victim, victim)).toMatchObject({ status: 200, body: { linked: true } });
      expect(await link('intruder@example.jp', attacker, victim)).toMatchObject({ status: 403, body: { code: 'CARD_INFO_MISMATCH' } });
      const intruder = myPage.app.myPageContext.store;
      expect(intruder.accountOfCertificate(certificateKey(attacker))).toBeUndefined();
    });

    it('keeps one account per person: a renewed card stays with it, a namesake gets their own', async () => {
      expect(await link('other@example.jp', renewed, renewed)).toMatchObject({ status: 409, body: { code: 'CARD_ALREADY_LINKED' } });
      expect(await link('victim@example.jp', renewed, renewed)).toMatchObject({ status: 200, body: { linked: true } });
      expect(await link('namesake@example.jp', namesake, namesake)).toMatchObject({ status: 200, body: { linked: true } });
    });
  });
});

/** `<issuer>\n<serial>` of a card's authentication certificate, as the IdP and My Page key them. */
function certificateKey(card: TestCard): string {
  const der = Buffer.from(card.image.applets.jpki.files['000A']!, 'base64');
  const x509 = new X509Certificate(der);
  return `${x509.issuer.split('\n').join(', ')}\n${x509.serialNumber.toUpperCase()}`;
}
