/**
 * The OpenID Connect side of the IdP, shaped like the Digital Auth App's (portal-flows.md §2.2):
 * authorization code flow only, PKCE S256 mandatory, state and nonce mandatory, scopes `openid` and
 * the basic 4. /authorize shows the QR code and deep link of a one-time transaction, which the phone
 * app completes with the card (app-routes.ts); the page then redirects with the code.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import QRCode from 'qrcode';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IdpError } from './errors.js';
import {
  kAccessTokenMs,
  kBrowserCookie,
  kCodeMs,
  kDeepLinkPath,
  kIdTokenMs,
  kMaxTransactions,
  kSupportedScopes,
  kTransactionMs,
  redirectUrisOf,
  type IdpClient,
  type IdpContext,
} from './context.js';
import { signJwt } from './jwt.js';
import { hashToken, randomToken, type AuthorizationRequest } from './store.js';
import { renderAuthorizePage } from './views.js';

/** A refusal that goes back to the client's redirect URI (RFC 6749 §4.1.2.1), not to the error page. */
class RedirectableError extends Error {
  constructor(readonly error: IdpError) {
    super(error.message);
  }
}

const kCodeChallenge = /^[A-Za-z0-9_-]{43}$/;
const kCodeVerifier = /^[A-Za-z0-9._~-]{43,128}$/;

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw new IdpError('invalid_request', `${name} is given more than once`);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** Validates /authorize: first what decides whether redirecting is safe, then the rest. */
function authorizationRequest(ctx: IdpContext, query: Record<string, unknown>): { client: IdpClient; request: AuthorizationRequest } {
  const clientId = single(query, 'client_id');
  if (!clientId) throw new IdpError('invalid_request', 'client_id is required');
  const client = ctx.clients.find((c) => c.clientId === clientId);
  if (!client) throw new IdpError('invalid_client', `unknown client_id "${clientId}"`);
  const redirectUri = single(query, 'redirect_uri');
  if (!redirectUri) throw new IdpError('invalid_request', 'redirect_uri is required');
  if (!redirectUrisOf(client).includes(redirectUri)) throw new IdpError('invalid_request', `redirect_uri "${redirectUri}" is not registered for ${clientId} (exact match)`);
  // From here on the redirect URI is the client's own: refusals go back to it.
  const state = single(query, 'state');
  const fail = (code: IdpError['code'], detail: string): never => {
    throw new RedirectableError(new IdpError(code, detail));
  };
  try {
    const responseType = single(query, 'response_type');
    if (responseType !== 'code') fail('unsupported_response_type', `response_type must be "code" (the authorization code flow only), got "${responseType ?? ''}"`);
    const scopes = (single(query, 'scope') ?? '').split(' ').filter((s) => s !== '');
    if (!scopes.includes('openid')) fail('invalid_scope', 'scope must include openid');
    const unknown = scopes.filter((s) => !(kSupportedScopes as readonly string[]).includes(s));
    if (unknown.length > 0) fail('invalid_scope', `unsupported scope ${unknown.join(' ')}`);
    if (!state) fail('invalid_request', 'state is required');
    const nonce = single(query, 'nonce');
    if (!nonce) fail('invalid_request', 'nonce is required');
    const codeChallenge = single(query, 'code_challenge');
    if (!codeChallenge) fail('invalid_request', 'code_challenge is required (PKCE)');
    const method = single(query, 'code_challenge_method');
    if (method !== 'S256') fail('invalid_request', `code_challenge_method must be S256, got "${method ?? 'plain'}"`);
    if (!kCodeChallenge.test(codeChallenge!)) fail('invalid_request', 'code_challenge is not a base64url SHA-256 (43 characters)');
    return { client, request: { clientId, redirectUri, scopes: [...new Set(scopes)], state: state!, nonce: nonce!, codeChallenge: codeChallenge! } };
  } catch (e) {
    if (e instanceof IdpError) throw new RedirectableError(e);
    throw e;
  }
}

function redirectWith(ctx: IdpContext, reply: FastifyReply, redirectUri: string, params: Record<string, string | undefined>): FastifyReply {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  // RFC 9207: the issuer in the answer, so a client talking to several IdPs cannot be mixed up.
  url.searchParams.set('iss', ctx.issuer());
  return reply.redirect(url.href, 302);
}

function browserHashOf(request: FastifyRequest): string | undefined {
  const signed = request.cookies[kBrowserCookie];
  if (!signed) return undefined;
  const unsigned = request.unsignCookie(signed);
  return unsigned.valid && unsigned.value ? hashToken(unsigned.value) : undefined;
}

