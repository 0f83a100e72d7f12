/**
 * The city portal's OpenID Connect client (openid-client) against a provider that misbehaves on
 * purpose: the authorization response is believed only with the IdP's iss (RFC 9207, required since
 * the provider advertises it) and the state sent; an ID token only with a signature by a key of the
 * IdP's JWKS, the IdP's iss, this client as aud, the nonce of the request and an exp in the future;
 * every request has a deadline; plain http only for a loopback IdP.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OidcClient, isLoopbackUrl } from '../../../harness/portal/citizen/oidc-client.js';
import { signingKeyFrom, signJwt } from '../../../harness/portal/idp/jwt.js';

const kIssuer = 'http://127.0.0.1:8451';
const kClient = 'city';
const kRedirectUri = 'http://city.test/link/callback';
const idpKey = signingKeyFrom();
const otherKey = signingKeyFrom(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

interface Seen {
  token?: URLSearchParams;
  authorization?: string;
  urls: string[];
}

/** A provider over `fetch` whose token endpoint answers with the given ID token. */
function provider(idToken: string, seen: Seen = { urls: [] }, options: { issuer?: string; hangAt?: string } = {}): typeof fetch {
  const issuer = options.issuer ?? kIssuer;
  return async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    seen.urls.push(url.pathname);
    if (url.pathname === options.hangAt) {
      // Never answers; only the client's deadline ends the wait.
      return new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error)));
    }
    const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return json({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          userinfo_endpoint: `${issuer}/userinfo`,
          jwks_uri: `${issuer}/jwks`,
          authorization_response_iss_parameter_supported: true,
        });
      case '/jwks':
        return json({ keys: [idpKey.jwk] });
      case '/token':
        seen.token = new URLSearchParams(String(init?.body));
        seen.authorization = new Headers(init?.headers).get('authorization') ?? undefined;
        return json({ access_token: 'at', token_type: 'Bearer', id_token: idToken });
      case '/userinfo':
        return json({ sub: 'person-1', name: '番号 花子', address: { formatted: '宮崎県延岡市東本小路2番地1' }, birthdate: '1990-01-01', gender: 'female' });
      default:
        return json({ error: 'not_found' }, 404);
    }
  };
}

const seconds = Math.floor(Date.now() / 1000);
const good = { iss: kIssuer, aud: kClient, sub: 'person-1', nonce: 'the-nonce', iat: seconds, exp: seconds + 600 };

function callback(params: Record<string, string>): URL {
  const url = new URL(kRedirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

async function finish(idToken: string, options: { seen?: Seen; query?: Record<string, string>; timeoutMs?: number; hangAt?: string } = {}): Promise<unknown> {
  const client = new OidcClient({ issuer: kIssuer, clientId: kClient, clientSecret: 'secret', fetch: provider(idToken, options.seen, { ...(options.hangAt ? { hangAt: options.hangAt } : {}) }), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  const query = options.query ?? { code: 'c', state: 'the-state', iss: kIssuer };
  return client.finish({ callbackUrl: callback(query), state: 'the-state', nonce: 'the-nonce', codeVerifier: 'v'.repeat(43) });
}

describe('OidcClient (openid-client)', () => {
  it('builds an authorization request with state, nonce and PKCE S256 from the discovered endpoint', async () => {
    const client = new OidcClient({ issuer: kIssuer, clientId: kClient, clientSecret: 'secret', fetch: provider('') });
    const start = await client.start(kRedirectUri);
    const url = new URL(start.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${kIssuer}/authorize`);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('client_id')).toBe(kClient);
    expect(url.searchParams.get('state')).toBe(start.state);
    expect(url.searchParams.get('nonce')).toBe(start.nonce);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).not.toBe(start.codeVerifier);
    expect(url.searchParams.get('scope')).toBe('openid name address birthdate gender');
  });

  it('accepts a good ID token and returns the basic 4 from userinfo, sending the verifier with client_secret_basic', async () => {
    const seen: Seen = { urls: [] };
    await expect(finish(signJwt(idpKey, good), { seen })).resolves.toMatchObject({ subject: 'person-1', name: '番号 花子', gender: 'female' });
    expect(seen.token?.get('code_verifier')).toBe('v'.repeat(43));
    expect(seen.token?.get('redirect_uri')).toBe(kRedirectUri);
    expect(seen.authorization).toBe(`Basic ${Buffer.from(`${kClient}:secret`).toString('base64')}`);
  });

  it.each([
    ['without iss', { code: 'c', state: 'the-state' }, /"iss" \(issuer\) missing/],
    ['with another iss (a mix-up)', { code: 'c', state: 'the-state', iss: 'http://127.0.0.1:9999' }, /unexpected "iss"/],
    ['with another state', { code: 'c', state: 'forged', iss: kIssuer }, /state/],
  ])('refuses an authorization response %s before any token request', async (_name, query, detail) => {
    const seen: Seen = { urls: [] };
    await expect(finish(signJwt(idpKey, good), { seen, query })).rejects.toMatchObject({ code: 'LINK_STATE_INVALID', detail: expect.stringMatching(detail) });
    expect(seen.urls).not.toContain('/token');
  });

  it('reports an error response with the IdP code, once its iss is checked', async () => {
    await expect(finish('', { query: { error: 'access_denied', error_description: 'cancelled', state: 'the-state', iss: kIssuer } })).rejects.toMatchObject({ code: 'LINK_FAILED', detail: 'access_denied: cancelled' });
    await expect(finish('', { query: { error: 'access_denied', state: 'the-state' } })).rejects.toMatchObject({ code: 'LINK_STATE_INVALID' });
  });

  it.each([
    ['a signature by another key', signJwt({ ...otherKey, kid: idpKey.kid }, good), /signature/],
    ['another issuer', signJwt(idpKey, { ...good, iss: 'http://evil.test' }), /iss/],
    ['another audience', signJwt(idpKey, { ...good, aud: 'someone-else' }), /aud/],
    ['another nonce', signJwt(idpKey, { ...good, nonce: 'replayed' }), /nonce/],
    ['an expired token', signJwt(idpKey, { ...good, exp: seconds - 3600 }), /exp/],
    ['an unknown key id', signJwt({ ...idpKey, kid: 'nope' }, good), /key/],
    ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`, /alg|JWS/],
  ])('refuses %s', async (_name, token, detail) => {
    await expect(finish(token)).rejects.toMatchObject({ code: 'ID_TOKEN_INVALID', detail: expect.stringMatching(detail) });
  });

  it('gives up on an IdP that does not answer, with LINK_FAILED naming the deadline', async () => {
    await expect(finish(signJwt(idpKey, good), { timeoutMs: 200, hangAt: '/token' })).rejects.toMatchObject({ code: 'LINK_FAILED', detail: expect.stringMatching(/no answer within 200 ms/) });
  });

  it('speaks plain http only to a loopback IdP', async () => {
    expect(['http://127.0.0.1:1/', 'http://localhost:8451/', 'http://[::1]:8/'].map((u) => isLoopbackUrl(new URL(u)))).toEqual([true, true, true]);
    expect(['http://idp.test/', 'http://192.168.1.2/', 'http://127.example/'].map((u) => isLoopbackUrl(new URL(u)))).toEqual([false, false, false]);
    const remote = 'http://idp.example';
    const client = new OidcClient({ issuer: remote, clientId: kClient, clientSecret: 'secret', fetch: provider('', { urls: [] }, { issuer: remote }) });
    await expect(client.start(kRedirectUri)).rejects.toMatchObject({ code: 'LINK_FAILED', detail: expect.stringMatching(/only for an IdP on a loopback address/) });
  });
});
