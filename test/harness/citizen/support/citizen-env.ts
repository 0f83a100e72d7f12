/**
 * Set-ups for the citizen portal tests: a test CA with an issued card, the IdP trusting that CA
 * through its files, the city portal as its client, the phone's auth app holding the emulated card;
 * either all in-process through `inject()` (a movable clock, cookie jars standing in for browsers),
 * or listening on loopback with Chromium.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { createMemoryCard } from '../../../../emulator/index.js';
import { AuthApp } from '../../../../harness/agents/phone/auth-app.js';
import { launchChromium, type LaunchedBrowser } from '../../../../harness/browser/launch-chromium.js';
import { buildCitizenApp, type CitizenOptions } from '../../../../harness/portal/citizen/app.js';
import type { OutboxMessage } from '../../../../harness/portal/citizen/codes.js';
import { startCitizenPortal, type RunningCitizenPortal } from '../../../../harness/portal/citizen/server.js';
import { buildIdpApp } from '../../../../harness/portal/idp/app.js';
import type { IdpClient } from '../../../../harness/portal/idp/context.js';
import { startIdp, type RunningIdp } from '../../../../harness/portal/idp/server.js';
import { portalOptionsFromCaDir } from '../../../../harness/portal/mynaportal/portal-options.js';
import { InProcessReader } from '../../../../harness/readers/in-process-reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../../../support/cards.js';

export const kIssuer = 'http://localhost:8451';
export const kCitizenUrl = 'http://city.test';
export const kClientId = 'nobeoka-portal';
export const kClientSecret = 'test-client-secret-0123456789';

export class TestClock {
  private _offset = 0;
  readonly now = (): Date => new Date(Date.now() + this._offset);
  advance(ms: number): void {
    this._offset += ms;
  }
}

/** `fetch` answered by a fastify app through `inject()`, for code that talks HTTP to it. */
export function injectFetch(app: FastifyInstance): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const response = await app.inject({
      method: request.method as 'GET' | 'POST',
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(request.headers.entries()),
      ...(body ? { payload: body } : {}),
    });
    return new Response(response.rawPayload.length > 0 ? response.rawPayload : null, {
      status: response.statusCode,
      headers: Object.entries(response.headers).flatMap(([k, v]) => (v === undefined ? [] : Array.isArray(v) ? v.map((x) => [k, x] as [string, string]) : [[k, String(v)] as [string, string]])),
    });
  };
}

/** A browser over `inject()`: one cookie jar per app, redirects returned, not followed. */
export class InjectBrowser {
  private readonly _jars = new Map<FastifyInstance, Map<string, string>>();

  constructor(private readonly _apps: Record<string, FastifyInstance>) {}

  private _app(url: string): { app: FastifyInstance; path: string } {
    const parsed = new URL(url);
    const app = this._apps[parsed.origin];
    if (!app) throw new Error(`no app for ${parsed.origin}`);
    return { app, path: `${parsed.pathname}${parsed.search}` };
  }