/** Client authentication at /token: client_secret_basic or client_secret_post, not both. */
function authenticateClient(ctx: IdpContext, request: FastifyRequest, body: Record<string, unknown>): IdpClient {
  const header = request.headers.authorization;
  let id: string | undefined;
  let secret: string | undefined;
  if (typeof header === 'string' && header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new IdpError('invalid_client', 'the Basic credentials are not client_id:client_secret');
    try {
      // RFC 6749 §2.3.1: both halves are form-urlencoded.
      id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      throw new IdpError('invalid_client', 'the Basic credentials are not form-urlencoded (a stray %)');
    }
    if (body.client_secret !== undefined) throw new IdpError('invalid_request', 'use one client authentication method, not two');
  } else {
    id = typeof body.client_id === 'string' ? body.client_id : undefined;
    secret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
  }
  if (!id || !secret) throw new IdpError('invalid_client', 'client authentication is required (client_secret_basic or client_secret_post)');
  const client = ctx.clients.find((c) => c.clientId === id);
  if (!client || !safeEqual(secret, client.clientSecret)) throw new IdpError('invalid_client', `client "${id}" failed authentication`);
  return client;
}

function field(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (Array.isArray(value)) throw new IdpError('invalid_request', `${name} is given more than once`);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export async function oidcRoutes(app: FastifyInstance, { ctx }: { ctx: IdpContext }): Promise<void> {
  app.get('/.well-known/openid-configuration', async () => {
    const issuer = ctx.issuer();
    return {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/userinfo`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: kSupportedScopes,
      claims_supported: ['sub', 'name', 'address', 'birthdate', 'gender'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      authorization_response_iss_parameter_supported: true,
    };
  });

  app.get('/jwks', async () => ({ keys: [ctx.signingKey.jwk] }));

  app.get('/authorize', async (request, reply) => {
    let validated;
    try {
      validated = authorizationRequest(ctx, request.query as Record<string, unknown>);
    } catch (e) {
      if (!(e instanceof RedirectableError)) throw e;
      const query = request.query as Record<string, unknown>;
      return redirectWith(ctx, reply, String(query.redirect_uri), {
        error: e.error.code,
        error_description: e.error.detail,
        state: typeof query.state === 'string' ? query.state : undefined,
      });
    }
    ctx.store.purge(ctx.now().getTime());
    if (ctx.store.transactions.size >= kMaxTransactions) throw new IdpError('temporarily_unavailable', `${kMaxTransactions} authentication transactions are waiting`);
    let browserHash = browserHashOf(request);
    if (!browserHash) {
      const browserToken = randomToken();
      reply.setCookie(kBrowserCookie, browserToken, { signed: true, httpOnly: true, sameSite: 'lax', path: '/', secure: ctx.issuer().startsWith('https:') });
      browserHash = hashToken(browserToken);
    }
    const id = randomToken(16);
    const token = randomToken();
    ctx.store.transactions.set(id, {
      id,
      tokenHash: hashToken(token),
      browserHash,
      request: validated.request,
      state: 'waiting',
      expiresAt: ctx.now().getTime() + kTransactionMs,
    });
    return reply.redirect(`/authorize/wait?tx=${encodeURIComponent(id)}&t=${encodeURIComponent(token)}`, 303);
  });

  // The waiting page reloads itself each second; once the phone app has authenticated, it answers
  // with the redirect carrying the code. Only the browser that started the transaction gets it.
  app.get('/authorize/wait', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const id = single(query, 'tx');
    const token = single(query, 't');
    const transaction = id ? ctx.store.transactions.get(id) : undefined;
    if (!transaction || !token || !safeEqual(hashToken(token), transaction.tokenHash)) throw new IdpError('invalid_request', 'unknown authentication transaction');
    if (browserHashOf(request) !== transaction.browserHash) throw new IdpError('access_denied', 'the transaction was started in another browser');
    const { request: auth } = transaction;
    if (transaction.state === 'authenticated') {
      ctx.store.transactions.delete(transaction.id);
      const code = randomToken();
      ctx.store.codes.set(hashToken(code), { request: auth, sub: transaction.sub!, expiresAt: ctx.now().getTime() + kCodeMs, used: false, accessTokens: [] });
      return redirectWith(ctx, reply, auth.redirectUri, { code, state: auth.state });
    }
    if (transaction.expiresAt <= ctx.now().getTime()) {
      ctx.store.transactions.delete(transaction.id);
      return redirectWith(ctx, reply, auth.redirectUri, { error: 'access_denied', error_description: 'the authentication was not completed in time', state: auth.state });
    }
    const client = ctx.clients.find((c) => c.clientId === auth.clientId)!;
    const deepLink = `${ctx.issuer()}${kDeepLinkPath}?tx=${encodeURIComponent(transaction.id)}&t=${encodeURIComponent(token)}`;
    const qrImage = await QRCode.toDataURL(deepLink, { errorCorrectionLevel: 'M', margin: 4, scale: 4 });
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(renderAuthorizePage({ clientName: client.name, scopes: auth.scopes, deepLink, qrImage, failure: transaction.failure }));
  });

  app.post('/token', { config: { oauthJson: true } }, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const body = (request.body ?? {}) as Record<string, unknown>;
    const client = authenticateClient(ctx, request, body);
    const grantType = field(body, 'grant_type');
    if (!grantType) throw new IdpError('invalid_request', 'grant_type is required');
    if (grantType !== 'authorization_code') throw new IdpError('unsupported_grant_type', `grant_type "${grantType}" is not supported`);
    const code = field(body, 'code');
    if (!code) throw new IdpError('invalid_request', 'code is required');
    const redirectUri = field(body, 'redirect_uri');
    if (!redirectUri) throw new IdpError('invalid_request', 'redirect_uri is required');
    const verifier = field(body, 'code_verifier');
    if (!verifier) throw new IdpError('invalid_request', 'code_verifier is required (PKCE)');
    if (!kCodeVerifier.test(verifier)) throw new IdpError('invalid_request', 'code_verifier must be 43 to 128 unreserved characters');
    const stored = ctx.store.codes.get(hashToken(code));
    if (!stored) throw new IdpError('invalid_grant', 'unknown authorization code');
    if (stored.used) {
      // A replayed code: refuse it and revoke what the first use obtained.
      for (const token of stored.accessTokens) {
        const issued = ctx.store.accessTokens.get(token);
        if (issued) issued.revoked = true;
      }
      throw new IdpError('invalid_grant', 'the authorization code was already used');
    }
    stored.used = true;
    const now = ctx.now().getTime();
    if (stored.expiresAt <= now) throw new IdpError('invalid_grant', 'the authorization code expired (codes live 60 seconds)');
    if (stored.request.clientId !== client.clientId) throw new IdpError('invalid_grant', 'the authorization code was issued to another client');
    if (stored.request.redirectUri !== redirectUri) throw new IdpError('invalid_grant', 'redirect_uri differs from the one of the authorization request');
    if (!safeEqual(s256(verifier), stored.request.codeChallenge)) throw new IdpError('invalid_grant', 'code_verifier does not match the code_challenge (PKCE S256)');
    const accessToken = randomToken();
    ctx.store.purge(now);
    ctx.store.accessTokens.set(hashToken(accessToken), { sub: stored.sub, scopes: stored.request.scopes, expiresAt: now + kAccessTokenMs, revoked: false });
    stored.accessTokens.push(hashToken(accessToken));
    const iat = Math.floor(now / 1000);
    const idToken = signJwt(ctx.signingKey, {
      iss: ctx.issuer(),
      sub: stored.sub,
      aud: client.clientId,
      nonce: stored.request.nonce,
      iat,
      exp: iat + kIdTokenMs / 1000,
      auth_time: iat,
      at_hash: createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url'),
    });
    return { access_token: accessToken, token_type: 'Bearer', expires_in: kAccessTokenMs / 1000, id_token: idToken, scope: stored.request.scopes.join(' ') };
  });

  app.get('/userinfo', { config: { oauthJson: true } }, async (request, reply) => {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      reply.header('www-authenticate', 'Bearer realm="idp"');
      throw new IdpError('invalid_token', 'no bearer token');
    }
    const issued = ctx.store.accessTokens.get(hashToken(header.slice(7)));
    if (!issued || issued.revoked || issued.expiresAt <= ctx.now().getTime()) {
      reply.header('www-authenticate', 'Bearer realm="idp", error="invalid_token"');
      throw new IdpError('invalid_token', !issued ? 'unknown access token' : issued.revoked ? 'the access token was revoked' : 'the access token expired');
    }
    const person = ctx.store.person(issued.sub);
    if (!person) throw new IdpError('server_error', 'the subject is no longer known');
    const gender: Record<string, string> = { '1': 'male', '2': 'female', '9': 'not applicable' };
    return {
      sub: issued.sub,
      ...(issued.scopes.includes('name') ? { name: person.name } : {}),
      ...(issued.scopes.includes('address') ? { address: { formatted: person.address } } : {}),
      ...(issued.scopes.includes('birthdate') ? { birthdate: person.birth } : {}),
      ...(issued.scopes.includes('gender') ? { gender: gender[person.sex] ?? 'unknown' } : {}),
    };
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers errors as OAuth JSON (RFC 6749 §5.2) rather than as a page. */
    oauthJson?: boolean;
  }
}
