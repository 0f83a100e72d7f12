/**
 * My Page through inject(): account creation in the guide's order (the outbox only in test mode),
 * CSRF and escaping, card linking with the xID-like app (its app PIN set on first use and checked
 * after), every refusal of linking, the digital post box and the online applications.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeCertificate } from '../../../emulator/issuance/test-ca.js';
import { toBase64 } from '../../../iso7816/bytes.js';
import { readCardInfo, signNonceWithAuthKey } from '../../../harness/agents/card-actions.js';
import { PhoneError } from '../../../harness/agents/phone/simulated-phone.js';
import { parseXidLink, xidPinProblem, type XidApp } from '../../../harness/agents/phone/xid-app.js';
import { kOnlineApplications } from '../../../harness/portal/mypage/catalogue.js';
import { kLinkTransactionMs } from '../../../harness/portal/mypage/link-transactions.js';
import type { InjectBrowser } from '../citizen/support/citizen-env.js';
import { injectWorld, kMyPageUrl, type InjectWorld } from './support/mypage-env.js';

const u = (path: string): string => `${kMyPageUrl}${path}`;
const kAppPin = '2580';

let counter = 0;

/** A whole account creation; returns the e-mail address. */
async function signUp(world: InjectWorld, browser: InjectBrowser, nickname = '仙台太郎'): Promise<string> {
  expect((await browser.submit(u('/signup'), u('/signup'), { type: 'email' })).location).toBe(u('/signup/email'));
  counter += 1;
  const email = `user${counter}@example.jp`;
  expect((await browser.submit(u('/signup/email'), u('/signup/email'), { email, password: 'passw0rd-test' })).location).toBe(u('/signup/code'));
  const code = (await world.outbox()).filter((m) => m.to === email).at(-1)!.code;
  expect((await browser.submit(u('/signup/code'), u('/signup/code'), { code })).location).toBe(u('/signup/profile'));
  expect((await browser.submit(u('/signup/profile'), u('/signup/profile'), { nickname })).location).toBe(u('/mypage'));
  return email;
}

/** 「連携する」: returns the waiting page's URL and the deep link it shows. */
async function startLink(browser: InjectBrowser): Promise<{ waitUrl: string; deepLink: string }> {
  const started = await browser.submit(u('/mypage/link'), u('/mypage/link/start'));
  expect(started.status).toBe(303);
  const waitUrl = started.location!;
  const page = await browser.get(waitUrl);
  expect(page.status).toBe(200);
  expect(page.body).toContain('data-testid="qr"');
  expect(page.body).toContain('アプリを持っていない');
  const deepLink = /data-testid="open-app" href="([^"]+)"/.exec(page.body)![1]!.replace(/&amp;/g, '&');
  return { waitUrl, deepLink };
}

async function linkFailure(browser: InjectBrowser, waitUrl: string): Promise<string | undefined> {
  return /data-testid="link-failure" data-code="([A-Z_]+)"/.exec((await browser.get(waitUrl)).body)?.[1];
}

async function expectPhoneError(promise: Promise<unknown>, code: string): Promise<PhoneError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PhoneError);
  expect((error as PhoneError).code).toBe(code);
  return error as PhoneError;
}

