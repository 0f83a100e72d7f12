/**
 * The online application with an electronic signature, through the API: the form and its prefill
 * from the card, the hand-off to the signing app, the document the app consents to, the CMS it
 * posts (built by the card actions over the emulated card), the page's event stream, submission,
 * re-verification (also after a revocation), openssl's view of a stored signature, and every
 * refusal.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, loadCa, revokeCardCertificate } from '../../../emulator/index.js';
import { signDocumentWithSignKey } from '../../../harness/agents/card-actions.js';
import { kPortalErrors } from '../../../harness/portal/mynaportal/errors.js';
import { canonicalJson } from '../../../harness/portal/mynaportal/application-document.js';
import { Browser, byTestId, caWorld, decodeQrDataUrl, portalFor, registrationForm, TestClock, type CaWorld, type TestCard } from './support/portal-fixture.js';

const kTenMinutes = 10 * 60_000;

interface SigningStart {
  id: string;
  link: string;
  https: string;
  qrImage: string;
  expiresAt: string;
}

/** The card's signature over `document` as the signing app makes it. */
async function cmsOf(card: TestCard, password: string, document: Uint8Array): Promise<string> {
  const emulated = createMemoryCard(card.image);
  emulated.powerOn();
  const cms = await signDocumentWithSignKey({ transmit: async (command) => emulated.transmit(command) }, password, document);
  return Buffer.from(cms).toString('base64');
}

function events(body: string): { event: string; data: Record<string, unknown> }[] {
  return body
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line !== '' && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => ({
      event: lines.find((l) => l.startsWith('event: '))!.slice(7),
      data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, unknown>,
    }));
}

