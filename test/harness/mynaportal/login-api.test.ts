/**
 * The PC login API: the nonce rules (unknown, replayed, expired, bound to its session), CSRF,
 * the verification refusals each with its code, the card-info step's refusals, the rate limit
 * and the answers' shape.
 */
import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kPortalErrors } from '../../../harness/portal/mynaportal/errors.js';
import { Browser, caWorld, portalFor, TestClock, type CaWorld, type TestCard } from './support/portal-fixture.js';

const kFiveMinutes = 5 * 60_000;

describe('the login API', () => {
  let world: CaWorld;
  let otherWorld: CaWorld;
  let card: TestCard;
  let expired: TestCard;
  let revoked: TestCard;
  let foreign: TestCard;
  let clock: TestClock;
  let app: FastifyInstance;
  let crlApp: FastifyInstance;

  beforeAll(async () => {
    world = caWorld();
    otherWorld = caWorld();
    card = await world.issue('adult');
    expired = await world.issue('expired-certificates');
    revoked = await world.issue('adult', (d) => ({ ...d, certificates: { ...d.certificates, revoked: { auth: 'keyCompromise' } } }));
    // A card from another CA: a valid JPKI-shaped certificate this portal does not trust.
    foreign = await otherWorld.issue('adult');
    clock = new TestClock();
    app = await portalFor(world, clock);
    crlApp = await portalFor(world, clock, { revocation: 'crl', crlStaleWindowMs: 0 });
  });
  afterAll(async () => {
    await app.close();
    await crlApp.close();
    world.remove();
    otherWorld.remove();
  });

  async function loggedOutBrowser(target = app): Promise<Browser> {
    const browser = new Browser(target);
    await browser.get('/login');
    return browser;
  }

  async function nonceFor(browser: Browser): Promise<string> {
    const response = await browser.postJson('/api/login/nonce', {});
    expect(response.statusCode).toBe(200);
    return response.json<{ nonce: string }>().nonce;
  }

  it('issues 32 random bytes that expire 5 minutes later', async () => {
    const browser = await loggedOutBrowser();
    const response = await browser.postJson('/api/login/nonce', {});
    const body = response.json<{ nonce: string; expiresAt: string }>();
    expect(Buffer.from(body.nonce, 'base64')).toHaveLength(32);
    expect(Date.parse(body.expiresAt) - clock.now().getTime()).toBe(kFiveMinutes);
    expect(await nonceFor(browser)).not.toBe(body.nonce);
  });

  it('refuses a state-changing request without the session CSRF token (403 CSRF_INVALID)', async () => {
    const browser = await loggedOutBrowser();
    for (const headers of [{}, { 'x-csrf-token': 'not-the-token' }] as Record<string, string>[]) {
      const response = await browser.postJson('/api/login/nonce', {}, headers);
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 'CSRF_INVALID', message: kPortalErrors.CSRF_INVALID.message });
    }
    // No session at all (a page that was never loaded from the portal).
    const stranger = await app.inject({ method: 'POST', url: '/api/login/nonce', payload: {}, headers: { 'x-csrf-token': browser.csrfToken } });
    expect(stranger.statusCode).toBe(403);
    expect(stranger.json().code).toBe('CSRF_INVALID');
    // The token of another session does not do either.
    const other = await loggedOutBrowser();
    const crossed = await browser.postJson('/api/login/nonce', {}, { 'x-csrf-token': other.csrfToken });
    expect(crossed.json().code).toBe('CSRF_INVALID');
    // Forms are checked the same way.
    const form = await browser.postForm('/logout', {}, false);
    expect(form.statusCode).toBe(403);
    expect(form.body).toContain('data-code="CSRF_INVALID"');
  });

  it('refuses an unknown nonce (NONCE_UNKNOWN)', async () => {
    const browser = await loggedOutBrowser();
    const invented = randomBytes(32).toString('base64');
    const response = await browser.postJson('/api/login', { nonce: invented, ...(await card.signNonce(invented)) });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('NONCE_UNKNOWN');
  });

  it('uses a nonce once: a replay is NONCE_USED', async () => {
    const browser = await loggedOutBrowser();
    const nonce = await nonceFor(browser);
    const signed = await card.signNonce(nonce);
    const first = await browser.postJson('/api/login', { nonce, ...signed });
    expect(first.statusCode).toBe(200);
    const replay = await browser.postJson('/api/login', { nonce, ...signed });
    expect(replay.statusCode).toBe(409);
    expect(replay.json().code).toBe('NONCE_USED');
  });

  it('refuses a nonce after its 5 minutes (NONCE_EXPIRED), by the portal clock', async () => {
    const browser = await loggedOutBrowser();
    const nonce = await nonceFor(browser);
    const signed = await card.signNonce(nonce);
    clock.advance(kFiveMinutes + 1000);
    try {
      const response = await browser.postJson('/api/login', { nonce, ...signed });
      expect(response.statusCode).toBe(410);
      expect(response.json().code).toBe('NONCE_EXPIRED');
    } finally {
      clock.advance(-(kFiveMinutes + 1000));
    }
  });

  it('binds a nonce to its browser session: another session gets NONCE_UNKNOWN and cannot burn it', async () => {
    const owner = await loggedOutBrowser();
    const thief = await loggedOutBrowser();
    const nonce = await nonceFor(owner);
    const signed = await card.signNonce(nonce);
    const stolen = await thief.postJson('/api/login', { nonce, ...signed });
    expect(stolen.statusCode).toBe(400);
    expect(stolen.json().code).toBe('NONCE_UNKNOWN');
    const mine = await owner.postJson('/api/login', { nonce, ...signed });
    expect(mine.statusCode).toBe(200);
    expect(mine.json().next).toBe('card-info');
  });

  it('maps each verification refusal to its code, and spends the nonce anyway', async () => {
    const browser = await loggedOutBrowser();

    // The card signed another nonce: SIGNATURE_MISMATCH.
    const nonce = await nonceFor(browser);
    const wrong = await card.signNonce(randomBytes(32).toString('base64'));
    const mismatch = await browser.postJson('/api/login', { nonce, ...wrong });
    expect(mismatch.statusCode).toBe(401);
    expect(mismatch.json()).toMatchObject({ code: 'SIGNATURE_MISMATCH', message: kPortalErrors.SIGNATURE_MISMATCH.message });
    expect(mismatch.json().detail).toMatch(/signature/i);
    const retry = await browser.postJson('/api/login', { nonce, ...(await card.signNonce(nonce)) });
    expect(retry.json().code).toBe('NONCE_USED');

    const expect401 = async (signer: TestCard, code: string): Promise<void> => {
      const n = await nonceFor(browser);
      const response = await browser.postJson('/api/login', { nonce: n, ...(await signer.signNonce(n)) });
      expect(response.statusCode, response.body).toBe(kPortalErrors[code as keyof typeof kPortalErrors].status);
      expect(response.json().code).toBe(code);
    };
    await expect401(expired, 'CERTIFICATE_EXPIRED');
    await expect401(foreign, 'UNSUPPORTED_CERTIFICATE');
    // Without revocation checking the revoked card passes; with the CA's CRL it does not.
    const unchecked = await nonceFor(browser);
    expect((await browser.postJson('/api/login', { nonce: unchecked, ...(await revoked.signNonce(unchecked)) })).statusCode).toBe(200);

    // Bytes that are no certificate at all: the verifier refuses the input.
    const n = await nonceFor(browser);
    const garbage = await browser.postJson('/api/login', { nonce: n, signature: (await card.signNonce(n)).signature, certificate: Buffer.from('not a certificate').toString('base64') });
    expect(garbage.statusCode).toBe(400);
    expect(garbage.json().code).toBe('BAD_REQUEST');
  });

  it('checks revocation through the CA directory CRL: CERTIFICATE_REVOKED, and REVOCATION_UNAVAILABLE without a CRL', async () => {
    const browser = await loggedOutBrowser(crlApp);
    const nonce = await nonceFor(browser);
    const response = await browser.postJson('/api/login', { nonce, ...(await revoked.signNonce(nonce)) });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('CERTIFICATE_REVOKED');
    expect(response.json().detail).toMatch(/revoked/);

    const good = await nonceFor(browser);
    expect((await browser.postJson('/api/login', { nonce: good, ...(await card.signNonce(good)) })).statusCode).toBe(200);

    // A portal that never got the CRL cannot decide: 503, never "not revoked". (A portal that had
    // it keeps using the last good one until its nextUpdate, so a fresh portal is needed here.)
    const crl = join(world.caDir, 'auth.crl');
    renameSync(crl, `${crl}.away`);
    const fresh = await portalFor(world, clock, { revocation: 'crl' });
    try {
      const other = await loggedOutBrowser(fresh);
      const n = await nonceFor(other);
      const unavailable = await other.postJson('/api/login', { nonce: n, ...(await card.signNonce(n)) });
      expect(unavailable.statusCode).toBe(503);
      expect(unavailable.json()).toMatchObject({ code: 'REVOCATION_UNAVAILABLE', message: kPortalErrors.REVOCATION_UNAVAILABLE.message });
    } finally {
      renameSync(`${crl}.away`, crl);
      await fresh.close();
    }
  });

  it('validates bodies by schema: BAD_REQUEST with { code, message }', async () => {
    const browser = await loggedOutBrowser();
    const missing = await browser.postJson('/api/login', { nonce: 'AAAA' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'BAD_REQUEST', message: kPortalErrors.BAD_REQUEST.message });
    const notBase64 = await browser.postJson('/api/login', { nonce: 'not base64!', signature: 'AAAA', certificate: 'AAAA' });
    expect(notBase64.json().code).toBe('BAD_REQUEST');
    const extra = await browser.postJson('/api/login/nonce', { purpose: 'login' });
    expect(extra.json().code).toBe('BAD_REQUEST');
  });

  it('refuses card info without a pending login, after its 5 minutes, and when it does not verify', async () => {
    const browser = await loggedOutBrowser();
    const info = await card.readCardInfo();
    const none = await browser.postJson('/api/login/link', info);
    expect(none.statusCode).toBe(410);
    expect(none.json().code).toBe('LOGIN_PENDING_EXPIRED');

    const nonce = await nonceFor(browser);
    expect((await browser.postJson('/api/login', { nonce, ...(await card.signNonce(nonce)) })).json().next).toBe('card-info');
    // One digit of the birth date changed (EF 0002 ends … DF24 08 YYYYMMDD DF25 01 <sex>): the
    // basic 4 no longer match the signed hash.
    const tampered = Buffer.from(info.basic4, 'base64');
    tampered[tampered.length - 5]! ^= 0x01;
    const invalid = await browser.postJson('/api/login/link', { basic4: tampered.toString('base64'), basic4Signature: info.basic4Signature });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().code).toBe('CARD_INFO_INVALID');
    expect(invalid.json().detail).toMatch(/DF32/);

    clock.advance(kFiveMinutes + 1000);
    try {
      const late = await browser.postJson('/api/login/link', info);
      expect(late.statusCode).toBe(410);
      expect(late.json().code).toBe('LOGIN_PENDING_EXPIRED');
    } finally {
      clock.advance(-(kFiveMinutes + 1000));
    }
  });

  it('leaves out the detail unless in test mode', async () => {
    const quiet = await portalFor(world, clock, { testMode: false });
    try {
      const browser = await loggedOutBrowser(quiet);
      const invented = randomBytes(32).toString('base64');
      const response = await browser.postJson('/api/login', { nonce: invented, ...(await card.signNonce(invented)) });
      expect(Object.keys(response.json()).sort()).toEqual(['code', 'message']);
    } finally {
      await quiet.close();
    }
  });
});

describe('the login rate limit', () => {
  let world: CaWorld;
  let app: FastifyInstance;

  beforeAll(async () => {
    world = caWorld();
    await world.issue('adult');
    app = await portalFor(world, new TestClock(), { loginRateLimit: { max: 3, timeWindowMs: 60_000 } });
  });
  afterAll(async () => {
    await app.close();
    world.remove();
  });

  it('answers 429 RATE_LIMITED past the limit, over all /api/login* routes, and nowhere else', async () => {
    const browser = new Browser(app);
    await browser.get('/login');
    expect((await browser.postJson('/api/login/nonce', {})).statusCode).toBe(200);
    expect((await browser.postJson('/api/login', {})).statusCode).toBe(400);
    expect((await browser.postJson('/api/login/link', {})).statusCode).toBe(400);
    const limited = await browser.postJson('/api/login/nonce', {});
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED', message: kPortalErrors.RATE_LIMITED.message });
    expect(limited.headers['retry-after']).toBeDefined();
    // Pages and the QR API are not counted.
    expect((await browser.get('/login')).statusCode).toBe(200);
    expect((await browser.postJson('/api/qr/sessions', {})).statusCode).toBe(200);
  });
});
