/**
 * The portal attacked as an attacker would, over HTTP on loopback (`startPortal`), the card signing
 * in-process: a cookie planted before the login (PC and QR), the login limit sought round through
 * the QR endpoints, the login page filling the database, event streams and QR codes without end,
 * and the status of bodies too large or of the wrong type.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portalOptionsFromCaDir } from '../../../harness/portal/mynaportal/portal-options.js';
import { startPortal, type RunningPortal } from '../../../harness/portal/mynaportal/server.js';
import type { PortalOptions } from '../../../harness/portal/mynaportal/app.js';
import { HttpBrowser } from '../../support/http-browser.js';
import { caWorld, kCookieSecret, registrationForm, type CaWorld, type TestCard } from './support/portal-fixture.js';

/** The PC login script: nonce, the card signs, login, card info when asked, then the page `next`. */
async function pcLogin(browser: HttpBrowser, card: TestCard): Promise<string> {
  if (!browser.csrfToken) await browser.request('GET', '/login');
  const nonce = JSON.parse((await browser.request('POST', '/api/login/nonce', { json: {} })).text) as { nonce: string };
  const login = await browser.request('POST', '/api/login', { json: { nonce: nonce.nonce, ...(await card.signNonce(nonce.nonce)) } });
  let next = (JSON.parse(login.text) as { next: string }).next;
  if (next === 'card-info') next = (JSON.parse((await browser.request('POST', '/api/login/link', { json: await card.readCardInfo() })).text) as { next: string }).next;
  await browser.request('GET', next);
  return next;
}

async function portal(world: CaWorld, extra: Partial<PortalOptions> = {}): Promise<RunningPortal> {
  return startPortal({ ...portalOptionsFromCaDir(world.caDir, { db: ':memory:', revocation: 'none', testMode: true, cookieSecret: kCookieSecret }), ...extra, port: 0 });
}

async function registered(running: RunningPortal, card: TestCard): Promise<void> {
  const browser = new HttpBrowser(running.url);
  if ((await pcLogin(browser, card)) === '/account/new') {
    await browser.request('POST', '/account/confirm', { form: registrationForm() });
    expect((await browser.request('POST', '/account/register', { form: {} })).status).toBe(200);
  }
}

