/**
 * The city portal as the IdP's OpenID Connect client, built on openid-client (a certified relying
 * party implementation) so that the IdP is held against code that is not ours: discovery, the
 * authorization request with state, nonce and PKCE S256, the authorization response checked —
 * `iss` (RFC 9207, required because the IdP advertises it), state — the code exchanged with
 * client_secret_basic, the ID token checked (signature by a key of the IdP's JWKS, iss, aud, azp,
 * nonce, exp, iat) and the userinfo tied to the ID token's sub. Every request to the IdP has a
 * deadline. Nothing of the IdP is imported: it is reached over HTTP only.
 */
import * as oidc from 'openid-client';
import { CitizenError } from './errors.js';

export interface OidcClientOptions {
  /** The IdP's issuer URL (discovery at `<issuer>/.well-known/openid-configuration`). */
  issuer: string | (() => string);
  clientId: string;
  clientSecret: string;
  scopes?: readonly string[];
  /** Deadline of each request to the IdP (discovery, JWKS, token, userinfo); default 10 s. */
  timeoutMs?: number;
  /** How the portal's server reaches the IdP (tests route it through `inject()`). */
  fetch?: typeof fetch;
}

/** Misbehaviours on purpose, for negative scenarios against the IdP. */
export interface OidcClientFaults {
  /** The token request leaves out `code_verifier`. */
  omitCodeVerifier?: boolean;
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
const kDefaultIdpTimeoutMs = 10_000;

/**
 * openid-client speaks only HTTPS unless told otherwise. Plain HTTP is allowed for an IdP on this
 * machine alone (127.0.0.0/8, ::1, `localhost`), where nothing travels over a network: that is how
 * `citizen serve` and the runner start the IdP. Any other http:// issuer is refused at discovery.
 */
export function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function linkFailed(detail: string, error?: string): CitizenError {
  return new CitizenError('LINK_FAILED', detail, error === undefined ? undefined : `（${error}）`);
}

/** What openid-client reports, with the precise reason it keeps in `cause`. */
function reasonOf(e: unknown): string {
  const error = e as Error & { cause?: unknown };
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause !== undefined && cause !== error.message ? `${error.message}: ${cause}` : error.message;
}

/** openid-client error codes that mean the ID token itself is not acceptable. */
const kIdTokenErrorCodes: readonly string[] = ['OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', 'OAUTH_KEY_SELECTION_FAILED', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'];

function isIdTokenError(e: unknown): boolean {
  const error = e as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  if (kIdTokenErrorCodes.includes(String(error.code)) || kIdTokenErrorCodes.includes(String(error.cause?.code))) return true;
  // The signature, the algorithm and the JWT shape are reported as generic processing errors.
  return /JWS|JWT|signature|"alg"|ID Token/i.test(`${String(error.message)} ${String(error.cause?.message)}`);
}

/** An error the IdP answered with (RFC 6749 §5.2, RFC 6750 §3.1), or undefined. */
function oauthError(e: unknown): { error: string; description: string } | undefined {
  const error = e as { error?: unknown; error_description?: unknown };
  return typeof error.error === 'string' ? { error: error.error, description: typeof error.error_description === 'string' ? error.error_description : '' } : undefined;
}

export class OidcClient {
  private _configuration: Promise<oidc.Configuration> | undefined;
  private readonly _timeoutMs: number;

  constructor(
    private readonly _options: OidcClientOptions,
    private readonly _faults: OidcClientFaults = {},
    /** The portal's clock: ID token times are judged by it, not by the host's. */
    private readonly _now: () => Date = () => new Date(),
  ) {
    this._timeoutMs = _options.timeoutMs ?? kDefaultIdpTimeoutMs;
    if (!(this._timeoutMs > 0)) throw new RangeError(`timeoutMs ${this._timeoutMs} must be more than 0`);
  }

  get issuer(): string {
    const issuer = this._options.issuer;
    return (typeof issuer === 'function' ? issuer() : issuer).replace(/\/$/, '');
  }

  async start(redirectUri: string): Promise<AuthorizationStart> {
    const config = await this._config();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: (this._options.scopes ?? kDefaultScopes).join(' '),
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, state, nonce, codeVerifier };
  }

  /**
   * Takes the authorization response (the callback URL as the browser requested it), exchanges the
   * code and checks the ID token; returns the person as the userinfo gives them.
   */
  async finish(input: { callbackUrl: URL; state: string; nonce: string; codeVerifier: string }): Promise<LinkedIdentity> {
    const config = await this._config();
    let tokenRequested = false;
    const grant = this._withClock(config, () => {
      tokenRequested = true;
    });
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.authorizationCodeGrant(grant, input.callbackUrl, {
        expectedState: input.state,
        expectedNonce: input.nonce,
        idTokenExpected: true,
        ...(this._faults.omitCodeVerifier ? {} : { pkceCodeVerifier: input.codeVerifier }),
      });
    } catch (e) {
      const answered = oauthError(e);
      // Before the token request: the authorization response itself was refused (iss, state) or carried an error.
      if (!tokenRequested) {
        if (answered !== undefined) throw linkFailed(`${answered.error}: ${answered.description}`, answered.error);
        throw new CitizenError('LINK_STATE_INVALID', `the authorization response was refused: ${reasonOf(e)}`);
      }
      if (answered !== undefined) throw linkFailed(`${answered.error}: ${answered.description}`, answered.error);
      if (isIdTokenError(e)) throw new CitizenError('ID_TOKEN_INVALID', reasonOf(e));
      throw linkFailed(`the token exchange failed: ${reasonOf(e)}`);
    } finally {
      // The keys fetched for this grant serve the next one too.
      const jwks = oidc.getJwksCache(grant);
      if (jwks !== undefined) oidc.setJwksCache(config, jwks);
    }
    const claims = tokens.claims();
    if (claims === undefined) throw new CitizenError('ID_TOKEN_INVALID', 'the token answer carries no ID token');
    let info: oidc.UserInfoResponse;
    try {
      info = await oidc.fetchUserInfo(grant, tokens.access_token, claims.sub);
    } catch (e) {
      const answered = oauthError(e);
      throw answered !== undefined ? linkFailed(`${answered.error}: ${answered.description}`, answered.error) : linkFailed(`the userinfo request failed: ${reasonOf(e)}`);
    }
    const address = typeof info.address === 'object' && info.address !== null ? info.address.formatted : undefined;
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

  /** Every request to the IdP goes through here: the configured fetch, under a deadline. */
  private _fetch(onRequest?: (url: string) => void): oidc.CustomFetch {
    const fetchFn = this._options.fetch ?? globalThis.fetch;
    return async (url, options) => {
      onRequest?.(url);
      const deadline = AbortSignal.timeout(this._timeoutMs);
      const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
      try {
        return await fetchFn(url, { ...options, signal });
      } catch (e) {
        const error = e as Error & { cause?: { code?: string; message?: string } };
        const reason = deadline.aborted ? `no answer within ${this._timeoutMs} ms` : (error.cause?.code ?? error.cause?.message ?? error.message);
        throw new Error(`cannot reach the IdP at ${url}: ${reason}`, { cause: e });
      }
    };
  }

  /** Discovery once; a failed discovery is tried again at the next link. */
  private _config(): Promise<oidc.Configuration> {
    this._configuration ??= this._discover().catch((e: unknown) => {
      this._configuration = undefined;
      throw e;
    });
    return this._configuration;
  }

  private async _discover(): Promise<oidc.Configuration> {
    const issuer = new URL(this.issuer);
    const insecure = issuer.protocol === 'http:' && isLoopbackUrl(issuer);
    try {
      return await oidc.discovery(issuer, this._options.clientId, this._options.clientSecret, oidc.ClientSecretBasic(this._options.clientSecret), {
        [oidc.customFetch]: this._fetch(),
        timeout: Math.ceil(this._timeoutMs / 1000),
        ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
    } catch (e) {
      const hint = issuer.protocol === 'http:' && !insecure ? ' (plain http:// is allowed only for an IdP on a loopback address; use https://)' : '';
      throw linkFailed(`discovery of ${issuer.href} failed: ${reasonOf(e)}${hint}`);
    }
  }

  /**
   * The discovered configuration again, with the portal's clock as openid-client's notion of now
   * (clockSkew, in seconds) and a fetch that reports the token request.
   */
  private _withClock(discovered: oidc.Configuration, onToken: () => void): oidc.Configuration {
    const server = discovered.serverMetadata();
    const skew = Math.round((this._now().getTime() - Date.now()) / 1000);
    const config = new oidc.Configuration(server, this._options.clientId, { client_secret: this._options.clientSecret, [oidc.clockSkew]: skew }, oidc.ClientSecretBasic(this._options.clientSecret));
    config[oidc.customFetch] = this._fetch((url) => {
      if (url === server.token_endpoint) onToken();
    });
    config.timeout = discovered.timeout;
    const issuer = new URL(server.issuer);
    if (issuer.protocol === 'http:' && isLoopbackUrl(issuer)) oidc.allowInsecureRequests(config);
    // openid-client trusts an ID token from the token endpoint on the strength of TLS alone (OIDC
    // Core §3.1.3.7) unless told to verify its signature; over loopback http there is no TLS, and
    // the harness must catch an IdP that signs with the wrong key.
    oidc.enableNonRepudiationChecks(config);
    const jwks = oidc.getJwksCache(discovered);
    if (jwks !== undefined) oidc.setJwksCache(config, jwks);
    return config;
  }
}
