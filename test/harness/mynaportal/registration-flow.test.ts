/**
 * The first-login story of the Mynaportal guide, through the API and the pages as a browser would
 * drive them: card login → unknown certificate → card info → B-01 (each rule refused) → B-02 →
 * 修正 keeps the values → 完了 → メインメニュー; then a second login, a renewed card, and logout.
 */
import { X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatJstDate, formatJstDateTime } from '../../../common/jst.js';
import { Browser, byTestId, caWorld, inputValue, isChecked, portalFor, registrationForm, TestClock, type CaWorld, type TestCard } from './support/portal-fixture.js';

describe('first login, registration and the main menu', () => {
  let world: CaWorld;
  let card: TestCard;
  let renewed: TestCard;
  let other: TestCard;
  let app: FastifyInstance;
  let clock: TestClock;

  beforeAll(async () => {
    world = caWorld();
    card = await world.issue('adult');
    // A second card of the same person (the issuer knows them by their My Number): new keys, new certificate serials.
    renewed = await world.renew(card);
    other = await world.issue('revoked-after-move');
    // Started after issuance: certificates are not valid before the second they were issued.
    clock = new TestClock();
    app = await portalFor(world, clock);
  });
  afterAll(async () => {
    await app.close();
    world.remove();
  });

  it('walks a new person from the card to the main menu, refusing each invalid field on the way', async () => {
    const browser = new Browser(app);
    const firstLoginAt = clock.now();
    expect(await browser.loginWithCard(card)).toBe('/account/new');

    // B-01 with the guide's default ticks.
    const input = await browser.get('/account/new');
    expect(input.statusCode).toBe(200);
    expect(byTestId(input.body, 'screen-id')).toBe('画面番号:B-01');
    expect(isChecked(input.body, 'notify_info')).toBe(true);
    expect(isChecked(input.body, 'notify_other_sites')).toBe(false);
    expect(isChecked(input.body, 'language_ja')).toBe(true);
    expect(isChecked(input.body, 'language_en')).toBe(false);

    // Each rule, one at a time, with its message next to its field and the typed values kept.
    const refusals: [Record<string, string | undefined>, string, RegExp][] = [
      [{ nickname: '' }, 'error-nickname', /ニックネームを入力してください/],
      [{ nickname: 'あ'.repeat(21) }, 'error-nickname', /20文字以内/],
      [{ email1: 'ｍａｉｎａ@example.com', email1_confirm: 'ｍａｉｎａ@example.com' }, 'error-email1', /半角英数字/],
      [{ email1_confirm: 'other@example.com' }, 'error-email1Confirm', /一致しません/],
      [{ email2: 'maina_dad@example.com', email2_confirm: 'maina_dad@example.com' }, 'error-email2', /通知先メールアドレス1と同じアドレスは登録できません/],
      [{ email2: 'mom@example.com', email2_confirm: 'mum@example.com' }, 'error-email2Confirm', /一致しません/],
      [{ language_en: 'on' }, 'error-language', /日本語のみ選択できます/],
      [{ language_ja: undefined }, 'error-language', /日本語を選択してください/],
    ];
    for (const [change, testId, message] of refusals) {
      const refused = await browser.postForm('/account/confirm', registrationForm(change));
      expect(refused.statusCode, JSON.stringify(change)).toBe(400);
      expect(byTestId(refused.body, 'screen-id')).toBe('画面番号:B-01');
      expect(byTestId(refused.body, 'form-errors')).toMatch(/入力内容に誤りがあります/);
      expect(byTestId(refused.body, testId), JSON.stringify(change)).toMatch(message);
      if (change.nickname !== undefined) expect(inputValue(refused.body, 'input-nickname')).toBe(change.nickname);
    }

    // A valid form → B-02 showing what was entered.
    const form = registrationForm({ nickname: '<マイナ父>', email2: 'maina_mom@example.com', email2_confirm: 'maina_mom@example.com', notify_notices: undefined });
    const confirm = await browser.postForm('/account/confirm', form);
    expect(confirm.statusCode).toBe(200);
    expect(byTestId(confirm.body, 'screen-id')).toBe('画面番号:B-02');
    expect(confirm.body).toContain('&lt;マイナ父&gt;'); // escaped, never markup
    expect(byTestId(confirm.body, 'confirm-nickname')).toBe('&lt;マイナ父&gt;');
    expect(byTestId(confirm.body, 'confirm-email1')).toBe('maina_dad@example.com');
    expect(byTestId(confirm.body, 'confirm-email2')).toBe('maina_mom@example.com');
    expect(byTestId(confirm.body, 'confirm-language')).toBe('日本語');
    expect(byTestId(confirm.body, 'confirm-service')).toContain('あなたの情報、お問い合わせに関する到着通知を希望する。');
    expect(byTestId(confirm.body, 'confirm-service')).not.toContain('行政機関等からのお知らせ到着通知を希望する。');

    // 修正: back to B-01 with every value kept, the unticked box still unticked.
    const edit = await browser.get('/account/new');
    expect(byTestId(edit.body, 'screen-id')).toBe('画面番号:B-01');
    expect(inputValue(edit.body, 'input-nickname')).toBe('&lt;マイナ父&gt;');
    expect(inputValue(edit.body, 'input-email2')).toBe('maina_mom@example.com');
    expect(inputValue(edit.body, 'input-email2Confirm')).toBe('maina_mom@example.com');
    expect(isChecked(edit.body, 'notify_notices')).toBe(false);
    expect(isChecked(edit.body, 'notify_info')).toBe(true);

    // Confirm again with a changed nickname, then 完了.
    await browser.postForm('/account/confirm', { ...form, nickname: 'マイナ父' });
    const done = await browser.postForm('/account/register', {});
    expect(done.statusCode).toBe(200);
    expect(byTestId(done.body, 'screen-id')).toBe('画面番号:B-03');
    expect(byTestId(done.body, 'registered-message')).toBe('アカウント情報の登録が完了しました。');
    expect(byTestId(done.body, 'nickname')).toBe('マイナ父');

    const menu = await browser.get('/menu');
    expect(menu.statusCode).toBe(200);
    expect(byTestId(menu.body, 'screen-id')).toBe('画面番号:A-02');
    expect(byTestId(menu.body, 'nickname')).toBe('マイナ父');
    // No login before this one: the guide's screen after registration shows the current login.
    expect(byTestId(menu.body, 'previous-login')).toBe(formatJstDateTime(firstLoginAt));
    expect(byTestId(menu.body, 'previous-login')).toMatch(/^\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}$/);
    // The auth certificate's notAfter, read from the card's own certificate, as a JST date.
    const authCertificate = new X509Certificate(Buffer.from(card.image.applets.jpki.files['000A']!, 'base64'));
    expect(byTestId(menu.body, 'certificate-expiry')).toBe(formatJstDate(new Date(authCertificate.validTo)));

    const account = app.portalContext.store.people.getAccount(app.portalContext.store.people.findPerson({ name: '番号　太郎', birth: '1985-04-01', sex: '1' })!.id)!;
    expect(account.emails).toEqual(['maina_dad@example.com', 'maina_mom@example.com']);
    expect(account.flags.notifyNotices).toBe(false);
    expect(account.flags.notifyLogin).toBe(true);
  });

  it('shows the previous login and the certificate expiry on a later login, which goes straight to the menu', async () => {
    const firstBrowser = new Browser(app);
    clock.advance(60_000);
    const before = clock.now();
    expect(await firstBrowser.loginWithCard(card)).toBe('/menu');
    clock.advance(3 * 3_600_000);
    const browser = new Browser(app);
    expect(await browser.loginWithCard(card)).toBe('/menu');
    const menu = await browser.get('/menu');
    expect(byTestId(menu.body, 'previous-login')).toBe(formatJstDateTime(before));
    const store = app.portalContext.store;
    const person = store.people.findPerson({ name: '番号　太郎', birth: '1985-04-01', sex: '1' })!;
    const linked = store.people.certificatesOf(person.id)[0]!;
    expect(byTestId(menu.body, 'certificate-expiry')).toBe(formatJstDate(new Date(linked.notAfter)));
    expect(store.people.countPersons()).toBe(1);
  });

  it('links a renewed card for the same identity to the same account, without registration', async () => {
    const browser = new Browser(app);
    expect(await browser.loginWithCard(renewed)).toBe('/menu');
    const menu = await browser.get('/menu');
    expect(byTestId(menu.body, 'nickname')).toBe('マイナ父');
    const store = app.portalContext.store;
    const person = store.people.findPerson({ name: '番号　太郎', birth: '1985-04-01', sex: '1' })!;
    expect(store.people.certificatesOf(person.id)).toHaveLength(2);
    expect(store.people.countPersons()).toBe(1);
    // From now on the renewed card is known: no card-info step.
    const again = new Browser(app);
    await again.get('/login');
    const nonce = (await again.postJson('/api/login/nonce', {})).json<{ nonce: string }>().nonce;
    const login = await again.postJson('/api/login', { nonce, ...(await renewed.signNonce(nonce)) });
    expect(login.json()).toEqual({ next: '/menu' });
  });

  it('sends a different person to registration, and キャンセル drops the login and returns to トップ', async () => {
    const browser = new Browser(app);
    expect(await browser.loginWithCard(other)).toBe('/account/new');
    await browser.get('/account/new');
    const cancel = await browser.postForm('/account/cancel', registrationForm());
    expect(cancel.statusCode).toBe(303);
    expect(cancel.headers.location).toBe('/');
    const after = await browser.get('/account/new');
    expect(after.statusCode).toBe(410);
    expect(after.body).toContain('data-code="LOGIN_PENDING_EXPIRED"');
    expect(app.portalContext.store.people.countPersons()).toBe(1);
  });

  it('logs out: the session ends, the menu refuses, ログアウト完了 is shown', async () => {
    const browser = new Browser(app);
    expect(await browser.loginWithCard(card)).toBe('/menu');
    const menu = await browser.get('/menu');
    expect(menu.body).toContain('data-testid="logout"');
    const logout = await browser.postForm('/logout', {});
    expect(logout.statusCode).toBe(303);
    expect(logout.headers.location).toBe('/logged-out');
    const done = await browser.get('/logged-out');
    expect(byTestId(done.body, 'screen-id')).toBe('画面番号:L-02');
    const refused = await browser.get('/menu');
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain('data-code="NOT_LOGGED_IN"');
  });

  it('refuses B-01 and registration without a pending login', async () => {
    const browser = new Browser(app);
    await browser.get('/login');
    const page = await browser.get('/account/new');
    expect(page.statusCode).toBe(410);
    const post = await browser.postForm('/account/register', {});
    expect(post.statusCode).toBe(410);
    expect(post.body).toContain('data-code="LOGIN_PENDING_EXPIRED"');
  });
});