const phone = async (base: string, step: string, body: object): Promise<{ status: number; json: Record<string, unknown> }> => {
  const response = await fetch(`${base}/api/qr/login/${step}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
};

describe('the portal under attack (HTTP on loopback)', () => {
  let world: CaWorld;
  let card: TestCard;
  let running: RunningPortal;
  let fixable: RunningPortal;

  beforeAll(async () => {
    world = caWorld();
    card = await world.issue('adult');
    running = await portal(world);
    fixable = await portal(world, { defects: { keepSessionAtLogin: true } });
    await registered(running, card);
    await registered(fixable, card);
  });
  afterAll(async () => {
    await running.close();
    await fixable.close();
    world.remove();
  });

  /** The attacker loads the login page, plants the cookie in the victim's browser, the victim logs in with the card. */
  async function plantAndPcLogin(target: RunningPortal): Promise<{ attacker: HttpBrowser; victim: HttpBrowser }> {
    const attacker = new HttpBrowser(target.url);
    await attacker.request('GET', '/login');
    const victim = new HttpBrowser(target.url);
    victim.plant(attacker);
    expect(await pcLogin(victim, card)).toBe('/menu');
    return { attacker, victim };
  }

  it('gives the session a new id and CSRF token at the PC login: a planted cookie is not logged in', async () => {
    const { attacker, victim } = await plantAndPcLogin(running);
    expect((await victim.request('GET', '/menu')).status).toBe(200);
    expect(victim.cookie).not.toBe(attacker.cookie);
    expect(victim.csrfToken).not.toBe(attacker.csrfToken);
    const menu = await attacker.request('GET', '/menu');
    expect(menu.status).toBe(401);
    expect(menu.text).toContain('data-code="NOT_LOGGED_IN"');
  });

  it('(the flawed portal lets the planted cookie in, which is what the test above would catch)', async () => {
    const { attacker } = await plantAndPcLogin(fixable);
    expect((await attacker.request('GET', '/menu')).status).toBe(200);
  });

  it('holds a QR login back from a planted cookie until the browser that showed the code claims it', async () => {
    const attacker = new HttpBrowser(running.url);
    await attacker.request('GET', '/login');
    const victim = new HttpBrowser(running.url);
    victim.plant(attacker);
    const shown = JSON.parse((await victim.request('POST', '/api/qr/sessions', { json: {} })).text) as { id: string; qr: string };
    const qr = new URL(shown.qr);
    const code = { s: qr.searchParams.get('s')!, t: qr.searchParams.get('t')! };
    const { nonce } = (await phone(running.url, 'challenge', code)).json as { nonce: string };
    expect((await phone(running.url, 'complete', { ...code, nonce, ...(await card.signNonce(nonce)) })).json).toEqual({ next: '/menu' });
    // The phone is done; the attacker, holding the same cookie, is still logged out.
    expect((await attacker.request('GET', '/menu')).status).toBe(401);
    // Not knowing the QR session's id, the attacker cannot claim it; knowing it, they would need the cookie too.
    expect((await attacker.request('GET', '/login/qr/AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    const claimed = await victim.request('GET', `/login/qr/${shown.id}`);
    expect(claimed.status).toBe(303);
    expect(claimed.location).toBe('/menu');
    expect((await victim.request('GET', '/menu')).status).toBe(200);
    expect((await attacker.request('GET', '/menu')).status).toBe(401);
  });

  it('counts the QR login against the same per-address limit as the PC login', async () => {
    const limited = await portal(world, { loginRateLimit: { max: 5, timeWindowMs: 60_000 } });
    try {
      const browser = new HttpBrowser(limited.url);
      await browser.request('GET', '/login');
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const shown = JSON.parse((await browser.request('POST', '/api/qr/sessions', { json: {} })).text) as { qr?: string };
        if (!shown.qr) break;
        const qr = new URL(shown.qr);
        statuses.push((await phone(limited.url, 'challenge', { s: qr.searchParams.get('s'), t: qr.searchParams.get('t') })).status);
      }
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(statuses.slice(5)).toContain(429);
      // …and the PC login of the same address is now refused too: one counter.
      const pc = await browser.request('POST', '/api/login/nonce', { json: {} });
      expect(pc.status).toBe(429);
      expect(JSON.parse(pc.text)).toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      await limited.close();
    }
  });

  it('writes no session row for the login page, however often it is loaded', async () => {
    const store = (running.app as FastifyInstance).portalContext.store;
    const before = store.logins.countSessions();
    for (let i = 0; i < 50; i++) expect((await fetch(`${running.url}/login`)).status).toBe(200);
    expect(store.logins.countSessions()).toBe(before);
  });

  it('caps event streams per session (429) and in all (503), and waiting QR codes per session (429)', async () => {
    const capped = await portal(world, { limits: { streamsPerSession: 2, streamsTotal: 3, qrSessionsPerSession: 3 } });
    const controllers: AbortController[] = [];
    try {
      const open = async (browser: HttpBrowser, id: string): Promise<number> => {
        const controller = new AbortController();
        controllers.push(controller);
        const response = await fetch(`${capped.url}/api/qr/sessions/${id}/events`, { headers: { cookie: browser.cookie }, signal: controller.signal });
        return response.status;
      };
      const one = new HttpBrowser(capped.url);
      await one.request('GET', '/login');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((JSON.parse((await one.request('POST', '/api/qr/sessions', { json: {} })).text) as { id: string }).id);
      const fourth = await one.request('POST', '/api/qr/sessions', { json: {} });
      expect(fourth.status).toBe(429);
      expect(JSON.parse(fourth.text)).toMatchObject({ code: 'TOO_MANY_QR_SESSIONS' });
      expect(await open(one, ids[0]!)).toBe(200);
      expect(await open(one, ids[1]!)).toBe(200);
      const third = await fetch(`${capped.url}/api/qr/sessions/${ids[2]!}/events`, { headers: { cookie: one.cookie } });
      expect(third.status).toBe(429);
      expect(await third.json()).toMatchObject({ code: 'TOO_MANY_STREAMS' });
      const two = new HttpBrowser(capped.url);
      await two.request('GET', '/login');
      const a = (JSON.parse((await two.request('POST', '/api/qr/sessions', { json: {} })).text) as { id: string }).id;
      const b = (JSON.parse((await two.request('POST', '/api/qr/sessions', { json: {} })).text) as { id: string }).id;
      expect(await open(two, a)).toBe(200);
      const full = await fetch(`${capped.url}/api/qr/sessions/${b}/events`, { headers: { cookie: two.cookie } });
      expect(full.status).toBe(503);
      expect(await full.json()).toMatchObject({ code: 'SERVER_BUSY' });
    } finally {
      for (const c of controllers) c.abort();
      await capped.close();
    }
  });

  it('keeps 413 and 415 for a body too large or of an unknown type', async () => {
    const browser = new HttpBrowser(running.url);
    await browser.request('GET', '/login');
    const large = await browser.request('POST', '/api/login/nonce', { json: { x: 'a'.repeat(2 * 1024 * 1024) } });
    expect(large.status).toBe(413);
    expect(JSON.parse(large.text)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const odd = await browser.request('POST', '/api/login/nonce', undefined, { 'content-type': 'application/x-unknown', 'x-csrf-token': browser.csrfToken });
    expect(odd.status).toBe(415);
    expect(JSON.parse(odd.text)).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});
