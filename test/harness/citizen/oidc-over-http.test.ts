/**
 * The city portal's OpenID Connect client (openid-client) against the real IdP, both listening on
 * loopback, the phone app proving the person with the emulated card over HTTP: the link passes as
 * the guide shows it, and an authorization response whose `iss` (RFC 9207) is missing or names
 * another issuer is refused before the code is spent — the IdP advertises
 * `authorization_response_iss_parameter_supported`, so a client must insist on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser, httpWorld, kClientId, kClientSecret, type HttpWorld } from './support/citizen-env.js';

describe('city portal ↔ IdP over loopback HTTP', () => {
  let world: HttpWorld;
  let counter = 0;

  beforeAll(async () => {
    world = await httpWorld();
  });
  afterAll(async () => {
    await world.close();
  });

  const u = (path: string): string => `${world.citizen.url}${path}`;

  async function lastCode(channel: 'sms' | 'email', to: string): Promise<string> {
    const messages = (await world.outbox(channel)).filter((m) => m.to === to);
    expect(messages.length).toBeGreaterThan(0);
    return messages.at(-1)!.code;
  }

  async function register(browser: HttpBrowser): Promise<void> {
    counter += 1;
    const phone = `0805555${String(counter).padStart(4, '0')}`;
    const email = `http${counter}@example.jp`;
    expect((await browser.submit(u('/register/terms'), u('/register/terms'))).location).toBe(u('/register/phone'));
    expect((await browser.submit(u('/register/phone'), u('/register/phone'), { phone })).location).toBe(u('/register/phone/code'));
    expect((await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code: await lastCode('sms', phone) })).location).toBe(u('/register/email'));
    expect((await browser.submit(u('/register/email'), u('/register/email'), { email, password: 'passw0rd-test', nickname: 'のべおか' })).location).toBe(u('/register/email/code'));
    expect((await browser.submit(u('/register/email/code'), u('/register/email/code'), { code: await lastCode('email', email) })).location).toBe(u('/register/confirm'));
    expect((await browser.submit(u('/register/confirm'), u('/register/confirm'))).location).toBe(u('/mypage'));
  }

  /** 「連携する」 → the IdP → the phone app with the card → the IdP's redirect; returns the callback URL, not yet followed. */
  async function authorize(browser: HttpBrowser): Promise<URL> {
    const toIdp = await browser.submit(u('/link'), u('/link/start'));
    expect(toIdp.location!.startsWith(`${world.idp.url}/authorize?`)).toBe(true);
    const wait = await browser.get(toIdp.location!);
    const page = await browser.get(wait.location!);
    const deepLink = /data-testid="deep-link" href="([^"]+)"/.exec(page.body)![1]!.replace(/&amp;/g, '&');
    await world.authApp.open(deepLink);
    const back = await browser.get(wait.location!);
    expect(back.status).toBe(302);
    return new URL(back.location!);
  }

  it('links the city ID: discovery, PKCE, iss, the ID token and userinfo all pass openid-client', async () => {
    const browser = new HttpBrowser();
    await register(browser);
    const callback = await authorize(browser);
    expect(callback.searchParams.get('iss')).toBe(world.idp.url);
    const linked = await browser.get(callback.href);
    expect(linked.status).toBe(200);
    expect(linked.body).toContain('連携が完了しました');
    expect(linked.body).toContain(world.fixture.definition.identity.name);
  });

  it.each([
    ['without iss', (url: URL) => url.searchParams.delete('iss'), /&quot;iss&quot; \(issuer\) missing/],
    ['with the iss of another IdP (a mix-up)', (url: URL) => url.searchParams.set('iss', 'http://127.0.0.1:9'), /unexpected &quot;iss&quot;/],
  ])('refuses the authorization response %s, and the code stays unspent', async (_name, tamper, detail) => {
    const browser = new HttpBrowser();
    await register(browser);
    const callback = await authorize(browser);
    const tampered = new URL(callback.href);
    tamper(tampered);
    const refused = await browser.get(tampered.href);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('data-code="LINK_STATE_INVALID"');
    expect(refused.body).toMatch(detail);
    // The client never went to the token endpoint: the code is unspent there (the IdP says so before it
    // checks the verifier, which only the portal's session held).
    const token = await fetch(`${world.idp.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: u('/link/callback'), code_verifier: 'v'.repeat(43), client_id: kClientId, client_secret: kClientSecret }),
    });
    expect(token.status).toBe(400);
    expect(await token.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/code_verifier does not match/) });
  });
});
