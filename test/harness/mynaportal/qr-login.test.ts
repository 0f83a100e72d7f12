/**
 * QR login through the API: the PC page creates a QR session and listens to its events; a
 * simulated phone (the emulated card signing through the host JPKI client) takes the challenge,
 * completes, links; refusals for replay, expiry, another browser, unknown codes; failures pushed to
 * the page's event stream.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kAgentMessages } from '../../../harness/portal/mynaportal/agent-messages.js';
import { kPortalErrors } from '../../../harness/portal/mynaportal/errors.js';
import { Browser, byTestId, caWorld, decodeQrDataUrl, portalFor, registrationForm, TestClock, type CaWorld, type TestCard } from './support/portal-fixture.js';

const kFiveMinutes = 5 * 60_000;
const kPublicUrl = 'http://portal.test:8443';

interface QrSession {
  id: string;
  qr: string;
  qrImage: string;
  expiresAt: string;
}

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function parseEvents(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line !== '' && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => ({
      event: lines.find((l) => l.startsWith('event: '))!.slice(7),
      data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, unknown>,
    }));
}

describe('QR login', () => {
  let world: CaWorld;
  let card: TestCard;
  let newcomer: TestCard;
  let clock: TestClock;
  let app: FastifyInstance;

  beforeAll(async () => {
    world = caWorld();
    card = await world.issue('adult');
    newcomer = await world.issue('revoked-after-move');
    clock = new TestClock();
    app = await portalFor(world, clock, { publicUrl: kPublicUrl });
    // The adult already has an account (registered through the PC login).
    const pc = new Browser(app);
    expect(await pc.loginWithCard(card)).toBe('/account/new');
    await pc.get('/account/new');
    await pc.postForm('/account/confirm', registrationForm());
    expect((await pc.postForm('/account/register', {})).statusCode).toBe(200);
  });
  afterAll(async () => {
    await app.close();
    world.remove();
  });

  /** The page's QR session, and `code`: what the phone decodes from the image. */
  async function showQr(browser: Browser): Promise<QrSession & { code: { s: string; t: string } }> {
    if (!browser.csrfToken) await browser.get('/login');
    const response = await browser.postJson('/api/qr/sessions', {});
    expect(response.statusCode).toBe(200);
    const session = response.json<QrSession>();
    const url = new URL(session.qr);
    return { ...session, code: { s: url.searchParams.get('s')!, t: url.searchParams.get('t')! } };
  }

  /** The page's EventSource: resolves when the portal ends the stream. */
  function listen(browser: Browser, id: string): Promise<LightMyRequestResponse> {
    return app.inject({ method: 'GET', url: `/api/qr/sessions/${id}/events`, cookies: browser.cookies });
  }

  /** Waits until the page's stream is subscribed, so what follows is pushed live, not read back. */
  async function subscribed(id: string): Promise<void> {
    for (let i = 0; i < 200 && app.portalContext.qrEvents.listenerCount(id) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(app.portalContext.qrEvents.listenerCount(id)).toBe(1);
  }

  const phone = (path: string, payload: object): Promise<LightMyRequestResponse> => app.inject({ method: 'POST', url: `/api/qr/login/${path}`, payload });

  /** The phone agent: challenge, sign with the card, complete (and link when asked). */
  async function phoneLogin(qr: { s: string; t: string }, withCard: TestCard): Promise<string> {
    const challenge = await phone('challenge', qr);
    expect(challenge.statusCode, challenge.body).toBe(200);
    const { nonce } = challenge.json<{ nonce: string }>();
    const complete = await phone('complete', { ...qr, nonce, ...(await withCard.signNonce(nonce)) });
    expect(complete.statusCode, complete.body).toBe(200);
    const { next } = complete.json<{ next: string }>();
    if (next !== 'card-info') return next;
    const link = await phone('link', { ...qr, ...(await withCard.readCardInfo()) });
    expect(link.statusCode, link.body).toBe(200);
    return link.json<{ next: string }>().next;
  }

  it('creates a QR session whose image decodes to the payload URL, bound to 5 minutes', async () => {
    const browser = new Browser(app);
    const session = await showQr(browser);
    expect(session.qr).toBe(`${kPublicUrl}/m/qr-login?s=${session.id}&t=${session.code.t}`);
    expect(Buffer.from(session.code.t, 'base64url')).toHaveLength(32);
    expect(Date.parse(session.expiresAt) - clock.now().getTime()).toBe(kFiveMinutes);
    expect(session.qrImage.startsWith('data:image/png;base64,')).toBe(true);
    // Decoded as the phone agent does: PNG → pixels → QR.
    expect(decodeQrDataUrl(session.qrImage)).toBe(session.qr);
    // CSRF applies to the PC side.
    const forged = await browser.postJson('/api/qr/sessions', {}, {});
    expect(forged.json().code).toBe('CSRF_INVALID');
  });

  it('logs the PC session in when the phone completes, and pushes authenticated to the page as it happens', async () => {
    const browser = new Browser(app);
    const qr = await showQr(browser);
    const stream = listen(browser, qr.id);
    await subscribed(qr.id);
    expect(await phoneLogin(qr.code, card)).toBe('/menu');
    const events = parseEvents((await stream).body);
    const claim = `/login/qr/${qr.id}`;
    expect(events).toEqual([
      { event: 'waiting', data: {} },
      { event: 'authenticated', data: { next: claim } },
    ]);
    expect((await stream).headers['content-type']).toMatch(/^text\/event-stream/);
    // A page that connects late learns the outcome from the database.
    const late = parseEvents((await listen(browser, qr.id)).body);
    expect(late).toEqual([{ event: 'authenticated', data: { next: claim } }]);
    // Not logged in until the page claims the login; the claim gives the session a new cookie.
    expect((await browser.get('/menu')).statusCode).toBe(401);
    const before = browser.cookies.jpki_portal_session;
    const claimed = await browser.get(claim);
    expect(claimed.statusCode).toBe(303);
    expect(claimed.headers.location).toBe('/menu');
    expect(browser.cookies.jpki_portal_session).not.toBe(before);
    const menu = await browser.get('/menu');
    expect(menu.statusCode).toBe(200);
    expect(byTestId(menu.body, 'nickname')).toBe('マイナ父');
  });

  it('sends a new person through card info to registration on the PC', async () => {
    const browser = new Browser(app);
    const qr = await showQr(browser);
    const stream = listen(browser, qr.id);
    await subscribed(qr.id);
    expect(await phoneLogin(qr.code, newcomer)).toBe('/account/new');
    expect(parseEvents((await stream).body).at(-1)).toEqual({ event: 'authenticated', data: { next: `/login/qr/${qr.id}` } });
    expect((await browser.get(`/login/qr/${qr.id}`)).headers.location).toBe('/account/new');
    const input = await browser.get('/account/new');
    expect(byTestId(input.body, 'screen-id')).toBe('画面番号:B-01');
  });

  it('uses a QR code once: QR_ALREADY_USED for a second phone, a second challenge or a replayed complete', async () => {
    const browser = new Browser(app);
    const qr = await showQr(browser);
    const first = await phone('challenge', qr.code);
    const second = await phone('challenge', qr.code);
    expect(second.statusCode).toBe(409);
    expect(second.json()).toMatchObject({ code: 'QR_ALREADY_USED', message: kPortalErrors.QR_ALREADY_USED.message });
    const { nonce } = first.json<{ nonce: string }>();
    const signed = await card.signNonce(nonce);
    expect((await phone('complete', { ...qr.code, nonce, ...signed })).statusCode).toBe(200);
    const replay = await phone('complete', { ...qr.code, nonce, ...signed });
    expect(replay.statusCode).toBe(409);
    expect(replay.json().code).toBe('QR_ALREADY_USED');
    expect((await phone('challenge', qr.code)).json().code).toBe('QR_ALREADY_USED');
    expect((await phone('fail', { ...qr.code, code: 'CANCELLED' })).json().code).toBe('QR_ALREADY_USED');
  });

  it('expires after 5 minutes: QR_EXPIRED for the phone, expired for the page', async () => {
    const browser = new Browser(app);
    const qr = await showQr(browser);
    clock.advance(kFiveMinutes + 1000);
    try {
      const challenge = await phone('challenge', qr.code);
      expect(challenge.statusCode).toBe(410);
      expect(challenge.json().code).toBe('QR_EXPIRED');
      expect(parseEvents((await listen(browser, qr.id)).body)).toEqual([{ event: 'expired', data: {} }]);
    } finally {
      clock.advance(-(kFiveMinutes + 1000));
    }
  });

  it('pushes expired to a page that is still waiting when the 5 minutes run out', async () => {
    const browser = new Browser(app);
    const qr = await showQr(browser);
    const lifeLeftMs = 150;
    clock.advance(kFiveMinutes - lifeLeftMs);
    try {
      const started = Date.now();
      const events = parseEvents((await listen(browser, qr.id)).body);
      expect(events).toEqual([
        { event: 'waiting', data: {} },
        { event: 'expired', data: {} },
      ]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(lifeLeftMs - 20);
    } finally {
      clock.advance(-(kFiveMinutes - lifeLeftMs));
    }
  });

  it("refuses another browser's session (QR_SESSION_MISMATCH) and unknown codes (QR_UNKNOWN)", async () => {
    const owner = new Browser(app);
    const qr = await showQr(owner);
    const other = new Browser(app);
    await other.get('/login');
    const mismatch = await listen(other, qr.id);
    expect(mismatch.statusCode).toBe(403);
    expect(mismatch.json()).toMatchObject({ code: 'QR_SESSION_MISMATCH', message: kPortalErrors.QR_SESSION_MISMATCH.message });
    expect((await app.inject({ method: 'GET', url: `/api/qr/sessions/${qr.id}/events` })).json().code).toBe('QR_SESSION_MISMATCH');

    const wrongToken = await phone('challenge', { s: qr.code.s, t: 'A'.repeat(43) });
    expect(wrongToken.statusCode).toBe(404);
    expect(wrongToken.json().code).toBe('QR_UNKNOWN');
    expect((await phone('challenge', { s: 'B'.repeat(22), t: qr.code.t })).json().code).toBe('QR_UNKNOWN');
    expect((await listen(owner, 'C'.repeat(22))).json().code).toBe('QR_UNKNOWN');
    // The wrong guesses did not spend the code.
    expect((await phone('challenge', qr.code)).statusCode).toBe(200);
  });

  it("pushes the phone's reported failure to the page, with the message for its code", async () => {
    const browser = new Browser(app);
    const qr = await showQr(browser);
    const stream = listen(browser, qr.id);
    await subscribed(qr.id);
    expect((await phone('challenge', qr.code)).statusCode).toBe(200);
    const report = await phone('fail', { ...qr.code, code: 'PIN_BLOCKED' });
    expect(report.statusCode).toBe(200);
    expect(report.json()).toEqual({ ok: true });
    expect(parseEvents((await stream).body).at(-1)).toEqual({ event: 'failed', data: { code: 'PIN_BLOCKED', message: kAgentMessages.PIN_BLOCKED } });
    expect((await phone('challenge', qr.code)).json().code).toBe('QR_ALREADY_USED');
    expect((await browser.get('/menu')).statusCode).toBe(401);
  });

  it('ends the QR session on a verification refusal and tells the page why', async () => {
    const browser = new Browser(app);
    const qr = await showQr(browser);
    const stream = listen(browser, qr.id);
    await subscribed(qr.id);
    const { nonce } = (await phone('challenge', qr.code)).json<{ nonce: string }>();
    const otherNonce = Buffer.alloc(32, 7).toString('base64');
    const complete = await phone('complete', { ...qr.code, nonce, ...(await card.signNonce(otherNonce)) });
    expect(complete.statusCode).toBe(401);
    expect(complete.json().code).toBe('SIGNATURE_MISMATCH');
    expect(parseEvents((await stream).body).at(-1)).toEqual({
      event: 'failed',
      data: { code: 'SIGNATURE_MISMATCH', message: kPortalErrors.SIGNATURE_MISMATCH.message },
    });
  });

  it('takes the nonce only from its own QR session', async () => {
    const pc = new Browser(app);
    await pc.get('/login');
    const pcNonce = (await pc.postJson('/api/login/nonce', {})).json<{ nonce: string }>().nonce;
    const qr = await showQr(pc);
    expect((await phone('challenge', qr.code)).statusCode).toBe(200);
    const complete = await phone('complete', { ...qr.code, nonce: pcNonce, ...(await card.signNonce(pcNonce)) });
    expect(complete.statusCode).toBe(400);
    expect(complete.json().code).toBe('NONCE_UNKNOWN');
  });
});
