/**
 * The simulated signing app against the portal (through `inject`, as its fetch): the two hand-off
 * forms, the summary it shows, the password rules it applies before touching the card, and the
 * card's answers — a signature the portal accepts, a wrong password with the tries left, a blocked
 * password, a minor's card without a signature certificate.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard } from '../../../emulator/index.js';
import { parseSigningPayload, SigningApp } from '../../../harness/agents/phone/signing-app.js';
import { InProcessReader } from '../../../harness/readers/in-process-reader.js';
import { Browser, caWorld, portalFor, registrationForm, TestClock, type CaWorld, type TestCard } from '../mynaportal/support/portal-fixture.js';

const kPortal = 'http://portal.test';

describe('the signing app', () => {
  let world: CaWorld;
  let adult: TestCard;
  let minor: TestCard;
  let app: FastifyInstance;
  let pc: Browser;
  const readers: InProcessReader[] = [];

  /** The app's fetch, answered by the portal in process. */
  const injectFetch: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const response = await app.inject({
      method: (init?.method ?? 'GET') as 'GET' | 'POST',
      url: `${url.pathname}${url.search}`,
      headers: init?.headers as Record<string, string>,
      ...(init?.body ? { payload: String(init.body) } : {}),
    });
    return new Response(response.body, { status: response.statusCode, headers: { 'content-type': String(response.headers['content-type'] ?? '') } });
  };

  function phone(card: TestCard): SigningApp {
    const reader = new InProcessReader('Phone NFC', createMemoryCard(card.image));
    readers.push(reader);
    return new SigningApp({ reader, fetch: injectFetch, cardWaitMs: 200 });
  }

  /** A new application on the logged-in PC, and its deep link. */
  async function handOff(): Promise<{ id: string; link: string; https: string }> {
    await pc.get('/applications/new');
    const created = await pc.postForm('/applications/confirm', { name: '番号 太郎', address: '東京都千代田区霞が関二丁目1番2号' });
    const id = String(created.headers.location).split('/')[2]!;
    await pc.get(`/applications/${id}/confirm`);
    const start = (await pc.postJson(`/api/applications/${id}/signing`, {})).json<{ link: string; https: string }>();
    return { ...start, id };
  }

  beforeAll(async () => {
    world = caWorld();
    adult = await world.issue('adult');
    minor = await world.issue('minor');
    app = await portalFor(world, new TestClock(), { publicUrl: kPortal });
    pc = new Browser(app);
    expect(await pc.loginWithCard(adult)).toBe('/account/new');
    await pc.get('/account/new');
    await pc.postForm('/account/confirm', registrationForm());
    await pc.postForm('/account/register', {});
  });
  afterAll(async () => {
    for (const reader of readers) await reader.close();
    await app?.close();
    world?.remove();
  });

  it('reads both hand-off forms and refuses anything else', () => {
    expect(parseSigningPayload('jpkihil-sign://sign?s=abc&t=def&portal=http%3A%2F%2Fportal.test%2Fx%2F')).toEqual({ portal: 'http://portal.test/x', session: 'abc', token: 'def' });
    expect(parseSigningPayload('https://portal.test/x/m/sign?s=abc&t=def')).toEqual({ portal: 'https://portal.test/x', session: 'abc', token: 'def' });
    for (const bad of ['not a url', 'jpkihil-sign://sign?s=a&t=b', 'jpkihil-sign://other?s=a&t=b&portal=http%3A%2F%2Fx', 'https://portal.test/m/qr-login?s=a&t=b', 'jpkihil-sign://sign?s=a&portal=http%3A%2F%2Fx']) {
      expect(() => parseSigningPayload(bad), bad).toThrow(expect.objectContaining({ code: 'QR_INVALID' }));
    }
  });

  it('shows the summary, upper-cases the password and signs what the portal accepts', async () => {
    const { id, link } = await handOff();
    const signer = phone(adult);
    expect(signer.openDeepLink(link)).toMatchObject({ portal: kPortal });
    expect(await signer.review()).toEqual({ recipient: 'jpki-hil市', title: '〇〇ポイント申請', appliedOn: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    expect(JSON.parse(Buffer.from(signer.reviewed!.document).toString('utf8'))).toMatchObject({ applicationId: id });
    await expect(signer.consentAndSign('jpki2026')).resolves.toEqual({ ok: true });
    expect(app.portalContext.store.applications.getApplication(id)).toMatchObject({ state: 'signed' });
    // The hand-off is single use.
    await expect(signer.consentAndSign('JPKI2026')).rejects.toMatchObject({ code: 'SIGN_SESSION_USED', source: 'portal' });
  });

  it('refuses a badly formed password without touching the card', async () => {
    const { https } = await handOff();
    const signer = phone(adult);
    signer.openDeepLink(https);
    for (const bad of ['ABC12', 'A'.repeat(17), 'JPKI-2026', 'パスワード12']) {
      await expect(signer.consentAndSign(bad), bad).rejects.toMatchObject({ code: 'PASSWORD_FORMAT', source: 'phone' });
    }
  });

  it('reports a wrong password with the tries left, then the lock after the fifth', async () => {
    const { link } = await handOff();
    // A card of its own: this one's signature password ends blocked.
    const signer = phone(await world.issue('adult'));
    signer.openDeepLink(link);
    for (const left of [4, 3, 2, 1]) {
      await expect(signer.consentAndSign('WRONG123')).rejects.toMatchObject({ code: 'WRONG_PIN', triesLeft: left, source: 'card' });
    }
    await expect(signer.consentAndSign('WRONG123')).rejects.toMatchObject({ code: 'PIN_BLOCKED' });
    // The portal was told: the hand-off ended.
    await expect(signer.review()).rejects.toMatchObject({ code: 'SIGN_SESSION_USED' });
  });

  it('says a minor’s card has no signature certificate', async () => {
    const { link } = await handOff();
    const signer = phone(minor);
    signer.openDeepLink(link);
    await expect(signer.consentAndSign('ANY123')).rejects.toMatchObject({ code: 'NO_SIGNATURE_CERTIFICATE', message: expect.stringMatching(/署名用電子証明書が搭載されていません/) });
  });
});
