/**
 * The city portal's OpenID Connect client against a provider that misbehaves on purpose: an ID token
 * is believed only with a signature by a key of the IdP's JWKS, the IdP's iss, this client as aud,
 * the nonce of the request and an exp in the future.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OidcClient } from '../../../harness/portal/citizen/oidc-client.js';
import { signingKeyFrom, signJwt } from '../../../harness/portal/idp/jwt.js';

const kIssuer = 'http://idp.test';
const kClient = 'city';
const idpKey = signingKeyFrom();
const otherKey = signingKeyFrom(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

/** A provider over `fetch` whose token endpoint answers with the given ID token. */
function provider(idToken: string, seen: { token?: URLSearchParams } = {}): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return json({ issuer: kIssuer, authorization_endpoint: `${kIssuer}/authorize`, token_endpoint: `${kIssuer}/token`, userinfo_endpoint: `${kIssuer}/userinfo`, jwks_uri: `${kIssuer}/jwks` });
      case '/jwks':
        return json({ keys: [idpKey.jwk] });
      case '/token':
        seen.token = new URLSearchParams(String(init?.body));
        return json({ access_token: 'at', token_type: 'Bearer', id_token: idToken });
      case '/userinfo':
        return json({ sub: 'person-1', name: '番号 花子', address: { formatted: '宮崎県延岡市東本小路2番地1' }, birthdate: '1990-01-01', gender: 'female' });
      default:
        return json({ error: 'not_found' }, 404);
    }
  };
}

const now = new Date();
const seconds = Math.floor(now.getTime() / 1000);
const good = { iss: kIssuer, aud: kClient, sub: 'person-1', nonce: 'the-nonce', iat: seconds, exp: seconds + 600 };

async function finish(idToken: string, seen?: { token?: URLSearchParams }): Promise<unknown> {
  const client = new OidcClient({ issuer: kIssuer, clientId: kClient, clientSecret: 'secret', fetch: provider(idToken, seen) });
  return client.finish({ code: 'c', redirectUri: 'http://city.test/link/callback', nonce: 'the-nonce', codeVerifier: 'v'.repeat(43), now });
}

describe('OidcClient', () => {
  it('builds an authorization request with state, nonce and PKCE S256', async () => {
    const client = new OidcClient({ issuer: kIssuer, clientId: kClient, clientSecret: 'secret', fetch: provider('') });
    const start = await client.start('http://city.test/link/callback');
    const url = new URL(start.url);
    expect(url.searchParams.get('state')).toBe(start.state);
    expect(url.searchParams.get('nonce')).toBe(start.nonce);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).not.toBe(start.codeVerifier);
    expect(url.searchParams.get('scope')).toBe('openid name address birthdate gender');
  });

  it('accepts a good ID token and returns the basic 4 from userinfo, sending the verifier', async () => {
    const seen: { token?: URLSearchParams } = {};
    await expect(finish(signJwt(idpKey, good), seen)).resolves.toMatchObject({ subject: 'person-1', name: '番号 花子', gender: 'female' });
    expect(seen.token?.get('code_verifier')).toBe('v'.repeat(43));
  });

  it.each([
    ['a signature by another key', signJwt({ ...otherKey, kid: idpKey.kid }, good), /signature/],
    ['another issuer', signJwt(idpKey, { ...good, iss: 'http://evil.test' }), /iss/],
    ['another audience', signJwt(idpKey, { ...good, aud: 'someone-else' }), /aud/],
    ['another nonce', signJwt(idpKey, { ...good, nonce: 'replayed' }), /nonce/],
    ['an expired token', signJwt(idpKey, { ...good, exp: seconds - 3600 }), /expired/],
    ['an unknown key id', signJwt({ ...idpKey, kid: 'nope' }, good), /no key/],
    ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`, /RS256/],
  ])('refuses %s', async (_name, token, detail) => {
    await expect(finish(token)).rejects.toMatchObject({ code: 'ID_TOKEN_INVALID', detail: expect.stringMatching(detail) });
  });
});
