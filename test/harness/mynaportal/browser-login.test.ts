/**
 * The portal's pages in real Chromium, driven by Playwright: the PC agent holds the emulated card,
 * the phone agent scans the QR code from a screenshot, and the portal verifies against the test CA.
 */
import { X509Certificate } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard } from '../../../emulator/index.js';
import { SimulatedPhone } from '../../../harness/agents/phone/simulated-phone.js';
import { InProcessReader } from '../../../harness/readers/in-process-reader.js';
import { startPortalEnv, type PortalEnv } from '../../support/portal-env.js';

async function screen(page: Page): Promise<string> {
  return ((await page.getByTestId('screen-id').textContent()) ?? '').replace(/\s/g, '');
}

async function loginWithCard(env: PortalEnv, page: Page): Promise<void> {
  await page.goto(`${env.portal.url}/login`);
  await page.getByTestId('login-ic-card').click();
}

describe('login with an IC card reader and account registration, in Chromium', () => {
  let env: PortalEnv;

  beforeAll(async () => {
    env = await startPortalEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  it('first login → B-01 with each validation error → B-02 → 修正 → B-02 → 完了 → main menu; the next login goes straight to the menu', async () => {
    const page = await env.page();
    await page.goto(env.portal.url);
    await page.getByTestId('login-link').click();
    expect(await page.getByTestId('page-title').textContent()).toContain('ログイン');
    await page.getByTestId('login-ic-card').click();
    await page.waitForURL('**/account/new');
    expect(await screen(page)).toBe('画面番号:B-01');

    // Each rule of the guide's B-01, one at a time.
    const fill = async (values: Record<string, string>): Promise<void> => {
      for (const [id, value] of Object.entries(values)) await page.getByTestId(`input-${id}`).fill(value);
    };
    const submit = async (): Promise<void> => {
      await page.getByTestId('confirm').click();
      await page.waitForLoadState('domcontentloaded');
    };
    await fill({ nickname: '', email1: 'taro@example.com', email1Confirm: 'taro@example.com' });
    await submit();
    await expect.poll(() => page.getByTestId('error-nickname').isVisible()).toBe(true);
    await fill({ nickname: 'あ'.repeat(21) });
    await submit();
    expect(await page.getByTestId('error-nickname').textContent()).toMatch(/20文字/);
    await fill({ nickname: 'マイナ父', email1: 'taro@example.com', email1Confirm: 'taro@example.org' });
    await submit();
    expect(await page.getByTestId('error-email1Confirm').isVisible()).toBe(true);
    await fill({ email1Confirm: 'taro@example.com', email2: 'taro@example.com', email2Confirm: 'taro@example.com' });
    await submit();
    expect(await page.getByTestId('error-email2').isVisible()).toBe(true);
    await fill({ email2: 'hanako@example.com', email2Confirm: 'hanako@example.net' });
    await submit();
    expect(await page.getByTestId('error-email2Confirm').isVisible()).toBe(true);
    await fill({ email2: '', email2Confirm: '' });
    await page.getByTestId('language_en').check();
    await submit();
    expect(await page.getByTestId('error-language').isVisible()).toBe(true);
    await page.getByTestId('language_en').uncheck();
    await submit();

    expect(await screen(page)).toBe('画面番号:B-02');
    expect(await page.getByTestId('confirm-nickname').textContent()).toBe('マイナ父');
    expect(await page.getByTestId('confirm-email1').textContent()).toBe('taro@example.com');
    expect(await page.getByTestId('confirm-language').textContent()).toBe('日本語');
    await page.getByTestId('edit').click();
    expect(await screen(page)).toBe('画面番号:B-01');
    // 修正 keeps what was entered.
    expect(await page.getByTestId('input-nickname').inputValue()).toBe('マイナ父');
    expect(await page.getByTestId('input-email1').inputValue()).toBe('taro@example.com');
    await submit();
    expect(await screen(page)).toBe('画面番号:B-02');
    await page.getByTestId('register').click();
    await page.waitForLoadState('domcontentloaded');
    expect(await page.getByTestId('registered-message').isVisible()).toBe(true);
    await page.getByTestId('menu-link').click();
    expect(await screen(page)).toBe('画面番号:A-02');
    expect(await page.getByTestId('nickname').textContent()).toContain('マイナ父');
    // 電子証明書の有効期限: the authentication certificate's notAfter, as a JST date.
    const notAfter = new X509Certificate(Buffer.from(env.fixture.image.applets.jpki.files['000A']!, 'base64')).validTo;
    const jst = new Date(Date.parse(notAfter) + 9 * 3_600_000);
    expect(await page.getByTestId('certificate-expiry').textContent()).toContain(`${jst.getUTCFullYear()}年${jst.getUTCMonth() + 1}月${jst.getUTCDate()}日`);

    // Log out, log in again: straight to the main menu, with the previous login shown.
    await page.getByTestId('logout').click();
    await page.waitForLoadState('domcontentloaded');
    await loginWithCard(env, page);
    await page.waitForURL('**/menu');
    expect(await screen(page)).toBe('画面番号:A-02');
    expect(await page.getByTestId('previous-login').textContent()).toMatch(/\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}/);
    await page.close();
  });

  it('a wrong PIN shows the tries left, and a blocked PIN shows the guide’s advice', async () => {
    const page = await env.page();
    env.pins.push('0000');
    await loginWithCard(env, page);
    await expect.poll(() => page.getByTestId('login-error').textContent()).toMatch(/残り2回/);
    env.pins.push('0000', '0000');
    await page.getByTestId('login-ic-card').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toMatch(/残り1回/);
    await page.getByTestId('login-ic-card').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toMatch(/ロック|市区町村/);
    expect(await page.getByTestId('login-error').textContent()).toMatch(/市区町村/);
    await page.close();
  });
});

describe('QR login with the phone agent, in Chromium', () => {
  let env: PortalEnv;
  let phoneReader: InProcessReader;

  beforeAll(async () => {
    env = await startPortalEnv();
    phoneReader = new InProcessReader('Phone NFC', createMemoryCard(env.fixture.image));
  });
  afterAll(async () => {
    await phoneReader?.close();
    await env?.close();
  });

  async function showQr(page: Page): Promise<Buffer> {
    await page.goto(`${env.portal.url}/login`);
    await page.getByTestId('login-smartphone').click();
    await page.getByTestId('qr-code').waitFor({ state: 'visible' });
    await expect.poll(async () => (await page.getByTestId('qr-code').getAttribute('src')) ?? '').toMatch(/^data:image\/png/);
    return page.screenshot();
  }

  it('logs the PC in when the phone scans the QR code and authenticates with the card', async () => {
    const page = await env.page();
    const phone = new SimulatedPhone({ reader: phoneReader, pins: { auth: env.fixture.definition.pins.auth } });
    const payload = phone.scanQr(await showQr(page));
    expect(payload).toMatch(new RegExp(`^${env.portal.url}/m/qr-login\\?s=`));
    const result = await phone.loginWithQr(payload);
    // A first-time person: the phone links the card info and the PC page moves on to registration.
    expect(result).toMatchObject({ linked: true, next: '/account/new' });
    await page.waitForURL(/\/account\/new$/);
    expect(await screen(page)).toBe('画面番号:B-01');

    // The same QR code again: refused on the phone.
    await expect(phone.loginWithQr(payload)).rejects.toMatchObject({ code: 'QR_ALREADY_USED' });
    await page.close();
  });

  it('a card taken off the phone mid-flow gives a clear error on the phone and on the PC page', async () => {
    const page = await env.page();
    // The card leaves the phone right after the portal has handed out the challenge.
    const fetchThenRemove: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(input).endsWith('/api/qr/login/challenge')) phoneReader.remove();
      return response;
    };
    const phone = new SimulatedPhone({ reader: phoneReader, pins: { auth: env.fixture.definition.pins.auth }, fetch: fetchThenRemove, cardWaitMs: 200 });
    const payload = phone.scanQr(await showQr(page));
    await expect(phone.loginWithQr(payload)).rejects.toMatchObject({ code: 'CARD_REMOVED' });
    await expect.poll(() => page.getByTestId('login-error').textContent(), { timeout: 15_000 }).toMatch(/カード/);
    expect(page.url()).toMatch(/\/login$/);
    phoneReader.insert(createMemoryCard(env.fixture.image));
    await page.close();
  });

  it('refuses an expired QR code on both sides', async () => {
    const page = await env.page();
    const phone = new SimulatedPhone({ reader: phoneReader, pins: { auth: env.fixture.definition.pins.auth } });
    const payload = phone.scanQr(await showQr(page));
    // Five minutes and a little more on the portal's clock.
    env.advanceClock(5 * 60_000 + 1_000);
    await expect(phone.loginWithQr(payload)).rejects.toMatchObject({ code: 'QR_EXPIRED' });
    await expect.poll(async () => `${await page.getByTestId('login-error').textContent()} ${await page.getByTestId('qr-expires').textContent()}`, { timeout: 15_000 }).toMatch(/有効期限|期限切れ|もう一度/);
    expect(page.url()).toMatch(/\/login$/);
    await page.close();
  });
});
