import { createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, kCardInfoPublicKeyFile } from '../../../emulator/index.js';
import { parseQrLoginPayload, PhoneError, SimulatedPhone } from '../../../harness/agents/phone/simulated-phone.js';
import { JpkiClient } from '../../../harness/jpki/jpki-client.js';
import { InProcessReader } from '../../../harness/readers/in-process-reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../../support/cards.js';
import { FakeQrPortal } from './fake-qr-portal.js';

const kPayload = `http://127.0.0.1:8443/m/qr-login?s=0f3a9c2d&t=${randomBytes(32).toString('base64url')}`;

/** Rejects (or throws) with a PhoneError; returns it for the test's own checks. */
async function phoneError(work: Promise<unknown> | (() => unknown)): Promise<PhoneError> {
  const error = await (typeof work === 'function' ? Promise.resolve().then(work) : work).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PhoneError);
  return error as PhoneError;
}

/** A page-like screenshot: a header bar, lines of "text", a button, and the QR code off-centre. */
async function screenshotWithQr(text: string): Promise<Uint8Array> {
  const width = 1280;
  const height = 800;
  const page = new PNG({ width, height });
  const fill = (x0: number, y0: number, w: number, h: number, [r, g, b]: [number, number, number]): void => {
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const i = (y * width + x) * 4;
        page.data[i] = r;
        page.data[i + 1] = g;
        page.data[i + 2] = b;
        page.data[i + 3] = 255;
      }
    }
  };
  fill(0, 0, width, height, [248, 248, 246]);
  fill(0, 0, width, 72, [0, 82, 155]); // header bar
  for (let line = 0; line < 12; line++) fill(80, 120 + line * 40, 420 + ((line * 97) % 200), 14, [60, 60, 60]); // text
  fill(80, 640, 240, 56, [214, 40, 40]); // a button
  const qr = PNG.sync.read(await QRCode.toBuffer(text, { type: 'png', scale: 4, margin: 4 }));
  PNG.bitblt(qr, page, 0, 0, qr.width, qr.height, 760, 220);
  return PNG.sync.write(page);
}

describe('SimulatedPhone.scanQr', () => {
  const phone = new SimulatedPhone({ reader: new InProcessReader('unused'), pins: { auth: '1234' } });

  it('decodes a QR code generated as a PNG', async () => {
    const png = await QRCode.toBuffer(kPayload, { type: 'png' });
    expect(phone.scanQr(png)).toBe(kPayload);
  });

  it('finds the QR code inside a larger screenshot with other content', async () => {
    expect(phone.scanQr(await screenshotWithQr(kPayload))).toBe(kPayload);
  });

  it('says clearly when the screenshot has no QR code, or is not a PNG', async () => {
    const blank = new PNG({ width: 320, height: 200 });
    blank.data.fill(255);
    const missing = await phoneError(() => phone.scanQr(PNG.sync.write(blank)));
    expect(missing.code).toBe('QR_NOT_FOUND');
    expect(missing.message).toMatch(/no QR code found in the 320×200 screenshot/);
    expect((await phoneError(() => phone.scanQr(Buffer.from('GIF89a not a png')))).code).toBe('BAD_IMAGE');
  });
});

describe('parseQrLoginPayload', () => {
  it('takes the portal base, session id and token from the QR URL, keeping a path prefix', () => {
    expect(parseQrLoginPayload('https://portal.example.jp/city/m/qr-login?s=abc&t=xyz')).toEqual({
      portal: 'https://portal.example.jp/city',
      session: 'abc',
      token: 'xyz',
    });
  });

  it('refuses QR codes that are not login URLs', async () => {
    for (const payload of ['hello', 'http://127.0.0.1/m/other?s=a&t=b', 'http://127.0.0.1/m/qr-login?s=a', 'ftp://x/m/qr-login?s=a&t=b']) {
      expect((await phoneError(() => parseQrLoginPayload(payload))).code).toBe('QR_INVALID');
    }
  });
});

