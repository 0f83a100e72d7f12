/**
 * The city portal as the IdP's OpenID Connect client: the authorization request with state, nonce
 * and PKCE S256; the code exchanged at the token endpoint with the client secret; the ID token
 * checked — RS256 signature by a key of the IdP's JWKS, iss, aud, nonce, exp, iat — before the
 * userinfo (the basic 4) is believed. Nothing of the IdP is imported: it is reached over HTTP only.
 */
import { createHash, createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';
import { CitizenError } from './errors.js';

export interface OidcClientOptions {
  /** The IdP's issuer URL (discovery at `<issuer>/.well-known/openid-configuration`). */
  issuer: string | (() => string);
  clientId: string;
  clientSecret: string;
  scopes?: readonly string[];
  /** How the portal's server reaches the IdP (tests route it through `inject()`). */
  fetch?: typeof fetch;
}

/** Misbehaviours on purpose, for negative scenarios against the IdP. */
export interface OidcClientFaults {
  /** The token request leaves out `code_verifier`. */
  omitCodeVerifier?: boolean;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
}

export interface AuthorizationStart {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface LinkedIdentity {
  issuer: string;
  subject: string;
  name: string;
  address: string;
  birthdate: string;
  gender: string;
}

export const kDefaultScopes = ['openid', 'name', 'address', 'birthdate', 'gender'] as const;
/** Clock skew allowed on iat and exp. */
const kSkewSeconds = 60;

function random(): string {
  return randomBytes(32).toString('base64url');
}

function linkFailed(detail: string): CitizenError {
  return new CitizenError('LINK_FAILED', detail);
}

function badToken(detail: string): CitizenError {
  return new CitizenError('ID_TOKEN_INVALID', detail);
}

export class OidcClient {
  private readonly _fetch: typeof fetch;
  private _discovery: Discovery | undefined;
  private _jwks: JsonWebKey[] = [];

  constructor(
    private readonly _options: OidcClientOptions,
    private readonly _faults: OidcClientFaults = {},
  ) {
    this._fetch = _options.fetch ?? globalThis.fetch;
  }

  get issuer(): string {
    const issuer = this._options.issuer;
    return (typeof issuer === 'function' ? issuer() : issuer).replace(/\/$/, '');
  }

  async start(redirectUri: string): Promise<AuthorizationStart> {
    const discovery = await this._discover();
    const state = random();
    const nonce = random();
    const codeVerifier = random();
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: this._options.clientId,
      redirect_uri: redirectUri,
      scope: (this._options.scopes ?? kDefaultScopes).join(' '),
      state,
      nonce,
      code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return { url: url.href, state, nonce, codeVerifier };
  }

  /** Exchanges the code and checks the ID token; returns the person as the userinfo gives them. */
  async finish(input: { code: string; redirectUri: string; nonce: string; codeVerifier: string; now: Date }): Promise<LinkedIdentity> {
    const discovery = await this._discover();
    const form = new URLSearchParams({ grant_type: 'authorization_code', code: input.code, redirect_uri: input.redirectUri });
    if (!this._faults.omitCodeVerifier) form.set('code_verifier', input.codeVerifier);
    const basic = Buffer.from(`${encodeURIComponent(this._options.clientId)}:${encodeURIComponent(this._options.clientSecret)}`).toString('base64');
    const tokens = await this._json(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}`, accept: 'application/json' },
      body: form.toString(),
    });
    if (typeof tokens.id_token !== 'string' || typeof tokens.access_token !== 'string') throw linkFailed('the token answer lacks id_token or access_token');
    const claims = await this._verifyIdToken(tokens.id_token, input.nonce, input.now);
    const info = await this._json(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' } });
    if (info.sub !== claims.sub) throw linkFailed('the userinfo sub differs from the ID token sub');
    const address = typeof info.address === 'object' && info.address !== null ? (info.address as Record<string, unknown>).formatted : undefined;
    const text = (value: unknown, name: string): string => {
      if (typeof value !== 'string' || value === '') throw linkFailed(`the userinfo lacks ${name}`);
      return value;
    };
    return {
      issuer: this.issuer,
      subject: claims.sub,
      name: text(info.name, 'name'),
      address: text(address, 'address'),
      birthdate: text(info.birthdate, 'birthdate'),
      gender: text(info.gender, 'gender'),
    };
  }

  private async _discover(): Promise<Discovery> {
    if (this._discovery) return this._discovery;
    const config = await this._json(`${this.issuer}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
    if (config.issuer !== this.issuer) throw linkFailed(`the discovery document names issuer ${String(config.issuer)}, expected ${this.issuer}`);
    for (const name of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri'] as const) {
      if (typeof config[name] !== 'string') throw linkFailed(`the discovery document lacks ${name}`);
    }
    this._discovery = config as unknown as Discovery;
    return this._discovery;
  }

  private async _key(kid: string): Promise<JsonWebKey> {
    let key = this._jwks.find((k) => k.kid === kid);
    if (!key) {
      // An unknown kid: the IdP may have a new key; fetch the set once more.
      const set = await this._json((await this._discover()).jwks_uri, { headers: { accept: 'application/json' } });
      this._jwks = Array.isArray(set.keys) ? (set.keys as JsonWebKey[]) : [];
      key = this._jwks.find((k) => k.kid === kid);
    }
    if (!key) throw badToken(`no key "${kid}" in the IdP's JWKS`);
    return key;
  }

  private async _verifyIdToken(token: string, nonce: string, now: Date): Promise<{ sub: string }> {
    const parts = token.split('.');
    if (parts.length !== 3) throw badToken('not a JWS compact serialization');
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      throw badToken('the header or the claims are not JSON');
    }
    if (header.alg !== 'RS256') throw badToken(`alg ${String(header.alg)} is not RS256`);
    if (typeof header.kid !== 'string') throw badToken('no kid');
    const jwk = await this._key(header.kid);
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
    if (!verify('sha256', Buffer.from(`${headerPart}.${payloadPart}`), publicKey, Buffer.from(signaturePart, 'base64url'))) throw badToken('the signature does not verify');
    if (claims.iss !== this.issuer) throw badToken(`iss ${String(claims.iss)} is not ${this.issuer}`);
    const aud = claims.aud;
    if (!(aud === this._options.clientId || (Array.isArray(aud) && aud.includes(this._options.clientId)))) throw badToken(`aud does not name ${this._options.clientId}`);
    if (Array.isArray(aud) && aud.length > 1 && claims.azp !== this._options.clientId) throw badToken('several audiences and no azp naming this client');
    if (claims.nonce !== nonce) throw badToken('nonce differs from the one of the authorization request');
    const seconds = Math.floor(now.getTime() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp + kSkewSeconds <= seconds) throw badToken('the ID token expired');
    if (typeof claims.iat !== 'number' || claims.iat - kSkewSeconds > seconds) throw badToken('iat is in the future');
    if (typeof claims.sub !== 'string' || claims.sub === '') throw badToken('no sub');
    return { sub: claims.sub };
  }

  private async _json(url: string, init: RequestInit): Promise<Record<string, unknown>> {
    let response: Response;
    let text: string;
    try {
      response = await this._fetch(url, init);
      text = await response.text();
    } catch (e) {
      throw linkFailed(`cannot reach the IdP at ${url}: ${(e as Error).message}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw linkFailed(`${url} answered ${response.status} with something other than JSON`);
    }
    const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    if (!response.ok) {
      const error = typeof fields.error === 'string' ? fields.error : `HTTP ${response.status}`;
      throw new CitizenError('LINK_FAILED', `${error}: ${typeof fields.error_description === 'string' ? fields.error_description : url}`, `（${error}）`);
    }
    return fields;
  }
}
