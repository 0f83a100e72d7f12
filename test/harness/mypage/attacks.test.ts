/**
 * My Page attacked over HTTP on loopback: confirmation codes guessed by resending, passwords
 * guessed without end, garbage certificate bytes at the xID app's API, and the outbox of
 * `mypage serve`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxMessage } from '../../../harness/portal/mypage/codes.js';
import { startMyPage, type RunningMyPage } from '../../../harness/portal/mypage/server.js';
import { portalOptionsFromCaDir } from '../../../harness/portal/mynaportal/portal-options.js';
import { issueFixture, kPackageRoot, tempDir } from '../../support/cards.js';
import { HttpBrowser } from '../../support/http-browser.js';

const codeOf = (text: string, status: number): string => (status === 303 ? 'OK' : (/data-code="([A-Z_]+)"/.exec(text)?.[1] ?? String(status)));

describe('My Page under attack (HTTP on loopback)', () => {
  const dir = tempDir('jpki-hil-mypage-attacks-');
  let offset = 0;
  const now = (): Date => new Date(Date.now() + offset);
  let myPage: RunningMyPage;

  beforeAll(async () => {
    await issueFixture(dir.path, 'adult');
    const trust = portalOptionsFromCaDir(join(dir.path, 'ca'), { db: ':memory:' });
    myPage = await startMyPage({ verifier: trust.verifier, cardInfoPublicKey: trust.cardInfoPublicKey as Uint8Array, holders: trust.holders, testMode: true, now });
  });
  afterAll(async () => {
    await myPage.close();
    dir.remove();
  });

  const lastCode = async (to: string): Promise<string> => ((await (await fetch(`${myPage.url}/api/test/outbox?to=${to}`)).json()) as { messages: OutboxMessage[] }).messages.at(-1)!.code;

  async function toCode(email: string): Promise<HttpBrowser> {
    const browser = new HttpBrowser(myPage.url);
    expect((await browser.submit('/signup', '/signup', { type: 'email' })).location).toBe('/signup/email');
    expect((await browser.submit('/signup/email', '/signup/email', { email, password: 'sendai2026' })).location).toBe('/signup/code');
    return browser;
  }

  it('makes a resend wait and locks the address after 10 wrong codes over all resends', async () => {
    const browser = await toCode('guess@example.jp');
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await browser.submit('/signup/code', '/signup/code', { code: String(800000 + i) });
      answers.push(codeOf(a.text, a.status));
    }
    const soon = await browser.submit('/signup/code', '/signup/code/resend');
    answers.push(codeOf(soon.text, soon.status));
    expect(answers).toEqual(['CODE_WRONG', 'CODE_WRONG', 'CODE_WRONG', 'CODE_WRONG', 'CODE_EXHAUSTED', 'CODE_RESEND_TOO_SOON']);
    offset += 30_000;
    expect((await browser.submit('/signup/code', '/signup/code/resend')).location).toBe('/signup/code');
    for (let i = 0; i < 4; i++) await browser.submit('/signup/code', '/signup/code', { code: String(810000 + i) });
    const tenth = await browser.submit('/signup/code', '/signup/code', { code: '819999' });
    expect(codeOf(tenth.text, tenth.status)).toBe('CODE_LOCKED');
    const right = await browser.submit('/signup/code', '/signup/code', { code: await lastCode('guess@example.jp') });
    expect(codeOf(right.text, right.status)).toBe('CODE_LOCKED');
  });

  it('locks an account after 5 wrong passwords, even for the right one', async () => {
    const browser = await toCode('owner@example.jp');
    expect((await browser.submit('/signup/code', '/signup/code', { code: await lastCode('owner@example.jp') })).location).toBe('/signup/profile');
    expect((await browser.submit('/signup/profile', '/signup/profile', { nickname: '仙台' })).location).toBe('/mypage');
    const login = async (password: string): Promise<string> => {
      const a = await new HttpBrowser(myPage.url).submit('/login', '/login', { email: 'owner@example.jp', password });
      return codeOf(a.text, a.status);
    };
    for (let i = 0; i < 5; i++) expect(await login(`wrong${i}-pass`)).toBe('LOGIN_FAILED');
    expect(await login('sendai2026')).toBe('LOGIN_LOCKED');
  });

  it('answers garbage certificate bytes at the xID API with 400 CERTIFICATE_INVALID, not 500', async () => {
    const browser = await toCode('linker@example.jp');
    await browser.submit('/signup/code', '/signup/code', { code: await lastCode('linker@example.jp') });
    await browser.submit('/signup/profile', '/signup/profile', { nickname: '連携' });
    const started = await browser.submit('/mypage/link', '/mypage/link/start');
    const waiting = await browser.request('GET', started.location!);
    const deepLink = /(https?:\/\/[^"<\s]+\/xid\/link\?[^"<\s]+)/.exec(waiting.text)![1]!.replace(/&amp;/g, '&');
    const ids = { tx: new URL(deepLink).searchParams.get('tx'), t: new URL(deepLink).searchParams.get('t') };
    const post = (path: string, body: object): Promise<Response> => fetch(`${myPage.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/api/xid/challenge', ids)).status).toBe(200);
    const garbage = await post('/api/xid/link', {
      ...ids,
      signature: Buffer.alloc(256, 1).toString('base64'),
      certificate: Buffer.from('not a certificate').toString('base64'),
      basic4: Buffer.from('x').toString('base64'),
      basic4Signature: Buffer.from('y').toString('base64'),
    });
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ code: 'CERTIFICATE_INVALID' });
  });

  it('`mypage serve` keeps the outbox closed unless --test-mode', async () => {
    const child = spawn(process.execPath, [join(kPackageRoot, 'bin', 'jpki-hil.js'), 'mypage', 'serve', '--ca', join(dir.path, 'ca'), '--port', '0', '--db', ':memory:'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      for (let i = 0; i < 300 && !/My Page: (\S+)\//.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      const url = /My Page: (\S+)\//.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect((await fetch(`${url}/api/test/outbox`)).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
