/**
 * The city portal through inject(): registration in the guide's order with SMS and e-mail codes
 * (5 tries, 10 minutes, read from the outbox), the outbox only in test mode, CSRF and escaping,
 * and linking the city ID through the IdP with the phone app and the emulated card.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kCitizenUrl, kIssuer, injectWorld, type InjectBrowser, type InjectWorld } from './support/citizen-env.js';

const u = (path: string): string => `${kCitizenUrl}${path}`;

describe('city portal (Nobeoka-like)', () => {
  let world: InjectWorld;
  let phoneCounter = 0;
  /** The account the card is linked to by the first test. */
  let linkedEmail = '';

  beforeAll(async () => {
    world = await injectWorld();
  });
  afterAll(async () => {
    await world.close();
  });

  function nextPhone(): string {
    phoneCounter += 1;
    return `0901234${String(phoneCounter).padStart(4, '0')}`;
  }

  async function lastCode(channel: 'sms' | 'email', to: string): Promise<string> {
    const messages = (await world.outbox(channel)).filter((m) => m.to === to);
    expect(messages.length).toBeGreaterThan(0);
    return messages.at(-1)!.code;
  }

  /** Consent and the phone number: the SMS code is waiting. */
  async function upToSmsCode(browser: InjectBrowser): Promise<string> {
    expect((await browser.submit(u('/register/terms'), u('/register/terms'))).location).toBe(u('/register/phone'));
    const phone = nextPhone();
    expect((await browser.submit(u('/register/phone'), u('/register/phone'), { phone })).location).toBe(u('/register/phone/code'));
    return phone;
  }

  /** A whole registration; returns the e-mail address. */
  async function register(browser: InjectBrowser, nickname = 'のべおか太郎'): Promise<string> {
    const phone = await upToSmsCode(browser);
    expect((await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code: await lastCode('sms', phone) })).location).toBe(u('/register/email'));
    const email = `user${phoneCounter}@example.jp`;
    expect((await browser.submit(u('/register/email'), u('/register/email'), { email, password: 'passw0rd-test', nickname })).location).toBe(u('/register/email/code'));
    expect((await browser.submit(u('/register/email/code'), u('/register/email/code'), { code: await lastCode('email', email) })).location).toBe(u('/register/confirm'));
    const confirm = await browser.get(u('/register/confirm'));
    expect(confirm.body).toContain('登録内容の確認');
    expect((await browser.submit(u('/register/confirm'), u('/register/confirm'))).location).toBe(u('/mypage'));
    return email;
  }

  /** 「連携する」 → the IdP with the phone app → back at the callback; returns the callback's answer. */
  async function link(browser: InjectBrowser): Promise<{ status: number; body: string; callback: string }> {
    const toIdp = await browser.submit(u('/link'), u('/link/start'));
    expect(toIdp.status).toBe(303);
    expect(toIdp.location!.startsWith(`${kIssuer}/authorize?`)).toBe(true);
    const authorize = new URL(toIdp.location!);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    const wait = await browser.get(toIdp.location!);
    const page = await browser.get(wait.location!);
    const deepLink = /data-testid="deep-link" href="([^"]+)"/.exec(page.body)![1]!.replace(/&amp;/g, '&');
    await world.authApp.open(deepLink);
    const back = await browser.get(wait.location!);
    expect(back.status).toBe(302);
    const answer = await browser.get(back.location!);
    return { ...answer, callback: back.location! };
  }

  it('registers in the guide order and links the city ID through the IdP', async () => {
    const browser = world.browser();
    linkedEmail = await register(browser);
    const mypage = await browser.get(u('/mypage'));
    expect(mypage.body).toContain('アカウント作成完了');
    expect(mypage.body).toContain('マイナンバーカードを連携する');
    expect(mypage.body).toContain('未連携');
    const linked = await link(browser);
    expect(linked.status).toBe(200);
    expect(linked.body).toContain('連携が完了しました');
    expect(linked.body).toContain(world.fixture.definition.identity.name);
    expect(linked.body).toContain('マイナンバーカードの情報からプロフィールを作成しました。');
    const after = await browser.get(u('/mypage'));
    expect(after.body).toContain('連携済み');
    expect(after.body).not.toContain('アカウント作成完了');
  });

  it('links again after a login, and refuses a replayed callback (the state is used once)', async () => {
    const browser = world.browser();
    const login = await browser.submit(u('/login'), u('/login'), { email: linkedEmail, password: 'passw0rd-test' });
    expect(login.location).toBe(u('/mypage'));
    const linked = await link(browser);
    expect(linked.body).toContain('連携が完了しました');
    expect(linked.body).toContain('プロフィールをマイナンバーカードの情報で更新しました。');
    const replay = await browser.get(linked.callback);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('data-code="LINK_STATE_INVALID"');
  });

  it('refuses the link of a card already linked to another account', async () => {
    // The earlier tests linked this card to another account.
    const browser = world.browser();
    await register(browser);
    const linked = await link(browser);
    expect(linked.status).toBe(409);
    expect(linked.body).toContain('data-code="ALREADY_LINKED"');
  });

  it('takes 5 tries of an SMS code, then refuses even the right code', async () => {
    const browser = world.browser();
    const phone = await upToSmsCode(browser);
    const code = await lastCode('sms', phone);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 1; i <= 4; i++) {
      const answer = await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code: wrong });
      expect(answer.status).toBe(400);
      expect(answer.body).toContain('data-code="CODE_WRONG"');
      expect(answer.body).toContain(`あと${5 - i}回入力できます。`);
    }
    const fifth = await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code: wrong });
    expect(fifth.body).toContain('data-code="CODE_EXHAUSTED"');
    const right = await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code });
    expect(right.status).toBe(429);
    expect(right.body).toContain('data-code="CODE_EXHAUSTED"');
    // A new code starts afresh, once the resend's back-off (30 s after the first code) has passed.
    const tooSoon = await browser.submit(u('/register/phone/code'), u('/register/phone/resend'));
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.body).toContain('data-code="CODE_RESEND_TOO_SOON"');
    world.clock.advance(30_000);
    expect((await browser.submit(u('/register/phone/code'), u('/register/phone/resend'))).location).toBe(u('/register/phone/code'));
    const fresh = await lastCode('sms', phone);
    expect((await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code: fresh })).location).toBe(u('/register/email'));
  });

  it('lets an SMS code expire after 10 minutes', async () => {
    const browser = world.browser();
    const phone = await upToSmsCode(browser);
    const code = await lastCode('sms', phone);
    world.clock.advance(10 * 60_000 + 1);
    const answer = await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code });
    expect(answer.status).toBe(410);
    expect(answer.body).toContain('data-code="CODE_EXPIRED"');
  });

  it('lets an e-mail code be tried 5 times too', async () => {
    const browser = world.browser();
    const phone = await upToSmsCode(browser);
    await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code: await lastCode('sms', phone) });
    const email = `tries${phoneCounter}@example.jp`;
    await browser.submit(u('/register/email'), u('/register/email'), { email, password: 'passw0rd-test', nickname: 'テスト' });
    const code = await lastCode('email', email);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) await browser.submit(u('/register/email/code'), u('/register/email/code'), { code: wrong });
    const right = await browser.submit(u('/register/email/code'), u('/register/email/code'), { code });
    expect(right.body).toContain('data-code="CODE_EXHAUSTED"');
  });

  it('refuses steps out of order, weak passwords and forms without the CSRF token', async () => {
    const browser = world.browser();
    const skipped = await browser.get(u('/register/email'));
    expect(skipped.status).toBe(409);
    expect(skipped.body).toContain('data-code="STEP_OUT_OF_ORDER"');
    const phone = await upToSmsCode(browser);
    await browser.submit(u('/register/phone/code'), u('/register/phone/code'), { code: await lastCode('sms', phone) });
    const weak = await browser.submit(u('/register/email'), u('/register/email'), { email: 'weak@example.jp', password: 'short', nickname: 'x' });
    expect(weak.body).toContain('data-code="PASSWORD_WEAK"');
    const forged = await browser.request('POST', u('/register/terms'), { _csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('data-code="CSRF_INVALID"');
  });

  it('escapes what people type', async () => {
    const browser = world.browser();
    await register(browser, '<script>x</script>');
    const mypage = await browser.get(u('/mypage'));
    expect(mypage.body).not.toContain('<script>x</script>');
    expect(mypage.body).toContain('&lt;script&gt;x&lt;/script&gt;');
  });

  it('sets the session cookie HttpOnly and signed', async () => {
    const response = await world.citizen.inject({ method: 'GET', url: '/register/terms' });
    const cookie = response.cookies.find((c) => c.name === 'jpki_citizen_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Lax');
    expect(cookie.value).toContain('.');
  });

  it('serves the outbox only in test mode', async () => {
    expect((await world.citizen.inject({ method: 'GET', url: '/api/test/outbox' })).statusCode).toBe(200);
    const production = await injectWorld({ testMode: false });
    try {
      const response = await production.citizen.inject({ method: 'GET', url: '/api/test/outbox' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await production.close();
    }
  });
});
