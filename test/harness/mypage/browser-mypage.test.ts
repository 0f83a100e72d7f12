/**
 * The Sendai-like My Page in Chromium, as the guide walks it: 「ログイン/新規登録」 → 新規登録 →
 * 作成するアカウントを選択する (メールアドレス) → e-mail, password and the confirmation code from the
 * outbox → プロフィール情報を入力する → マイページ (アカウント作成完了) → 「マイナンバーカードを連携する」
 * → 「連携する」 → the QR code, read from the screen by the xID-like app, which sets its app PIN on
 * first use and reads the emulated card → 連携済み → デジタル郵便受け → 「同意する」 → 「設定する」 →
 * 設定は完了です → the online applications on マイページ. Then a second account with the same card
 * is refused with a clear message.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoneError } from '../../../harness/agents/phone/simulated-phone.js';
import { kOnlineApplications } from '../../../harness/portal/mypage/catalogue.js';
import { browserWorld, type BrowserWorld } from './support/mypage-env.js';

describe('My Page in Chromium', () => {
  let world: BrowserWorld;
  let counter = 0;

  beforeAll(async () => {
    world = await browserWorld();
  });
  afterAll(async () => {
    await world?.close();
  });

  async function signUp(page: Page): Promise<void> {
    await page.goto(`${world.myPage.url}/`);
    await page.getByTestId('login-or-register').click();
    await page.getByTestId('register').click();
    await page.getByRole('heading', { name: '作成するアカウントを選択する' }).waitFor();
    await page.getByTestId('account-type-email').click();
    counter += 1;
    const email = `sendai${counter}@example.jp`;
    await page.getByTestId('signup-email').fill(email);
    await page.getByTestId('signup-password').fill('passw0rd-browser');
    await page.getByTestId('signup-send-code').click();
    await page.getByRole('heading', { name: '確認コードの入力' }).waitFor();
    const code = (await world.outbox()).filter((m) => m.to === email).at(-1)!.code;
    await page.getByTestId('signup-code').fill(code);
    await page.getByTestId('signup-code-submit').click();
    await page.getByRole('heading', { name: 'プロフィール情報を入力する' }).waitFor();
    await page.getByTestId('signup-nickname').fill('仙台花子');
    await page.getByTestId('signup-profile-submit').click();
    await page.getByTestId('flash').waitFor();
  }

  /** 「マイナンバーカードを連携する」 → 「連携する」 → the app reads the QR code from the screen. */
  async function linkWithApp(page: Page, appPin: string): Promise<Promise<unknown>> {
    await page.getByTestId('link-card').click();
    await page.getByTestId('link-start').click();
    await page.getByTestId('qr').waitFor();
    expect(await page.getByTestId('open-app').textContent()).toBe('アプリを開く');
    expect(await page.getByTestId('no-app').textContent()).toBe('アプリを持っていない');
    const link = world.xidApp.scanQr(await page.getByTestId('qr').screenshot());
    return world.xidApp.link(link, appPin);
  }

  it('creates an account, links the card with the xID-like app, switches the post box on and lists the applications', async () => {
    const page = await world.page();
    await signUp(page);
    expect(await page.getByTestId('flash').textContent()).toContain('アカウント作成完了');
    expect(await page.getByTestId('link-status').textContent()).toBe('未連携');
    expect(world.xidApp.isSetUp).toBe(false);
    const result = await linkWithApp(page, '2580');
    expect(result).toEqual({ firstUse: true, name: world.setup.definition.identity.name });
    // The waiting page refreshes itself onto マイページ.
    await page.waitForURL(/\/mypage$/);
    expect(await page.getByTestId('link-status').textContent()).toBe('連携済み');
    expect(await page.getByTestId('profile-name').textContent()).toBe(world.setup.definition.identity.name);

    await page.getByTestId('post-box').click();
    await page.getByRole('heading', { name: 'デジタル郵便受けを設定する' }).waitFor();
    await page.getByTestId('post-agree').check();
    await page.getByTestId('post-submit').click();
    await page.getByRole('heading', { name: '設定は完了です' }).waitFor();
    await page.getByTestId('back-to-mypage').click();
    expect(await page.getByTestId('post-status').textContent()).toBe('利用中');
    const titles = await page.getByTestId('application-title').allTextContents();
    expect(titles).toEqual(kOnlineApplications.map((a) => a.title));
    await page.close();
  });

  it('refuses the same card on another account, with a clear message on the PC and the phone', async () => {
    await world.browser.context.clearCookies();
    const page = await world.page();
    await signUp(page);
    // The app is set up now: it asks for its PIN, and a wrong one stops on the phone.
    const wrong = await linkWithApp(page, '0000').catch((e: unknown) => e);
    expect((wrong as PhoneError).code).toBe('APP_PIN_WRONG');
    const link = world.xidApp.scanQr(await page.getByTestId('qr').screenshot());
    const refused = await world.xidApp.link(link, '2580').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PhoneError);
    expect((refused as PhoneError).code).toBe('CARD_ALREADY_LINKED');
    const failure = page.getByTestId('link-failure');
    await failure.waitFor();
    expect(await failure.getAttribute('data-code')).toBe('CARD_ALREADY_LINKED');
    expect(await failure.textContent()).toBe('このマイナンバーカードはすでに別のアカウントに連携されています。連携済みのアカウントでログインしてください。');
    await page.goto(`${world.myPage.url}/mypage`);
    expect(await page.getByTestId('link-status').textContent()).toBe('未連携');
    await page.close();
  });
});