  private _jar(app: FastifyInstance): Map<string, string> {
    let jar = this._jars.get(app);
    if (!jar) this._jars.set(app, (jar = new Map()));
    return jar;
  }

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<{ status: number; body: string; location?: string }> {
    const { app, path } = this._app(url);
    const jar = this._jar(app);
    const response = await app.inject({
      method,
      url: path,
      cookies: Object.fromEntries(jar),
      ...(form ? { payload: new URLSearchParams(form).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
    });
    for (const cookie of response.cookies) {
      if (cookie.value === '' || (cookie.expires && cookie.expires.getTime() < Date.now())) jar.delete(cookie.name);
      else jar.set(cookie.name, cookie.value);
    }
    const location = response.headers.location;
    const absolute = typeof location === 'string' ? new URL(location, url).href : undefined;
    return { status: response.statusCode, body: response.body, ...(absolute ? { location: absolute } : {}) };
  }

  get(url: string): ReturnType<InjectBrowser['request']> {
    return this.request('GET', url);
  }

  /** Posts a form with the CSRF token of the page at `pageUrl`. */
  async submit(pageUrl: string, action: string, fields: Record<string, string> = {}): ReturnType<InjectBrowser['request']> {
    const page = await this.get(pageUrl);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
    if (!token) throw new Error(`no CSRF token on ${pageUrl} (${page.status})`);
    return this.request('POST', action, { _csrf: token, ...fields });
  }
}

/** A browser over real HTTP: one cookie jar per origin, redirects returned, not followed. */
export class HttpBrowser {
  private readonly _jars = new Map<string, Map<string, string>>();

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<{ status: number; body: string; location?: string }> {
    const origin = new URL(url).origin;
    let jar = this._jars.get(origin);
    if (!jar) this._jars.set(origin, (jar = new Map()));
    const headers: Record<string, string> = {};
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method, headers, redirect: 'manual', ...(form ? { body: new URLSearchParams(form).toString() } : {}) });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now()));
      if (value === '' || expired) jar.delete(name);
      else jar.set(name, value);
    }
    const location = response.headers.get('location');
    return { status: response.status, body: await response.text(), ...(location ? { location: new URL(location, url).href } : {}) };
  }

  get(url: string): ReturnType<HttpBrowser['request']> {
    return this.request('GET', url);
  }

  /** Posts a form with the CSRF token of the page at `pageUrl`. */
  async submit(pageUrl: string, action: string, fields: Record<string, string> = {}): ReturnType<HttpBrowser['request']> {
    const page = await this.get(pageUrl);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
    if (!token) throw new Error(`no CSRF token on ${pageUrl} (${page.status})`);
    return this.request('POST', action, { _csrf: token, ...fields });
  }
}

export interface HttpWorld {
  fixture: IssuedFixture;
  idp: RunningIdp;
  citizen: RunningCitizenPortal;
  authApp: AuthApp;
  outbox(channel: 'sms' | 'email'): Promise<OutboxMessage[]>;
  close(): Promise<void>;
}

/** The IdP and the city portal listening on loopback, the phone app talking HTTP to the IdP: no Chromium. */
export async function httpWorld(): Promise<HttpWorld> {
  const dir = tempDir('jpki-hil-citizen-http-');
  const fixture = await issueFixture(dir.path, 'adult');
  const redirectUris: string[] = [];
  const idp = await startIdp({ clients: [client(() => redirectUris)], ...trustFromCaDir(join(dir.path, 'ca')), cookieSecret: 'idp-cookie-secret-0123456789', testMode: true });
  const citizen = await startCitizenPortal({ idp: { issuer: idp.url, clientId: kClientId, clientSecret: kClientSecret }, testMode: true });
  redirectUris.push(`${citizen.url}/link/callback`);
  const reader = new InProcessReader('Emulated reader 0', createMemoryCard(fixture.image));
  const authApp = new AuthApp({ reader, pins: { auth: fixture.definition.pins.auth, kenhojo: fixture.definition.pins.kenhojo } });
  return {
    fixture,
    idp,
    citizen,
    authApp,
    outbox: async (channel) => {
      const response = await fetch(`${citizen.url}/api/test/outbox?channel=${channel}`);
      return ((await response.json()) as { messages: OutboxMessage[] }).messages;
    },
    close: async () => {
      await citizen.close();
      await idp.close();
      await reader.close();
      dir.remove();
    },
  };
}

export interface InjectWorld {
  fixture: IssuedFixture;
  clock: TestClock;
  idp: FastifyInstance;
  citizen: FastifyInstance;
  authApp: AuthApp;
  /** A phone app with other PINs, on the same card. */
  authAppWith(pins: { auth: string; kenhojo?: string }): AuthApp;
  browser(): InjectBrowser;
  outbox(channel: 'sms' | 'email'): Promise<OutboxMessage[]>;
  close(): Promise<void>;
}

function trustFromCaDir(caDir: string): Pick<ReturnType<typeof portalOptionsFromCaDir>, 'verifier' | 'holders'> & { cardInfoPublicKey: Uint8Array } {
  const options = portalOptionsFromCaDir(caDir, { db: ':memory:' });
  return { verifier: options.verifier, cardInfoPublicKey: options.cardInfoPublicKey as Uint8Array, holders: options.holders };
}

function client(redirectUris: IdpClient['redirectUris']): IdpClient {
  return { clientId: kClientId, clientSecret: kClientSecret, name: 'のべおかポータル（テスト）', redirectUris };
}