describe('online application with an electronic signature', () => {
  let world: CaWorld;
  let adult: TestCard;
  /** The same person's renewed card: its signature certificate stays valid when the first one is revoked. */
  let renewed: TestCard;
  let moved: TestCard;
  let expired: TestCard;
  let clock: TestClock;
  let app: FastifyInstance;
  let pc: Browser;
  let other: Browser;

  async function registered(card: TestCard): Promise<Browser> {
    const browser = new Browser(app);
    expect(await browser.loginWithCard(card)).toBe('/account/new');
    await browser.get('/account/new');
    await browser.postForm('/account/confirm', registrationForm());
    expect((await browser.postForm('/account/register', {})).statusCode).toBe(200);
    return browser;
  }

  /** AP-01 → AP-02: returns the application id. */
  async function apply(browser: Browser, fields: Record<string, string> = {}): Promise<string> {
    await browser.get('/applications/new');
    const response = await browser.postForm('/applications/confirm', { recipient: 'テスト市', title: '〇〇ポイント申請', name: '番号 太郎', address: '東京都千代田区霞が関二丁目1番2号', phone: '03-1234-5678', note: '', ...fields });
    expect(response.statusCode).toBe(303);
    const id = /^\/applications\/([A-Za-z0-9_-]+)\/confirm$/.exec(String(response.headers.location))![1]!;
    await browser.get(`/applications/${id}/confirm`);
    return id;
  }

  async function startSigning(browser: Browser, id: string): Promise<SigningStart & { s: string; t: string }> {
    const response = await browser.postJson(`/api/applications/${id}/signing`, {});
    expect(response.statusCode).toBe(200);
    const start = response.json<SigningStart>();
    const url = new URL(start.link);
    return { ...start, s: url.searchParams.get('s')!, t: url.searchParams.get('t')! };
  }

  async function documentOf(start: { s: string; t: string }): Promise<{ summary: Record<string, string>; document: Buffer }> {
    const response = await app.inject({ method: 'GET', url: `/api/sign/sessions/${start.s}/document?t=${start.t}` });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ summary: Record<string, string>; document: string }>();
    return { summary: body.summary, document: Buffer.from(body.document, 'base64') };
  }

  function complete(start: { s: string; t: string }, cms: string): Promise<LightMyRequestResponse> {
    return app.inject({ method: 'POST', url: `/api/sign/sessions/${start.s}/complete`, payload: { t: start.t, cms } });
  }

  function stream(browser: Browser, id: string): Promise<LightMyRequestResponse> {
    return app.inject({ method: 'GET', url: `/api/sign/sessions/${id}/events`, cookies: browser.cookies });
  }

  beforeAll(async () => {
    world = caWorld();
    adult = await world.issue('adult');
    renewed = await world.renew(adult);
    moved = await world.issue('revoked-after-move');
    expired = await world.issue('expired-certificates');
    clock = new TestClock();
    app = await portalFor(world, clock, { revocation: 'crl', crlStaleWindowMs: 0 });
    pc = await registered(adult);
    other = await registered(moved);
  });
  afterAll(async () => {
    await app?.close();
    world?.remove();
  });

  it('shows the form only to a logged-in person, and prefills 氏名 and 住所 from verified card info', async () => {
    const anonymous = new Browser(app);
    const refused = await anonymous.get('/applications/new');
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain('data-code="NOT_LOGGED_IN"');

    const page = await pc.get('/applications/new');
    expect(page.statusCode).toBe(200);
    expect(byTestId(page.body, 'screen-id')).toBe('画面番号:AP-01');
    expect(page.body).toContain('マイナンバーカードから入力');
    expect(page.body).toContain('〇〇ポイント申請');

    const info = await adult.readCardInfo();
    const prefill = await pc.postJson('/api/applications/prefill', info);
    expect(prefill.statusCode).toBe(200);
    expect(prefill.json()).toEqual({ name: expect.any(String), address: expect.any(String) });
    expect(prefill.json<{ name: string }>().name.length).toBeGreaterThan(0);

    const basic4 = Buffer.from(info.basic4, 'base64');
    basic4[basic4.length - 1] = basic4.at(-1)! ^ 0x01;
    const tampered = await pc.postJson('/api/applications/prefill', { ...info, basic4: basic4.toString('base64') });
    expect(tampered.statusCode).toBe(400);
    expect(tampered.json()).toMatchObject({ code: 'CARD_INFO_INVALID' });
    expect((await pc.postJson('/api/applications/prefill', info, {})).json()).toMatchObject({ code: 'CSRF_INVALID' });
  });

  it('keeps the person on AP-01 with a message for each missing field', async () => {
    await pc.get('/applications/new');
    const response = await pc.postForm('/applications/confirm', { name: '', address: '', phone: 'abc' });
    expect(response.statusCode).toBe(200);
    expect(byTestId(response.body, 'error-name')).toMatch(/氏名/);
    expect(byTestId(response.body, 'error-address')).toMatch(/住所/);
    expect(byTestId(response.body, 'error-phone')).toMatch(/電話番号/);
  });

  it('signs, submits and re-verifies an application; openssl verifies the stored signature', async () => {
    const id = await apply(pc);
    const confirm = await pc.get(`/applications/${id}/confirm`);
    expect(byTestId(confirm.body, 'screen-id')).toBe('画面番号:AP-02');
    expect(byTestId(confirm.body, 'confirm-title')).toBe('〇〇ポイント申請');
    expect(confirm.body).toContain('電子署名を行う');
    // 申請する before the signature.
    expect((await pc.postForm(`/applications/${id}/submit`, {})).body).toContain('data-code="APPLICATION_NOT_SIGNED"');

    const start = await startSigning(pc, id);
    expect(start.link).toMatch(/^jpkihil-sign:\/\/sign\?s=[A-Za-z0-9_-]+&t=[A-Za-z0-9_-]+&portal=http/);
    expect(decodeQrDataUrl(start.qrImage)).toBe(start.link);
    expect(start.https).toMatch(new RegExp(`/m/sign\\?s=${start.s}&t=${start.t}$`));
    expect(Date.parse(start.expiresAt) - clock.now().getTime()).toBe(kTenMinutes);

    const { summary, document } = await documentOf(start);
    expect(summary).toEqual({ recipient: 'テスト市', title: '〇〇ポイント申請', appliedOn: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    const parsed = JSON.parse(document.toString('utf8')) as Record<string, unknown>;
    expect(document.toString('utf8')).toBe(canonicalJson(parsed));
    expect(Object.keys(parsed)).toEqual([...Object.keys(parsed)].sort());
    expect(parsed).toMatchObject({ applicationId: id, applicant: { name: '番号 太郎', address: '東京都千代田区霞が関二丁目1番2号' }, version: 1 });

    const cms = await cmsOf(adult, 'JPKI2026', document);
    const done = await complete(start, cms);
    expect(done.statusCode, done.body).toBe(200);
    // The page learns it (here after the fact, from the database); the hand-off is single use.
    expect(events((await stream(pc, start.id)).body)).toEqual([{ event: 'signed', data: {} }]);
    expect((await complete(start, cms)).json()).toMatchObject({ code: 'SIGN_SESSION_USED' });
    expect(byTestId((await pc.get(`/applications/${id}/confirm`)).body, 'sign-state')).toBe('電子署名済み');

    const submitted = await pc.postForm(`/applications/${id}/submit`, {});
    expect(submitted.statusCode).toBe(303);
    const completePage = await pc.get(String(submitted.headers.location));
    expect(byTestId(completePage.body, 'screen-id')).toBe('画面番号:AP-03');
    const submissionId = byTestId(completePage.body, 'submission-id')!;
    expect(submissionId).toMatch(/^\d{8}-[0-9A-F]{8}$/);
    expect((await pc.postForm(`/applications/${id}/submit`, {})).body).toContain('data-code="APPLICATION_ALREADY_SUBMITTED"');

    const verify = await pc.get(`/api/submissions/${submissionId}/verify`);
    expect(verify.json()).toMatchObject({ submissionId, code: 'OK', certificate: { kind: 'sign' } });
    expect((await other.get(`/api/submissions/${submissionId}/verify`)).json()).toMatchObject({ code: 'SUBMISSION_NOT_FOUND' });

    // openssl, as a third party would check the stored signature.
    const stored = app.portalContext.store.applications.getSubmission(submissionId)!;
    writeFileSync(join(world.dir, 'sig.p7s'), stored.cms);
    writeFileSync(join(world.dir, 'document.json'), stored.document);
    const args = ['cms', '-verify', '-binary', '-inform', 'DER', '-in', 'sig.p7s', '-content', 'document.json', '-CAfile', join(world.caDir, 'sign-ca.pem'), '-purpose', 'any', '-out', 'out.json'];
    execFileSync('openssl', args, { cwd: world.dir, stdio: 'pipe' });
    writeFileSync(join(world.dir, 'document.json'), stored.document.replace('番号 太郎', '番号 次郎'));
    expect(() => execFileSync('openssl', args, { cwd: world.dir, stdio: 'pipe' })).toThrow();

    // A document changed in the store after submission no longer verifies.
    app.portalContext.store.db.prepare('UPDATE submissions SET document = ? WHERE id = ?').run(stored.document.replace('番号 太郎', '番号 次郎'), submissionId);
    expect((await pc.get(`/api/submissions/${submissionId}/verify`)).json()).toMatchObject({ code: 'DOCUMENT_MISMATCH' });
    app.portalContext.store.db.prepare('UPDATE submissions SET document = ? WHERE id = ?').run(stored.document, submissionId);

    // The signature certificate revoked since: re-verification says so, with the reason.
    revokeCardCertificate(loadCa(world.caDir), adult.image, 'sign', 'keyCompromise');
    const again = (await pc.get(`/api/submissions/${submissionId}/verify`)).json<{ code: string; message: string; revocation: { reason: string } }>();
    expect(again).toMatchObject({ code: 'SIGN_CERTIFICATE_REVOKED', revocation: { reason: 'keyCompromise' } });
    expect(again.message).toMatch(/失効理由/);
  });

  it('refuses a document tampered after signing, at the signing app and at 申請する', async () => {
    const id = await apply(other, { name: '転居 次郎', address: '宮城県仙台市青葉区国分町三丁目7番1号' });
    const start = await startSigning(other, id);
    const { document } = await documentOf(start);
    // Another document signed: the message digest does not match.
    const wrong = await complete(start, await cmsOf(adult, 'JPKI2026', Buffer.from(document.toString('utf8').replace('転居', '転出'))));
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'DOCUMENT_MISMATCH', message: kPortalErrors.DOCUMENT_MISMATCH.message });
    expect(events((await stream(other, start.id)).body)).toEqual([{ event: 'failed', data: { code: 'DOCUMENT_MISMATCH', message: kPortalErrors.DOCUMENT_MISMATCH.message } }]);
    expect((await complete(start, 'AAAA')).json()).toMatchObject({ code: 'SIGN_SESSION_USED' });

    // Signed as it was, then changed in the store before 申請する: the submission is refused.
    const signedId = await apply(pc);
    const signing = await startSigning(pc, signedId);
    expect((await complete(signing, await cmsOf(renewed, 'JPKI2026', (await documentOf(signing)).document))).statusCode).toBe(200);
    const row = app.portalContext.store.applications.getApplication(signedId)!;
    app.portalContext.store.db.prepare('UPDATE applications SET document = ? WHERE id = ?').run(row.document.replace('テスト市', 'よその市'), signedId);
    const submit = await pc.postForm(`/applications/${signedId}/submit`, {});
    expect(submit.statusCode).toBe(401);
    expect(submit.body).toContain('data-code="DOCUMENT_MISMATCH"');
    expect(app.portalContext.store.applications.submissionOf(signedId)).toBeUndefined();
  });

  it('refuses malformed CMS, unknown or expired hand-offs, and another browser’s event stream', async () => {
    const id = await apply(pc);
    const start = await startSigning(pc, id);
    expect((await app.inject({ method: 'GET', url: `/api/sign/sessions/${start.s}/document?t=${'x'.repeat(43)}` })).json()).toMatchObject({ code: 'SIGN_SESSION_UNKNOWN' });
    expect((await stream(other, start.id)).json()).toMatchObject({ code: 'SIGN_SESSION_MISMATCH' });
    const garbage = await complete(start, Buffer.from('not a cms').toString('base64'));
    expect(garbage.json()).toMatchObject({ code: 'CMS_INVALID' });

    const later = await startSigning(pc, id);
    clock.advance(kTenMinutes + 1_000);
    const expiredAnswer = await app.inject({ method: 'GET', url: `/api/sign/sessions/${later.s}/document?t=${later.t}` });
    expect(expiredAnswer.statusCode).toBe(410);
    expect(expiredAnswer.json()).toMatchObject({ code: 'SIGN_SESSION_EXPIRED' });
    expect(events((await stream(pc, later.id)).body)).toEqual([{ event: 'expired', data: {} }]);
    clock.set(new Date());
    // Another person's application.
    expect((await other.get(`/applications/${id}/confirm`)).body).toContain('data-code="APPLICATION_NOT_FOUND"');
  });

  it('relays the signing app’s failures: a wrong password keeps the hand-off, a blocked one ends it with the guide’s advice', async () => {
    const id = await apply(pc);
    const start = await startSigning(pc, id);
    const fail = (body: Record<string, unknown>): Promise<LightMyRequestResponse> =>
      app.inject({ method: 'POST', url: `/api/sign/sessions/${start.s}/fail`, payload: { t: start.t, ...body } });
    expect((await fail({ code: 'WRONG_PIN', triesLeft: 4 })).json()).toEqual({ ok: true });
    expect((await documentOf(start)).summary.title).toBe('〇〇ポイント申請');
    expect((await fail({ code: 'PIN_BLOCKED' })).json()).toEqual({ ok: true });
    const [ended] = events((await stream(pc, start.id)).body);
    expect(ended).toMatchObject({ event: 'failed', data: { code: 'PIN_BLOCKED' } });
    expect(String(ended!.data.message)).toMatch(/市区町村窓口にてパスワード初期化/);

    const minor = await startSigning(pc, id);
    await app.inject({ method: 'POST', url: `/api/sign/sessions/${minor.s}/fail`, payload: { t: minor.t, code: 'NO_SIGNATURE_CERTIFICATE' } });
    const [noCert] = events((await stream(pc, minor.id)).body);
    expect(noCert).toMatchObject({ event: 'failed', data: { code: 'NO_SIGNATURE_CERTIFICATE' } });
    expect(String(noCert!.data.message)).toMatch(/署名用電子証明書が搭載されていません/);
  });

  it('refuses revoked and expired signature certificates with the reason', async () => {
    const id = await apply(other, { name: '転居 次郎', address: '宮城県仙台市青葉区国分町三丁目7番1号' });
    const start = await startSigning(other, id);
    const { document } = await documentOf(start);
    const revoked = await complete(start, await cmsOf(moved, 'MOVED2026', document));
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toMatchObject({ code: 'SIGN_CERTIFICATE_REVOKED' });
    const [event] = events((await stream(other, start.id)).body);
    expect(event).toMatchObject({ event: 'failed', data: { code: 'SIGN_CERTIFICATE_REVOKED' } });
    expect(String(event!.data.message)).toMatch(/失効理由: 記載事項の変更（転居・婚姻など）/);

    const next = await startSigning(other, id);
    const outdated = await complete(next, await cmsOf(expired, 'EXPIRED2018', (await documentOf(next)).document));
    expect(outdated.json()).toMatchObject({ code: 'SIGN_CERTIFICATE_EXPIRED', message: expect.stringMatching(/有効期限が切れています/) });
  });
});
