/**
 * The pages outside the flows, the static files, the session cookie, the security headers, the
 * not-found answers, and the public verification API mounted beside the browser routes.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kAgentMessages } from '../../../harness/portal/mynaportal/agent-messages.js';
import { kSessionCookie } from '../../../harness/portal/mynaportal/session.js';
import { Browser, byTestId, caWorld, portalFor, TestClock, type CaWorld, type TestCard } from './support/portal-fixture.js';

const kAgentUrl = 'ws://127.0.0.1:31313/';

describe('portal pages', () => {
  let world: CaWorld;
  let card: TestCard;
  let app: FastifyInstance;

  beforeAll(async () => {
    world = caWorld();
    card = await world.issue('adult');
    app = await portalFor(world, new TestClock(), { pcAgentUrl: kAgentUrl });
  });
  afterAll(async () => {
    await app.close();
    world.remove();
  });

  it('トップ: Japanese, its screen number, a way to ログイン, no session yet', async () => {
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toMatch(/^<!doctype html>\n<html lang="ja">/);
    expect(byTestId(response.body, 'screen-id')).toBe('画面番号:T-01');
    expect(response.body).toMatch(/<a class="button primary" href="\/login" data-testid="login-link">ログイン<\/a>/);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it('ログイン: both ways in, the elements the script drives, the agent URL and the messages', async () => {
    const response = await app.inject({ method: 'GET', url: '/login' });
    expect(byTestId(response.body, 'screen-id')).toBe('画面番号:L-01');
    expect(byTestId(response.body, 'login-ic-card')).toBe('ICカードリーダでログイン');
    expect(byTestId(response.body, 'login-smartphone')).toBe('スマートフォンでログイン');
    for (const testId of ['qr-code', 'qr-panel', 'login-status', 'login-error', 'cancel']) expect(response.body, testId).toContain(`data-testid="${testId}"`);
    expect(response.body).toContain(`<meta name="pc-agent-url" content="${kAgentUrl}">`);
    expect(response.body).toMatch(/<meta name="csrf-token" content="[A-Za-z0-9_-]{43}">/);
    expect(response.body).toContain('<script type="module" src="/static/login.js"></script>');
    const messages = JSON.parse(/id="login-messages">([\s\S]*?)<\/script>/.exec(response.body)![1]!) as { agent: Record<string, string> };
    expect(messages.agent.PIN_BLOCKED).toBe(kAgentMessages.PIN_BLOCKED);
    expect(messages.agent.AGENT_UNREACHABLE).toBe(kAgentMessages.AGENT_UNREACHABLE);
  });

  it('starts the session with a signed, HttpOnly, SameSite=Lax cookie (Secure behind an https public URL)', async () => {
    const response = await app.inject({ method: 'GET', url: '/login' });
    const cookie = response.cookies.find((c) => c.name === kSessionCookie)!;
    expect(cookie).toBeDefined();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookie.secure).toBeFalsy();
    // Signed: a tampered value is no session at all.
    const tampered = `${cookie.value.slice(0, -2)}xx`;
    const forged = await app.inject({ method: 'POST', url: '/api/login/nonce', payload: {}, cookies: { [kSessionCookie]: tampered }, headers: { 'x-csrf-token': 'x' } });
    expect(forged.json().code).toBe('CSRF_INVALID');

    const https = await portalFor(world, new TestClock(), { publicUrl: 'https://portal.example.test' });
    try {
      const secure = (await https.inject({ method: 'GET', url: '/login' })).cookies.find((c) => c.name === kSessionCookie)!;
      expect(secure.secure).toBe(true);
    } finally {
      await https.close();
    }
  });

  it('sends a Content-Security-Policy that lets the page reach the portal and the agent only', async () => {
    const response = await app.inject({ method: 'GET', url: '/login' });
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' ws://127.0.0.1:31313");
    expect(csp).toContain("img-src 'self' data:");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves the login script as a module whose imports it also serves, and the style sheet', async () => {
    const script = await app.inject({ method: 'GET', url: '/static/login.js' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    for (const step of ["'/api/login/nonce'", "type: 'sign'", "type: 'readCardInfo'", "'/api/login/link'", "'/api/qr/sessions'"]) expect(script.body).toContain(step);
    const imports = [...script.body.matchAll(/from '\.\/([\w-]+\.js)'/g)].map((m) => m[1]!);
    expect(imports).toContain('page.js');
    for (const name of imports) {
      const imported = await app.inject({ method: 'GET', url: `/static/${name}` });
      expect(imported.statusCode, name).toBe(200);
      expect(imported.headers['content-type']).toBe('text/javascript; charset=utf-8');
    }
    expect((await app.inject({ method: 'GET', url: '/static/page.js' })).body).toContain('new EventSource');
    const css = await app.inject({ method: 'GET', url: '/static/portal.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.body).toContain('.screen-id');
  });

  it('ログアウト完了 and the phone landing page show their screen numbers', async () => {
    expect(byTestId((await app.inject({ method: 'GET', url: '/logged-out' })).body, 'screen-id')).toBe('画面番号:L-02');
    const landing = await app.inject({ method: 'GET', url: '/m/qr-login?s=x&t=y' });
    expect(byTestId(landing.body, 'screen-id')).toBe('画面番号:M-01');
    expect(byTestId(landing.body, 'qr-landing-message')).toMatch(/マイナポータルアプリで読み取って/);
  });

  it('answers unknown addresses with NOT_FOUND: JSON for the API, the error page for pages', async () => {
    const api = await app.inject({ method: 'GET', url: '/api/nothing' });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toMatchObject({ code: 'NOT_FOUND' });
    const page = await app.inject({ method: 'GET', url: '/nothing' });
    expect(page.statusCode).toBe(404);
    expect(byTestId(page.body, 'screen-id')).toBe('画面番号:E-01');
    expect(page.body).toContain('data-code="NOT_FOUND"');
  });

  it('shows the way to the menu on トップ when logged in', async () => {
    const browser = new Browser(app);
    expect(await browser.loginWithCard(card)).toBe('/account/new');
    // Not logged in until registered: the pending login is not a login.
    expect((await browser.get('/')).body).toContain('data-testid="login-link"');
    await browser.postForm('/account/confirm', { nickname: 'テスト', language_ja: 'on' });
    await browser.postForm('/account/register', {});
    const top = await browser.get('/');
    expect(top.body).toContain('data-testid="menu-link"');
    expect(top.body).toContain('data-testid="logout"');
  });

  it('mounts the public verification API outside the browser session (no CSRF token needed)', async () => {
    const certificate = (await card.signNonce(Buffer.alloc(32).toString('base64'))).certificate;
    const response = await app.inject({ method: 'POST', url: '/api/verify/certificate', payload: { certificate, kind: 'auth' } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ code: 'OK', certificate: { kind: 'auth' } });
  });
});