describe('SimulatedPhone.loginWithQr against a fake portal', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let portal: FakeQrPortal;
  let reader: InProcessReader;

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
  });
  afterAll(() => dir.remove());
  afterEach(() => portal.close());

  async function setUp(pins: { auth: string; kenhojo?: string } = { auth: '1234' }): Promise<SimulatedPhone> {
    const cardInfoKey = createPublicKey(readFileSync(join(fixture.ca.dir, kCardInfoPublicKeyFile), 'utf8'));
    portal = new FakeQrPortal(new X509Certificate(fixture.ca.auth.certificate), cardInfoKey);
    await portal.listen();
    reader = new InProcessReader('phone NFC', createMemoryCard(fixture.image));
    return new SimulatedPhone({ reader, pins, name: 'test phone', cardWaitMs: 100 });
  }

  it('logs in a known card: challenge, signature the portal verifies, complete', async () => {
    const phone = await setUp();
    const { session, payload } = portal.createSession();
    expect(await phone.loginWithQr(payload)).toEqual({ next: '/menu' });
    expect(session.state).toBe('done');
    expect(session.certificate?.checkIssued(new X509Certificate(fixture.ca.auth.certificate))).toBe(true);
    expect(portal.calls).toEqual(['/api/qr/login/challenge', '/api/qr/login/complete']);
  });

  it('links the card info when the portal asks for it', async () => {
    const phone = await setUp();
    const { session, payload } = portal.createSession({ needsCardInfo: true });
    expect(await phone.loginWithQr(payload)).toEqual({ next: '/account/new', linked: true });
    const identity = fixture.definition.identity;
    expect(session.linked).toEqual({ name: identity.name, address: identity.address, birth: identity.birth, sex: identity.sex });
    expect(portal.calls).toEqual(['/api/qr/login/challenge', '/api/qr/login/complete', '/api/qr/login/link']);
  });

  it("surfaces the portal's refusals as PhoneErrors with its codes, without reporting them back", async () => {
    const phone = await setUp();
    const used = portal.createSession();
    await phone.loginWithQr(used.payload);
    const again = await phoneError(phone.loginWithQr(used.payload));
    expect(again).toMatchObject({ code: 'QR_ALREADY_USED', source: 'portal' });
    expect(again.message).toMatch(/既に使用/);

    const expired = portal.createSession({ expiresInMs: -1000 });
    expect((await phoneError(phone.loginWithQr(expired.payload))).code).toBe('QR_EXPIRED');

    const { session } = portal.createSession();
    const forged = portal.createSession().payload.replace(/s=[^&]+/, `s=${session.id}`);
    expect((await phoneError(phone.loginWithQr(forged))).code).toBe('QR_UNKNOWN');
    expect(session.state).toBe('waiting');
    expect(portal.calls.filter((c) => c.endsWith('/fail'))).toEqual([]);
  });

  it('reports CARD_REMOVED to /fail and throws it when the card leaves between challenge and complete', async () => {
    const phone = await setUp();
    const { session, payload } = portal.createSession();
    portal.onChallenge = () => reader.remove();
    const error = await phoneError(phone.loginWithQr(payload));
    expect(error).toMatchObject({ code: 'CARD_REMOVED', source: 'card' });
    expect(session.failures).toEqual(['CARD_REMOVED']);
    expect(portal.calls).toEqual(['/api/qr/login/challenge', '/api/qr/login/fail']);
  });

  it('reports WRONG_PIN with the tries left', async () => {
    const phone = await setUp({ auth: '9999' });
    const { session, payload } = portal.createSession();
    const error = await phoneError(phone.loginWithQr(payload));
    expect(error).toMatchObject({ code: 'WRONG_PIN', triesLeft: 2 });
    expect(session.failures).toEqual(['WRONG_PIN']);
    const connection = await reader.connect();
    expect(await new JpkiClient(connection).pinTriesLeft('auth')).toBe(2);
    await connection.disconnect();
  });

  it('reports NO_CARD when no card is held to the phone', async () => {
    const phone = await setUp();
    reader.remove();
    const { session, payload } = portal.createSession();
    expect((await phoneError(phone.loginWithQr(payload))).code).toBe('NO_CARD');
    expect(session.failures).toEqual(['NO_CARD']);
    expect(session.state).toBe('failed');
  });

  it('the fake portal is strict: unknown fields and wrong types are refused, not stripped or coerced', async () => {
    await setUp();
    const { session, payload } = portal.createSession();
    const base = parseQrLoginPayload(payload).portal;
    const post = (body: unknown): Promise<Response> =>
      fetch(`${base}/api/qr/login/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const extra = await post({ s: session.id, t: session.token, extra: 1 });
    expect(extra.status).toBe(400);
    expect(await extra.json()).toMatchObject({ code: 'BAD_REQUEST' });
    expect((await post({ s: session.id, t: 42 })).status).toBe(400);
    expect(session.state).toBe('waiting');
  });

  it('says PORTAL_UNREACHABLE when the portal cannot be reached', async () => {
    await setUp();
    const offline = new SimulatedPhone({ reader, pins: { auth: '1234' }, fetch: () => Promise.reject(new TypeError('fetch failed')) });
    const error = await phoneError(offline.loginWithQr(portal.createSession().payload));
    expect(error.code).toBe('PORTAL_UNREACHABLE');
    expect(error.message).toMatch(/fetch failed/);
  });
});