export async function injectWorld(options: { testMode?: boolean; citizen?: Partial<CitizenOptions> } = {}): Promise<InjectWorld> {
  const dir = tempDir('jpki-hil-citizen-');
  const fixture = await issueFixture(dir.path, 'adult');
  const clock = new TestClock();
  const idp = await buildIdpApp({
    issuer: kIssuer,
    clients: [client([`${kCitizenUrl}/link/callback`])],
    ...trustFromCaDir(join(dir.path, 'ca')),
    cookieSecret: 'idp-cookie-secret-0123456789',
    now: clock.now,
    testMode: true,
  });
  const citizen = await buildCitizenApp({
    publicUrl: kCitizenUrl,
    idp: { issuer: kIssuer, clientId: kClientId, clientSecret: kClientSecret, fetch: injectFetch(idp) },
    now: clock.now,
    testMode: options.testMode ?? true,
    ...options.citizen,
  });
  const reader = new InProcessReader('Emulated reader 0', createMemoryCard(fixture.image));
  const authApp = new AuthApp({ reader, pins: { auth: fixture.definition.pins.auth, kenhojo: fixture.definition.pins.kenhojo }, fetch: injectFetch(idp) });
  return {
    fixture,
    clock,
    idp,
    citizen,
    authApp,
    authAppWith: (pins) => new AuthApp({ reader, pins, fetch: injectFetch(idp) }),
    browser: () => new InjectBrowser({ [kIssuer]: idp, [kCitizenUrl]: citizen }),
    outbox: async (channel) => {
      const response = await citizen.inject({ method: 'GET', url: `/api/test/outbox?channel=${channel}` });
      return response.json<{ messages: OutboxMessage[] }>().messages;
    },
    close: async () => {
      await citizen.close();
      await idp.close();
      await reader.close();
      dir.remove();
    },
  };
}

export interface BrowserWorld {
  fixture: IssuedFixture;
  idp: RunningIdp;
  citizen: RunningCitizenPortal;
  /** A city portal whose token request leaves out the PKCE verifier (a misbehaving client). */
  faultyCitizen: RunningCitizenPortal;
  authApp: AuthApp;
  browser: LaunchedBrowser;
  page(): Promise<Page>;
  outbox(channel: 'sms' | 'email', portal?: RunningCitizenPortal): Promise<OutboxMessage[]>;
  close(): Promise<void>;
}

export async function browserWorld(): Promise<BrowserWorld> {
  const dir = tempDir('jpki-hil-citizen-browser-');
  const fixture = await issueFixture(dir.path, 'adult');
  const redirectUris: string[] = [];
  const idp = await startIdp({ clients: [client(() => redirectUris)], ...trustFromCaDir(join(dir.path, 'ca')), cookieSecret: 'idp-cookie-secret-0123456789', testMode: true });
  const idpSettings = { issuer: idp.url, clientId: kClientId, clientSecret: kClientSecret };
  const citizen = await startCitizenPortal({ idp: idpSettings, testMode: true });
  const faultyCitizen = await startCitizenPortal({ idp: idpSettings, testMode: true, faults: { omitCodeVerifier: true } });
  redirectUris.push(`${citizen.url}/link/callback`, `${faultyCitizen.url}/link/callback`);
  const reader = new InProcessReader('Emulated reader 0', createMemoryCard(fixture.image));
  const authApp = new AuthApp({ reader, pins: { auth: fixture.definition.pins.auth, kenhojo: fixture.definition.pins.kenhojo } });
  const browser = await launchChromium();
  return {
    fixture,
    idp,
    citizen,
    faultyCitizen,
    authApp,
    browser,
    page: async () => {
      const page = await browser.context.newPage();
      page.setDefaultTimeout(15_000);
      return page;
    },
    outbox: async (channel, portal = citizen) => {
      const response = await fetch(`${portal.url}/api/test/outbox?channel=${channel}`);
      return ((await response.json()) as { messages: OutboxMessage[] }).messages;
    },
    close: async () => {
      await browser.close();
      await faultyCitizen.close();
      await citizen.close();
      await idp.close();
      await reader.close();
      dir.remove();
    },
  };
}