describe('My Page (Sendai-like)', () => {
  let world: InjectWorld;

  beforeAll(async () => {
    world = await injectWorld();
  });
  afterAll(async () => {
    await world.close();
  });

  it('creates an account in the guide order and shows アカウント作成完了 and オンライン申請', async () => {
    const browser = world.browser();
    const home = await browser.get(u('/'));
    expect(home.body).toContain('マイページとは？');
    expect(home.body).toContain('ログイン/新規登録');
    // Only the e-mail account exists in the test portal; the others are refused with a message.
    const line = await browser.submit(u('/signup'), u('/signup'), { type: 'line' });
    expect(line.status).toBe(400);
    expect(line.body).toContain('data-code="ACCOUNT_TYPE_UNSUPPORTED"');
    // Steps cannot be skipped.
    expect((await browser.get(u('/signup/profile'))).body).toContain('data-code="STEP_OUT_OF_ORDER"');
    await signUp(world, browser, '<b>仙台</b>');
    const myPage = await browser.get(u('/mypage'));
    expect(myPage.body).toContain('アカウント作成完了');
    expect(myPage.body).toContain('デジタル郵便受け（POST）をご利用になる場合は、マイナンバーカード連携が必要です。');
    expect(myPage.body).toContain('&lt;b&gt;仙台&lt;/b&gt; さん');
    expect(myPage.body).not.toContain('<b>仙台</b>');
    expect(myPage.body).toMatch(/data-testid="link-status">未連携/);
    for (const application of kOnlineApplications) expect(myPage.body).toContain(application.title);
    // The notice shows once.
    expect((await browser.get(u('/mypage'))).body).not.toContain('アカウント作成完了');
  });

  it('refuses a weak password, a taken e-mail and wrong codes, and logs in and out', async () => {
    const browser = world.browser();
    const email = await signUp(world, browser);
    const other = world.browser();
    await other.submit(u('/signup'), u('/signup'), { type: 'email' });
    expect((await other.submit(u('/signup/email'), u('/signup/email'), { email: 'x@example.jp', password: 'short' })).body).toContain('data-code="PASSWORD_WEAK"');
    expect((await other.submit(u('/signup/email'), u('/signup/email'), { email, password: 'passw0rd-test' })).body).toContain('data-code="EMAIL_TAKEN"');
    await other.submit(u('/signup/email'), u('/signup/email'), { email: 'fresh@example.jp', password: 'passw0rd-test' });
    const wrong = await other.submit(u('/signup/code'), u('/signup/code'), { code: 'abcdef' });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain('あと4回入力できます。');
    world.clock.advance(10 * 60_000 + 1);
    const right = (await world.outbox()).filter((m) => m.to === 'fresh@example.jp').at(-1)!.code;
    expect((await other.submit(u('/signup/code'), u('/signup/code'), { code: right })).body).toContain('data-code="CODE_EXPIRED"');

    await browser.submit(u('/mypage'), u('/logout'));
    expect((await browser.get(u('/mypage'))).location).toBe(u('/login'));
    expect((await browser.submit(u('/login'), u('/login'), { email, password: 'wrong-pass1' })).body).toContain('data-code="LOGIN_FAILED"');
    expect((await browser.submit(u('/login'), u('/login'), { email, password: 'passw0rd-test' })).location).toBe(u('/mypage'));
  });

  it('refuses a form post without the session CSRF token', async () => {
    const response = await world.app.inject({ method: 'POST', url: '/signup', payload: 'type=email', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('data-code="CSRF_INVALID"');
  });

  it('links the card with the xID-like app (app PIN set on first use), then switches the post box on', async () => {
    const browser = world.browser();
    await signUp(world, browser);
    // The post box needs the card first.
    expect((await browser.get(u('/mypage/post'))).body).toContain('data-code="LINK_REQUIRED"');
    const { waitUrl, deepLink } = await startLink(browser);
    expect(parseXidLink(deepLink).portal).toBe(kMyPageUrl);
    // Still waiting: the page refreshes itself.
    expect((await browser.get(waitUrl)).body).toContain('http-equiv="refresh"');
    const app = world.xidApp();
    expect(app.isSetUp).toBe(false);
    const result = await app.link(deepLink, kAppPin);
    expect(result).toEqual({ firstUse: true, name: world.setup.definition.identity.name });
    expect(app.isSetUp).toBe(true);
    expect((await browser.get(waitUrl)).location).toBe(u('/mypage'));
    const myPage = await browser.get(u('/mypage'));
    expect(myPage.body).toMatch(/data-testid="link-status">連携済み/);
    expect(myPage.body).toContain(world.setup.definition.identity.address);
    expect(myPage.body).toContain('マイナンバーカードの連携が完了しました');

    // The transaction is spent: the same link again is refused, and so is its second answer.
    await expectPhoneError(world.xidApp().link(deepLink, kAppPin), 'TRANSACTION_USED');
    const { tx, t } = Object.fromEntries(new URL(deepLink).searchParams) as { tx: string; t: string };
    const replay = await world.app.inject({ method: 'POST', url: '/api/xid/link', payload: { tx, t, signature: 'AA==', certificate: 'AA==', basic4: 'AA==', basic4Signature: 'AA==' } });
    expect(replay.statusCode).toBe(409);
    expect(replay.json()).toMatchObject({ code: 'TRANSACTION_USED' });

    // Post box: 「同意する」 is required, then 「設定する」 → 設定は完了です.
    const unagreed = await browser.submit(u('/mypage/post'), u('/mypage/post'));
    expect(unagreed.status).toBe(400);
    expect(unagreed.body).toContain('data-code="AGREEMENT_REQUIRED"');
    const done = await browser.submit(u('/mypage/post'), u('/mypage/post'), { agree: 'yes' });
    expect(done.body).toContain('設定は完了です');
    expect((await browser.get(u('/mypage'))).body).toMatch(/data-testid="post-status">利用中/);

    // Later uses ask for the app PIN: a wrong one is refused on the phone, the transaction untouched.
    const again = await startLink(browser);
    const wrong = await expectPhoneError(app.link(again.deepLink, '1470'), 'APP_PIN_WRONG');
    expect(wrong.source).toBe('phone');
    expect(wrong.triesLeft).toBe(4);
    expect(await linkFailure(browser, again.waitUrl)).toBeUndefined();
    expect(await app.link(again.deepLink, kAppPin)).toEqual({ firstUse: false, name: world.setup.definition.identity.name });
    expect(app.pinTriesLeft).toBe(5);
  });

  it('refuses the same card on a second account with a clear message', async () => {
    const first = world.browser();
    await signUp(world, first);
    // Linked here, unless an earlier test already linked the card to its own account: either way
    // the card belongs to an account other than the second one.
    await world
      .xidApp()
      .link((await startLink(first)).deepLink, kAppPin)
      .catch((e: unknown) => expect((e as PhoneError).code).toBe('CARD_ALREADY_LINKED'));
    const second = world.browser();
    await signUp(world, second);
    const { waitUrl, deepLink } = await startLink(second);
    const error = await expectPhoneError(world.xidApp().link(deepLink, kAppPin), 'CARD_ALREADY_LINKED');
    expect(error.message).toContain('すでに別のアカウントに連携されています');
    expect(await linkFailure(second, waitUrl)).toBe('CARD_ALREADY_LINKED');
    expect((await second.get(u('/mypage'))).body).toMatch(/data-testid="link-status">未連携/);
  });

  it('refuses an expired transaction', async () => {
    const browser = world.browser();
    await signUp(world, browser);
    const { waitUrl, deepLink } = await startLink(browser);
    world.clock.advance(kLinkTransactionMs + 1);
    await expectPhoneError(world.xidApp().link(deepLink, kAppPin), 'TRANSACTION_EXPIRED');
    expect(await linkFailure(browser, waitUrl)).toBe('TRANSACTION_EXPIRED');
  });

  it('refuses a bad signature and tampered basic 4, and spends the transaction', async () => {
    const pins = world.setup.definition.pins;
    for (const [tamper, code] of [
      ['signature', 'SIGNATURE_MISMATCH'],
      ['basic4', 'CARD_INFO_INVALID'],
    ] as const) {
      const browser = world.browser();
      await signUp(world, browser);
      const { waitUrl, deepLink } = await startLink(browser);
      const { tx, t } = Object.fromEntries(new URL(deepLink).searchParams) as { tx: string; t: string };
      const challenge = await world.app.inject({ method: 'POST', url: '/api/xid/challenge', payload: { tx, t } });
      expect(challenge.statusCode).toBe(200);
      const connection = await world.reader.connect();
      const signed = await signNonceWithAuthKey(connection, pins.auth, Buffer.from(challenge.json<{ challenge: string }>().challenge, 'base64'));
      const files = await readCardInfo(connection, pins.kenhojo);
      await connection.disconnect('reset');
      const signature = Buffer.from(signed.signature);
      const basic4 = Buffer.from(files.basic4);
      if (tamper === 'signature') signature[10]! ^= 0x01;
      else basic4[basic4.length - 1]! ^= 0x01;
      const body = { tx, t, signature: toBase64(signature), certificate: toBase64(signed.certificate), basic4: toBase64(basic4), basic4Signature: toBase64(files.basic4Signature) };
      const refused = await world.app.inject({ method: 'POST', url: '/api/xid/link', payload: body });
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ code });
      expect(await linkFailure(browser, waitUrl)).toBe(code);
      const again = await world.app.inject({ method: 'POST', url: '/api/xid/challenge', payload: { tx, t } });
      expect(again.json()).toMatchObject({ code: 'TRANSACTION_USED' });
    }
  });

  it('answers the phone API in order only, and validates its bodies', async () => {
    const browser = world.browser();
    await signUp(world, browser);
    const { deepLink } = await startLink(browser);
    const { tx, t } = Object.fromEntries(new URL(deepLink).searchParams) as { tx: string; t: string };
    const early = await world.app.inject({ method: 'POST', url: '/api/xid/link', payload: { tx, t, signature: 'AA==', certificate: 'AA==', basic4: 'AA==', basic4Signature: 'AA==' } });
    expect(early.json()).toMatchObject({ code: 'TRANSACTION_STATE' });
    const unknown = await world.app.inject({ method: 'POST', url: '/api/xid/challenge', payload: { tx, t: 'not-the-token' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'TRANSACTION_UNKNOWN' });
    const extra = await world.app.inject({ method: 'POST', url: '/api/xid/challenge', payload: { tx, t, pin: '1234' } });
    expect(extra.json()).toMatchObject({ code: 'BAD_REQUEST' });
    expect((await world.app.inject({ method: 'POST', url: '/api/xid/challenge', payload: { tx, t } })).statusCode).toBe(200);
    expect((await world.app.inject({ method: 'POST', url: '/api/xid/challenge', payload: { tx, t } })).json()).toMatchObject({ code: 'TRANSACTION_USED' });
    // Someone else's transaction is not shown to this browser.
    const stranger = world.browser();
    await signUp(world, stranger);
    expect((await stranger.get(u(`/mypage/link/wait/${tx}`))).body).toContain('data-code="TRANSACTION_UNKNOWN"');
  });
});

describe('the xID-like app PIN', () => {
  it('follows the rules on first use and locks after 5 wrong entries', async () => {
    expect(xidPinProblem('123')).toBeDefined();
    expect(xidPinProblem('7777')).toBeDefined();
    expect(xidPinProblem('1234')).toBeDefined();
    expect(xidPinProblem('9876')).toBeDefined();
    expect(xidPinProblem('2580')).toBeUndefined();
    const world = await injectWorld();
    try {
      const browser = world.browser();
      await signUp(world, browser);
      const { deepLink } = await startLink(browser);
      const app: XidApp = world.xidApp();
      await expectPhoneError(app.link(deepLink, '1234'), 'APP_PIN_INVALID');
      expect(app.isSetUp).toBe(false);
      await app.link(deepLink, kAppPin);
      for (let i = 4; i >= 1; i--) expect((await expectPhoneError(app.link(deepLink, '0000'), 'APP_PIN_WRONG')).triesLeft).toBe(i);
      await expectPhoneError(app.link(deepLink, '0000'), 'APP_PIN_LOCKED');
      // Locked: even the right PIN is refused until the app is set up again.
      await expectPhoneError(app.link(deepLink, kAppPin), 'APP_PIN_LOCKED');
      app.reset();
      expect(app.isSetUp).toBe(false);
    } finally {
      await world.close();
    }
  });
});

describe('My Page refusing certificates', () => {
  it('refuses a card whose authentication certificate is revoked', async () => {
    const world = await injectWorld({
      card: 'revoked-after-move',
      prepare: ({ ca, issued }) => {
        revokeCertificate(ca, issued.serials.auth, 'keyCompromise');
      },
    });
    try {
      const browser = world.browser();
      await signUp(world, browser);
      const { waitUrl, deepLink } = await startLink(browser);
      await expectPhoneError(world.xidApp().link(deepLink, kAppPin), 'CERTIFICATE_REVOKED');
      expect(await linkFailure(browser, waitUrl)).toBe('CERTIFICATE_REVOKED');
    } finally {
      await world.close();
    }
  });

  it('refuses a card whose certificates have expired', async () => {
    const world = await injectWorld({ card: 'expired-certificates' });
    try {
      const browser = world.browser();
      await signUp(world, browser);
      const { waitUrl, deepLink } = await startLink(browser);
      const error = await expectPhoneError(world.xidApp().link(deepLink, kAppPin), 'CERTIFICATE_EXPIRED');
      expect(error.source).toBe('portal');
      expect(await linkFailure(browser, waitUrl)).toBe('CERTIFICATE_EXPIRED');
    } finally {
      await world.close();
    }
  });

  it('has no outbox outside test mode', async () => {
    const world = await injectWorld({ testMode: false });
    try {
      expect((await world.app.inject({ method: 'GET', url: '/api/test/outbox' })).statusCode).toBe(404);
    } finally {
      await world.close();
    }
  });
});
