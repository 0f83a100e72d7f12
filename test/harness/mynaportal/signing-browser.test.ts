/**
 * The online application with an electronic signature in real Chromium: the PC agent holds the
 * logged-in person's card (and fills 氏名 and 住所 from it); the signing app holds a card of its own
 * (a copy of the same card, or another person's issued by the same CA) and is reached by the deep
 * link (the phone alone) or by the QR code read off a screenshot (PC with phone).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, type CardImage } from '../../../emulator/index.js';
import { SigningApp } from '../../../harness/agents/phone/signing-app.js';
import { InProcessReader } from '../../../harness/readers/in-process-reader.js';
import { issueFixture, tempDir } from '../../support/cards.js';
import { logInWithCard, startPortalEnv, type PortalEnv } from '../../support/portal-env.js';

describe('online application with an electronic signature, in Chromium', () => {
  const dir = tempDir('jpki-hil-signing-');
  let env: PortalEnv;
  let page: Page;
  const cards: Record<string, CardImage> = {};
  const readers: InProcessReader[] = [];

  function signingApp(image: CardImage): SigningApp {
    const reader = new InProcessReader('Phone NFC', createMemoryCard(image));
    readers.push(reader);
    return new SigningApp({ reader, cardWaitMs: 500 });
  }

  /** AP-01 with 氏名 and 住所 from the card → AP-02 → 電子署名を行う. */
  async function applyAndStartSigning(): Promise<void> {
    await page.goto(`${env.portal.url}/applications/new`);
    expect(await page.getByTestId('input-title').inputValue()).toBe('〇〇ポイント申請');
    await page.getByTestId('prefill-from-card').click();
    await expect.poll(() => page.getByTestId('input-name').inputValue()).toBe(env.fixture.definition.identity.name);
    expect(await page.getByTestId('input-address').inputValue()).toBe(env.fixture.definition.identity.address);
    await page.getByTestId('to-confirm').click();
    await page.waitForURL(/\/applications\/[^/]+\/confirm$/);
    expect(await page.getByTestId('submit').isDisabled()).toBe(true);
    await page.getByTestId('sign-start').click();
    await page.getByTestId('sign-qr').waitFor({ state: 'visible' });
    await expect.poll(async () => (await page.getByTestId('sign-qr').getAttribute('src')) ?? '').toMatch(/^data:image\/png/);
  }

  /** What the phone's camera sees: the PC's screen with the QR code on it. */
  async function screenshotWithQr(): Promise<Buffer> {
    await page.getByTestId('sign-qr').scrollIntoViewIfNeeded();
    return page.screenshot();
  }

  async function signedThenSubmitted(): Promise<string> {
    await expect.poll(() => page.getByTestId('sign-state').textContent()).toBe('電子署名済み');
    let dialog = '';
    page.once('dialog', (d) => {
      dialog = d.message();
      void d.accept();
    });
    await page.getByTestId('submit').click();
    await page.waitForURL(/\/complete$/);
    expect(dialog).toBe('申請します。よろしいですか？');
    return (await page.getByTestId('submission-id').textContent()) ?? '';
  }

  async function failure(): Promise<{ code: string | null; text: string | null }> {
    const error = page.getByTestId('application-error');
    await error.waitFor({ state: 'visible' });
    return { code: await error.getAttribute('data-code'), text: await error.textContent() };
  }

  beforeAll(async () => {
    // Every card from one CA, before the portal reads its first CRL.
    env = await startPortalEnv({ dir: dir.path });
    for (const name of ['revoked-after-move', 'expired-certificates', 'minor']) cards[name] = (await issueFixture(dir.path, name)).image;
    page = await env.page();
    await logInWithCard(env, page);
  });
  afterAll(async () => {
    for (const reader of readers) await reader.close();
    await env?.close();
    dir.remove();
  });

  it('PC with phone: the signing app scans the QR code, signs, and the PC page submits', async () => {
    await applyAndStartSigning();
    const app = signingApp(env.fixture.image);
    app.scanQr(await screenshotWithQr());
    expect(await app.review()).toMatchObject({ recipient: 'jpki-hil市', title: '〇〇ポイント申請' });
    await app.consentAndSign('JPKI2026');
    const submissionId = await signedThenSubmitted();
    expect(submissionId).toMatch(/^\d{8}-[0-9A-F]{8}$/);
    const verify = await page.request.get(`${env.portal.url}/api/submissions/${submissionId}/verify`);
    expect(await verify.json()).toMatchObject({ code: 'OK', certificate: { kind: 'sign' } });
  });

  it('the phone alone: the deep link opens the signing app', async () => {
    await applyAndStartSigning();
    const link = (await page.getByTestId('sign-deeplink').getAttribute('href')) ?? '';
    expect(link).toMatch(/^jpkihil-sign:\/\/sign\?/);
    const app = signingApp(env.fixture.image);
    app.openDeepLink(link);
    await app.review();
    await app.consentAndSign('jpki2026');
    expect(await signedThenSubmitted()).not.toBe('');
  });

  it('a wrong signing password shows the tries left, and the fifth the guide’s advice', async () => {
    await applyAndStartSigning();
    const app = signingApp(env.fixture.image);
    app.scanQr(await screenshotWithQr());
    await expect(app.consentAndSign('WRONG1')).rejects.toMatchObject({ code: 'WRONG_PIN', triesLeft: 4 });
    await expect.poll(async () => (await failure()).text).toMatch(/残り4回/);
    for (let i = 0; i < 3; i++) await expect(app.consentAndSign('WRONG1')).rejects.toMatchObject({ code: 'WRONG_PIN' });
    await expect(app.consentAndSign('WRONG1')).rejects.toMatchObject({ code: 'PIN_BLOCKED' });
    await expect.poll(async () => (await failure()).code).toBe('PIN_BLOCKED');
    expect((await failure()).text).toMatch(/市区町村窓口にてパスワード初期化を申請してください/);
    expect(await page.getByTestId('submit').isDisabled()).toBe(true);
  });

  for (const [name, password, code, reason] of [
    ['revoked-after-move', 'MOVED2026', 'SIGN_CERTIFICATE_REVOKED', /失効しています.*失効理由: 記載事項の変更/],
    ['expired-certificates', 'EXPIRED2018', 'SIGN_CERTIFICATE_EXPIRED', /有効期限が切れています/],
    ['minor', 'ANY123', 'NO_SIGNATURE_CERTIFICATE', /署名用電子証明書が搭載されていません/],
  ] as const) {
    it(`a ${name} card is refused with the reason`, async () => {
      await applyAndStartSigning();
      const app = signingApp(cards[name]!);
      app.scanQr(await screenshotWithQr());
      await expect(app.consentAndSign(password)).rejects.toMatchObject({ code });
      await expect.poll(async () => (await failure()).code).toBe(code);
      expect((await failure()).text).toMatch(reason);
      expect(await page.getByTestId('submit').isDisabled()).toBe(true);
    });
  }

  it('a document tampered after signing fails verification at 申請する', async () => {
    await applyAndStartSigning();
    const app = signingApp(env.fixture.image);
    app.scanQr(await screenshotWithQr());
    await app.consentAndSign('JPKI2026');
    await expect.poll(() => page.getByTestId('sign-state').textContent()).toBe('電子署名済み');
    const id = /\/applications\/([^/]+)\/confirm$/.exec(page.url())![1]!;
    const { db } = env.portal.app.portalContext.store;
    const document = (db.prepare('SELECT document FROM applications WHERE id = ?').get(id) as { document: string }).document;
    db.prepare('UPDATE applications SET document = ? WHERE id = ?').run(document.replace('〇〇ポイント申請', '××ポイント申請'), id);
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('submit').click();
    await page.getByTestId('page-error').waitFor();
    expect(await page.getByTestId('page-error').getAttribute('data-code')).toBe('DOCUMENT_MISMATCH');
  });
});
