/**
 * The IdP through inject(): the authorization code flow with the phone app and the emulated card,
 * and the refusals of OAuth 2.0 / the Digital Auth App rules — PKCE S256 required and checked, the
 * redirect URI matched exactly (and never redirected to otherwise), state and nonce required,
 * authorization codes single use and dead after 60 seconds, client authentication.
 */
import { createHash, createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kClientId, kClientSecret, kCitizenUrl, kIssuer, injectWorld, type InjectBrowser, type InjectWorld } from './support/citizen-env.js';

const kRedirectUri = `${kCitizenUrl}/link/callback`;

interface Pkce {
  verifier: string;
  challenge: string;
}

function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(params: Record<string, string | undefined>): string {
  const url = new URL(`${kIssuer}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

function goodParams(p: Pkce, overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    response_type: 'code',
    client_id: kClientId,
    redirect_uri: kRedirectUri,
    scope: 'openid name address birthdate gender',
    state: 'state-123',
    nonce: 'nonce-456',
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
}

function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signed: string; signature: Buffer } {
  const [h, c, s] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>,
    signed: `${h}.${c}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

describe('IdP (Digital Auth App-like OpenID Connect provider)', () => {
  let world: InjectWorld;
  /** Whether the phone app read the card info in the last `authorize`. */
  let lastReadCardInfo: boolean | undefined;

  beforeAll(async () => {
    world = await injectWorld();
  });
  afterAll(async () => {
    await world.close();
  });

  /** Runs /authorize with the phone app; returns the callback URL the browser is sent to. */
  async function authorize(browser: InjectBrowser, p: Pkce, overrides: Record<string, string | undefined> = {}): Promise<URL> {
    const start = await browser.get(authorizeUrl(goodParams(p, overrides)));
    expect(start.status).toBe(303);
    const waiting = await browser.get(start.location!);
    expect(waiting.status).toBe(200);
    expect(waiting.body).toContain('アプリを開く');
    const deepLink = /data-testid="deep-link" href="([^"]+)"/.exec(waiting.body)![1]!.replace(/&amp;/g, '&');
    lastReadCardInfo = (await world.authApp.open(deepLink)).readCardInfo;
    const done = await browser.get(start.location!);
    expect(done.status).toBe(302);
    return new URL(done.location!);
  }

  async function token(fields: Record<string, string | undefined>, auth: 'basic' | 'post' = 'basic', secret = kClientSecret): Promise<{ status: number; json: Record<string, unknown> }> {
    const form = new URLSearchParams(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined));
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${kClientId}:${secret}`).toString('base64')}`;
    else {
      form.set('client_id', kClientId);
      form.set('client_secret', secret);
    }
    const response = await world.idp.inject({ method: 'POST', url: '/token', headers, payload: form.toString() });
    return { status: response.statusCode, json: response.json<Record<string, unknown>>() };
  }

  it('publishes its discovery document and its JWKS', async () => {
    const config = (await world.idp.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json<Record<string, unknown>>();
    expect(config).toMatchObject({ issuer: kIssuer, token_endpoint: `${kIssuer}/token`, code_challenge_methods_supported: ['S256'], response_types_supported: ['code'] });
    const jwks = (await world.idp.inject({ method: 'GET', url: '/jwks' })).json<{ keys: JsonWebKey[] }>();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
  });

  it('issues a code after the card authenticates, and a signed ID token and the basic 4 for it', async () => {
    const p = pkce();
    const callback = await authorize(world.browser(), p);
    // The IdP met this card for the first time: the app read and sent the basic 4.
    expect(lastReadCardInfo).toBe(true);
    expect(`${callback.origin}${callback.pathname}`).toBe(kRedirectUri);
    expect(callback.searchParams.get('state')).toBe('state-123');
    expect(callback.searchParams.get('iss')).toBe(kIssuer);
    const answer = await token({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: kRedirectUri, code_verifier: p.verifier });
    expect(answer.status).toBe(200);
    const jwt = decodeJwt(answer.json.id_token as string);
    const jwks = (await world.idp.inject({ method: 'GET', url: '/jwks' })).json<{ keys: JsonWebKey[] }>();
    const key = createPublicKey({ key: jwks.keys.find((k) => k.kid === jwt.header.kid)!, format: 'jwk' });
    expect(jwt.header.alg).toBe('RS256');
    expect(verify('sha256', Buffer.from(jwt.signed), key, jwt.signature)).toBe(true);
    expect(jwt.claims).toMatchObject({ iss: kIssuer, aud: kClientId, nonce: 'nonce-456' });
    expect(jwt.claims.exp as number).toBeGreaterThan(jwt.claims.iat as number);
    const info = await world.idp.inject({ method: 'GET', url: '/userinfo', headers: { authorization: `Bearer ${answer.json.access_token as string}` } });
    expect(info.statusCode).toBe(200);
    const identity = world.fixture.definition.identity;
    expect(info.json()).toMatchObject({ sub: jwt.claims.sub, name: identity.name });
  });

  it('keeps the same sub for the same person, and does not read the card info again', async () => {
    const subs: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const p = pkce();
      const browser = world.browser();
      const start = await browser.get(authorizeUrl(goodParams(p)));
      const waiting = await browser.get(start.location!);
      const deepLink = /data-testid="deep-link" href="([^"]+)"/.exec(waiting.body)![1]!.replace(/&amp;/g, '&');
      expect((await world.authApp.open(deepLink)).readCardInfo).toBe(false);
      const callback = new URL((await browser.get(start.location!)).location!);
      const answer = await token({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: kRedirectUri, code_verifier: p.verifier }, 'post');
      subs.push(decodeJwt(answer.json.id_token as string).claims.sub);
    }
    expect(subs[0]).toBe(subs[1]);
  });

  it('refuses an unregistered redirect URI on its own page, without redirecting', async () => {
    for (const redirect of ['http://evil.test/link/callback', `${kRedirectUri}/extra`, `${kRedirectUri}?x=1`, undefined]) {
      const response = await world.browser().get(authorizeUrl(goodParams(pkce(), { redirect_uri: redirect })));
      expect(response.status).toBe(400);
      expect(response.location).toBeUndefined();
      expect(response.body).toContain('invalid_request');
    }
    const unknownClient = await world.browser().get(authorizeUrl(goodParams(pkce(), { client_id: 'someone-else' })));
    expect(unknownClient.status).toBe(401);
    expect(unknownClient.location).toBeUndefined();
  });

  it('requires PKCE with S256, state and nonce, refusing back to the client', async () => {
    const cases: [Record<string, string | undefined>, string, string | null][] = [
      [{ code_challenge: undefined }, 'invalid_request', 'state-123'],
      [{ code_challenge_method: 'plain' }, 'invalid_request', 'state-123'],
      [{ code_challenge_method: undefined }, 'invalid_request', 'state-123'],
      [{ state: undefined }, 'invalid_request', null],
      [{ nonce: undefined }, 'invalid_request', 'state-123'],
      [{ response_type: 'token' }, 'unsupported_response_type', 'state-123'],
      [{ scope: 'name address' }, 'invalid_scope', 'state-123'],
    ];
    for (const [overrides, error, state] of cases) {
      const response = await world.browser().get(authorizeUrl(goodParams(pkce(), overrides)));
      expect(response.status).toBe(302);
      const location = new URL(response.location!);
      expect(`${location.origin}${location.pathname}`).toBe(kRedirectUri);
      expect(location.searchParams.get('error')).toBe(error);
      expect(location.searchParams.get('state')).toBe(state);
    }
  });

  it('checks the PKCE verifier at the token endpoint', async () => {
    const p = pkce();
    const code = (await authorize(world.browser(), p)).searchParams.get('code')!;
    const missing = await token({ grant_type: 'authorization_code', code, redirect_uri: kRedirectUri });
    expect(missing).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    const wrong = await token({ grant_type: 'authorization_code', code, redirect_uri: kRedirectUri, code_verifier: pkce().verifier });
    expect(wrong).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    // A failed exchange spends the code: the right verifier comes too late.
    const late = await token({ grant_type: 'authorization_code', code, redirect_uri: kRedirectUri, code_verifier: p.verifier });
    expect(late.json.error).toBe('invalid_grant');
  });

  it('refuses a replayed authorization code and revokes what its first use obtained', async () => {
    const p = pkce();
    const code = (await authorize(world.browser(), p)).searchParams.get('code')!;
    const fields = { grant_type: 'authorization_code', code, redirect_uri: kRedirectUri, code_verifier: p.verifier };
    const first = await token(fields);
    expect(first.status).toBe(200);
    const replay = await token(fields);
    expect(replay).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(replay.json.error_description).toMatch(/already used/);
    const info = await world.idp.inject({ method: 'GET', url: '/userinfo', headers: { authorization: `Bearer ${first.json.access_token as string}` } });
    expect(info.statusCode).toBe(401);
    expect(info.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a code older than 60 seconds', async () => {
    const p = pkce();
    const code = (await authorize(world.browser(), p)).searchParams.get('code')!;
    world.clock.advance(61_000);
    const answer = await token({ grant_type: 'authorization_code', code, redirect_uri: kRedirectUri, code_verifier: p.verifier });
    expect(answer).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(answer.json.error_description).toMatch(/expired/);
  });

  it('authenticates the client and checks the redirect URI of the code', async () => {
    const p = pkce();
    const code = (await authorize(world.browser(), p)).searchParams.get('code')!;
    const wrongSecret = await token({ grant_type: 'authorization_code', code, redirect_uri: kRedirectUri, code_verifier: p.verifier }, 'basic', 'not-the-secret');
    expect(wrongSecret).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    const otherRedirect = await token({ grant_type: 'authorization_code', code, redirect_uri: `${kCitizenUrl}/other`, code_verifier: p.verifier });
    expect(otherRedirect.json.error).toBe('invalid_grant');
    const grant = await token({ grant_type: 'password', code, redirect_uri: kRedirectUri, code_verifier: p.verifier });
    expect(grant.json.error).toBe('unsupported_grant_type');
  });

  it('hands the code only to the browser that started the transaction', async () => {
    const p = pkce();
    const owner = world.browser();
    const start = await owner.get(authorizeUrl(goodParams(p)));
    const stranger = world.browser();
    await stranger.get(authorizeUrl(goodParams(pkce())));
    const stolen = await stranger.get(start.location!);
    expect(stolen.status).toBe(400);
    expect(stolen.body).toContain('access_denied');
  });

  it('refuses a phone that replays a transaction', async () => {
    const browser = world.browser();
    const start = await browser.get(authorizeUrl(goodParams(pkce())));
    const waiting = await browser.get(start.location!);
    const deepLink = /data-testid="deep-link" href="([^"]+)"/.exec(waiting.body)![1]!.replace(/&amp;/g, '&');
    await world.authApp.open(deepLink);
    await expect(world.authApp.open(deepLink)).rejects.toMatchObject({ code: 'TRANSACTION_USED' });
  });

  it('shows on the PC page that the phone failed, when the PIN is wrong', async () => {
    const browser = world.browser();
    const start = await browser.get(authorizeUrl(goodParams(pkce())));
    const waiting = await browser.get(start.location!);
    const deepLink = /data-testid="deep-link" href="([^"]+)"/.exec(waiting.body)![1]!.replace(/&amp;/g, '&');
    await expect(world.authAppWith({ auth: '9999' }).open(deepLink)).rejects.toMatchObject({ code: 'WRONG_PIN', source: 'card' });
    const after = await browser.get(start.location!);
    expect(after.status).toBe(200);
    expect(after.body).toContain('スマートフォンでの認証が完了しませんでした（WRONG_PIN）');
  });
});
