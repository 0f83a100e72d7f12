/**
 * The Nobeoka-like registration with linking in Chromium: 「ログイン/新規登録」 → 利用規約 (同意する)
 * → phone number and the SMS code from the outbox → e-mail, password, nickname and the e-mail code
 * → 登録内容の確認 → マイページ (アカウント作成完了) → 「マイナンバーカードを連携する」 → 「連携する」
 * → the IdP's QR code, read from the screen by the phone's auth app with the emulated card →
 * 連携が完了しました. Then the refusals a person can meet in the browser.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningCitizenPortal } from '../../../harness/portal/citizen/server.js';
import { browserWorld, kClientId, kClientSecret, type BrowserWorld } from './support/citizen-env.js';

describe('city portal in Chromium', () => {
  let world: BrowserWorld;
  let counter = 0;

  beforeAll(async () => {
    world = await browserWorld();
  });
  afterAll(async () => {
    await world?.close();
  });
  beforeEach(async () => {
    await world.browser.context.clearCookies();
  });

  async function code(channel: 'sms' | 'email', to: string, portal?: RunningCitizenPortal): Promise<string> {
    const messages = (await world.outbox(channel, portal)).filter((m) => m.to === to);
    expect(messages.length).toBeGreaterThan(0);
    return messages.at(-1)!.code;
  }

  /** From the top page to the SMS code screen; returns the phone number. */
  async function toSmsCode(page: Page, portal: RunningCitizenPortal): Promise<string> {
    await page.goto(`${portal.url}/`);
    await page.getByRole('link', { name: 'ログイン/新規登録' }).click();
    await page.getByTestId('register').click();
    await expect(page.getByRole('heading', { name: '利用規約' }).isVisible()).resolves.toBe(true);
    await page.getByRole('button', { name: '同意する' }).click();
    counter += 1;
    const phone = `0807777${String(counter).padStart(4, '0')}`;
    await page.getByLabel('携帯電話番号').fill(phone);
    await page.getByRole('button', { name: '認証コードを送信する' }).click();
    await page.getByRole('heading', { name: 'SMS認証' }).waitFor();
    return phone;
  }

  /** A whole registration, ending on マイページ. */
  async function register(page: Page, portal: RunningCitizenPortal): Promise<void> {
    const phone = await toSmsCode(page, portal);
    await page.getByLabel('認証コード').fill(await code('sms', phone, portal));
    await page.getByRole('button', { name: '次へ' }).click();
    const email = `browser${counter}@example.jp`;
    await page.getByLabel('メールアドレス').fill(email);
    await page.getByLabel(/パスワード/).fill('passw0rd-browser');
    await page.getByLabel('ニックネーム').fill('のべおか花子');
    await page.getByRole('button', { name: '認証コードを送信する' }).click();
    await page.getByRole('heading', { name: 'メール認証' }).waitFor();
    await page.getByLabel('認証コード').fill(await code('email', email, portal));
    await page.getByRole('button', { name: '次へ' }).click();
    await page.getByRole('heading', { name: '登録内容の確認' }).waitFor();
    expect(await page.getByTestId('confirm-phone').textContent()).toBe(phone);
    expect(await page.getByTestId('confirm-email').textContent()).toBe(email);
    expect(await page.getByTestId('confirm-nickname').textContent()).toBe('のべおか花子');
    await page.getByRole('button', { name: '登録する' }).click();
    await page.getByTestId('flash').waitFor();
  }

  /** 「マイナンバーカードを連携する」 → 「連携する」 → the phone reads the QR code; returns the callback URL. */
  async function linkWithPhone(page: Page): Promise<string> {
    await page.getByRole('link', { name: 'マイナンバーカードを連携する' }).click();
    await page.getByRole('button', { name: '連携する' }).click();
    await page.getByTestId('qr').waitFor();
    expect(page.url().startsWith(`${world.idp.url}/authorize/wait?`)).toBe(true);
    expect(await page.getByRole('link', { name: 'アプリを開く' }).isVisible()).toBe(true);
    const link = world.authApp.scanQr(await page.getByTestId('qr').screenshot());
    await world.authApp.open(link);
    await page.waitForURL(/\/link\/callback\?/);
    return page.url();
  }

  it('registers, links through the IdP with the phone app and the card, and shows 連携が完了しました', async () => {
    const page = await world.page();
    await register(page, world.citizen);
    expect(await page.getByTestId('flash').textContent()).toContain('アカウント作成完了');
    expect(await page.getByTestId('link-status').textContent()).toContain('未連携');
    const callback = await linkWithPhone(page);
    await page.getByRole('heading', { name: '連携が完了しました' }).waitFor();
    expect(await page.getByTestId('profile-name').textContent()).toBe(world.fixture.definition.identity.name);
    await page.getByRole('link', { name: 'マイページへ' }).click();
    expect(await page.getByTestId('link-status').textContent()).toContain('連携済み');

    // The same callback again (a replayed authorization code): the portal has spent its state...
    await page.goto(callback);
    expect(await page.getByTestId('error').getAttribute('data-code')).toBe('LINK_STATE_INVALID');
    // ...and the IdP has spent the code, whoever presents it, with whatever verifier.
    const replayed = await page.request.post(`${world.idp.url}/token`, {
      form: {
        grant_type: 'authorization_code',
        code: new URL(callback).searchParams.get('code')!,
        redirect_uri: `${world.citizen.url}/link/callback`,
        code_verifier: 'v'.repeat(43),
        client_id: kClientId,
        client_secret: kClientSecret,
      },
    });
    expect(replayed.status()).toBe(400);
    expect(await replayed.json()).toMatchObject({ error: 'invalid_grant', error_description: 'the authorization code was already used' });
    await page.close();
  });

  it('refuses an SMS code after 5 wrong tries, even the right one', async () => {
    const page = await world.page();
    const phone = await toSmsCode(page, world.citizen);
    const right = await code('sms', phone);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('認証コード').fill(wrong);
      await page.getByRole('button', { name: '次へ' }).click();
      await page.getByTestId('error').waitFor();
    }
    expect(await page.getByTestId('error').getAttribute('data-code')).toBe('CODE_EXHAUSTED');
    await page.getByLabel('認証コード').fill(right);
    await page.getByRole('button', { name: '次へ' }).click();
    expect(await page.getByTestId('error').getAttribute('data-code')).toBe('CODE_EXHAUSTED');
    expect(await page.getByTestId('error').textContent()).toContain('認証コードを再送してください');
    await page.close();
  });

  it('keeps a browser sent with a wrong redirect URI on the IdP error page', async () => {
    const page = await world.page();
    const url = new URL(`${world.idp.url}/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: kClientId,
      redirect_uri: 'http://evil.example/link/callback',
      scope: 'openid name',
      state: 's',
      nonce: 'n',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const response = await page.goto(url.href);
    expect(response?.status()).toBe(400);
    expect(new URL(page.url()).origin).toBe(world.idp.url);
    expect(await page.getByTestId('error-code').textContent()).toBe('invalid_request');
    expect(await page.getByTestId('error-description').textContent()).toContain('is not registered');
    await page.close();
  });

  it('fails the link of a client that leaves out the PKCE verifier', async () => {
    const page = await world.page();
    await register(page, world.faultyCitizen);
    await linkWithPhone(page);
    const error = page.getByTestId('error');
    expect(await error.getAttribute('data-code')).toBe('LINK_FAILED');
    expect(await error.textContent()).toContain('invalid_request');
    expect(await page.getByTestId('error-detail').textContent()).toContain('code_verifier is required');
    await page.close();
  });
});
