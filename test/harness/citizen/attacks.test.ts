/**
 * The city portal and the IdP attacked over HTTP on loopback: SMS codes guessed by resending,
 * passwords guessed without end, unknown addresses told from known ones, garbage certificates and
 * credentials, the outbox of `citizen serve`. No timings are measured: which path a login took is
 * seen by counting scrypt computations.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCitizenPortal, type RunningCitizenPortal } from '../../../harness/portal/citizen/server.js';
import type { OutboxMessage } from '../../../harness/portal/citizen/codes.js';
import { startIdp, type RunningIdp } from '../../../harness/portal/idp/server.js';
import { portalOptionsFromCaDir } from '../../../harness/portal/mynaportal/portal-options.js';
import { hashPassword, kPasswordHashing, passwordMatches } from '../../../harness/portal/shared/accounts.js';
import { issueFixture, kPackageRoot, tempDir } from '../../support/cards.js';
import { HttpBrowser } from '../../support/http-browser.js';

const kClient = { clientId: 'citizen-portal', clientSecret: 'attack-test-client-secret-0123' };

describe('the city portal and the IdP under attack (HTTP on loopback)', () => {
  const dir = tempDir('jpki-hil-citizen-attacks-');
  let offset = 0;
  const now = (): Date => new Date(Date.now() + offset);
  let idp: RunningIdp;
  let citizen: RunningCitizenPortal;
  let flawed: RunningCitizenPortal;
  let phoneCounter = 0;

  beforeAll(async () => {
    await issueFixture(dir.path, 'adult');
    const trust = portalOptionsFromCaDir(join(dir.path, 'ca'), { db: ':memory:' });
    idp = await startIdp({ verifier: trust.verifier, cardInfoPublicKey: trust.cardInfoPublicKey as Uint8Array, holders: trust.holders, cookieSecret: 'idp-cookie-secret-0123456789', clients: [{ ...kClient, name: 'test', redirectUris: ['http://127.0.0.1/cb'] }], testMode: true, now });
    const idpSettings = { issuer: idp.url, ...kClient };
    citizen = await startCitizenPortal({ idp: idpSettings, testMode: true, now });
    flawed = await startCitizenPortal({ idp: idpSettings, testMode: true, now, defects: { unlimitedCodes: true, unlimitedPasswordTries: true } });
  });
  afterAll(async () => {
    await citizen.close();
    await flawed.close();
    await idp.close();
    dir.remove();
  });

  const outbox = async (portal: RunningCitizenPortal, to: string): Promise<OutboxMessage[]> =>
    ((await (await fetch(`${portal.url}/api/test/outbox?to=${to}`)).json()) as { messages: OutboxMessage[] }).messages;

  async function toSmsCode(portal: RunningCitizenPortal): Promise<{ browser: HttpBrowser; phone: string }> {
    const browser = new HttpBrowser(portal.url);
    expect((await browser.submit('/register/terms', '/register/terms')).status).toBe(303);
    const phone = `0905555${String(++phoneCounter).padStart(4, '0')}`;
    expect((await browser.submit('/register/phone', '/register/phone', { phone })).location).toBe('/register/phone/code');
    return { browser, phone };
  }

  /** Guesses codes and resends as fast as the portal lets; returns what it answered. */
  async function bruteForce(portal: RunningCitizenPortal): Promise<{ codes: string[]; sent: number; phone: string; browser: HttpBrowser }> {
    const { browser, phone } = await toSmsCode(portal);
    const codes: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) {
        const answer = await browser.submit('/register/phone/code', '/register/phone/code', { code: String(900000 + round * 10 + i) });
        codes.push(/data-code="([A-Z_]+)"/.exec(answer.text)?.[1] ?? String(answer.status));
      }
      const resend = await browser.submit('/register/phone/code', '/register/phone/resend');
      codes.push(resend.status === 303 ? 'RESENT' : (/data-code="([A-Z_]+)"/.exec(resend.text)?.[1] ?? String(resend.status)));
    }
    return { codes, sent: (await outbox(portal, phone)).length, phone, browser };
  }

  it('makes a resend wait, counts wrong tries across resends and locks the number after 10', async () => {
    const { codes, sent, phone, browser } = await bruteForce(citizen);
    // The first code's 5 tries, then a resend that must wait.
    expect(codes.slice(0, 6)).toEqual(['CODE_WRONG', 'CODE_WRONG', 'CODE_WRONG', 'CODE_WRONG', 'CODE_EXHAUSTED', 'CODE_RESEND_TOO_SOON']);
    expect(sent).toBe(1);
    offset += 30_000;
    expect((await browser.submit('/register/phone/code', '/register/phone/resend')).location).toBe('/register/phone/code');
    for (let i = 0; i < 4; i++) await browser.submit('/register/phone/code', '/register/phone/code', { code: String(910000 + i) });
    // The 10th wrong try at this number, across both codes, locks it: even the right code is refused.
    const tenth = await browser.submit('/register/phone/code', '/register/phone/code', { code: '919999' });
    expect(tenth.status).toBe(429);
    expect(tenth.text).toContain('data-code="CODE_LOCKED"');
    const right = (await outbox(citizen, phone)).at(-1)!.code;
    expect((await browser.submit('/register/phone/code', '/register/phone/code', { code: right })).text).toContain('data-code="CODE_LOCKED"');
    // A fresh session cannot get round it: the lock is on the number.
    const other = new HttpBrowser(citizen.url);
    await other.submit('/register/terms', '/register/terms');
    expect((await other.submit('/register/phone', '/register/phone', { phone })).text).toContain('data-code="CODE_LOCKED"');
  });

  it('(the flawed portal resends at will, 5 fresh tries each, which is what the test above catches)', async () => {
    const { codes, sent } = await bruteForce(flawed);
    expect(codes.filter((c) => c === 'RESENT')).toHaveLength(4);
    expect(codes).not.toContain('CODE_LOCKED');
    expect(sent).toBe(5);
  });

  async function account(portal: RunningCitizenPortal, email: string, password: string): Promise<void> {
    const { browser, phone } = await toSmsCode(portal);
    await browser.submit('/register/phone/code', '/register/phone/code', { code: (await outbox(portal, phone)).at(-1)!.code });
    expect((await browser.submit('/register/email', '/register/email', { email, password, nickname: 'テスト' })).location).toBe('/register/email/code');
    await browser.submit('/register/email/code', '/register/email/code', { code: (await outbox(portal, email)).at(-1)!.code });
    expect((await browser.submit('/register/confirm', '/register/confirm')).location).toBe('/mypage');
  }

  const login = async (portal: RunningCitizenPortal, email: string, password: string): Promise<string> => {
    const answer = await new HttpBrowser(portal.url).submit('/login', '/login', { email, password });
    return answer.status === 303 ? 'OK' : (/data-code="([A-Z_]+)"/.exec(answer.text)?.[1] ?? String(answer.status));
  };

  it('locks an account after 5 wrong passwords, even for the right one, and the flawed portal does not', async () => {
    await account(citizen, 'victim@example.jp', 'right-passw0rd');
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push(await login(citizen, 'victim@example.jp', `wrong-${i}-x1`));
    expect(answers.slice(0, 5)).toEqual(['LOGIN_FAILED', 'LOGIN_FAILED', 'LOGIN_FAILED', 'LOGIN_FAILED', 'LOGIN_FAILED']);
    expect(answers[5]).toBe('LOGIN_LOCKED');
    expect(await login(citizen, 'victim@example.jp', 'right-passw0rd')).toBe('LOGIN_LOCKED');
    offset += 15 * 60_000 + 1000;
    expect(await login(citizen, 'victim@example.jp', 'right-passw0rd')).toBe('OK');

    await account(flawed, 'victim@example.jp', 'right-passw0rd');
    for (let i = 0; i < 6; i++) expect(await login(flawed, 'victim@example.jp', `wrong-${i}-x1`)).toBe('LOGIN_FAILED');
    expect(await login(flawed, 'victim@example.jp', 'right-passw0rd')).toBe('OK');
  });

  it('hashes a dummy for an unknown address: the same scrypt work as a known one, the same answer', async () => {
    await account(citizen, 'known@example.jp', 'known-passw0rd');
    await login(citizen, 'warm-up@example.jp', 'whatever-1'); // the dummy hash is made once
    let before = kPasswordHashing.calls;
    expect(await login(citizen, 'known@example.jp', 'wrong-passw0rd')).toBe('LOGIN_FAILED');
    const known = kPasswordHashing.calls - before;
    before = kPasswordHashing.calls;
    expect(await login(citizen, 'nobody@example.jp', 'wrong-passw0rd')).toBe('LOGIN_FAILED');
    expect(kPasswordHashing.calls - before).toBe(known);
    expect(known).toBe(1);
  });

  it("stores scrypt's parameters with the hash (N=2^17, r=8, p=1) and still verifies the older form", async () => {
    const hash = await hashPassword('passw0rd-x');
    expect(hash).toMatch(/^scrypt\$N=131072,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await passwordMatches('passw0rd-x', hash)).toBe(true);
    expect(await passwordMatches('passw0rd-y', hash)).toBe(false);
    // scrypt$<salt>$<hash> with Node's defaults (N=2^14), as accounts made before are stored.
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.from('0123456789abcdef');
    const legacy = `scrypt$${salt.toString('base64url')}$${scryptSync('old-passw0rd', salt, 32).toString('base64url')}`;
    expect(await passwordMatches('old-passw0rd', legacy)).toBe(true);
    expect(await passwordMatches('new-passw0rd', legacy)).toBe(false);
    // A tampered row asking for absurd parameters is refused, not computed.
    expect(await passwordMatches('x', 'scrypt$N=1073741824,r=8,p=1$AAAA$AAAA')).toBe(false);
  });

  it('answers garbage certificate bytes at the app API with 400 CERTIFICATE_INVALID, not 500', async () => {
    const browser = new HttpBrowser(idp.url);
    const authorize = new URL(`${idp.url}/authorize`);
    authorize.search = new URLSearchParams({
      client_id: kClient.clientId,
      redirect_uri: 'http://127.0.0.1/cb',
      response_type: 'code',
      scope: 'openid name',
      state: 'state-1',
      nonce: 'nonce-1',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const wait = new URL((await browser.request('GET', authorize.href)).location!, idp.url);
    const tx = { tx: wait.searchParams.get('tx'), t: wait.searchParams.get('t') };
    const post = (path: string, body: object): Promise<Response> => fetch(`${idp.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/api/app/challenge', tx)).status).toBe(200);
    const garbage = await post('/api/app/complete', { ...tx, signature: Buffer.alloc(256, 1).toString('base64'), certificate: Buffer.from('not a certificate').toString('base64') });
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ code: 'CERTIFICATE_INVALID' });
  });

  it('answers malformed Basic credentials at /token with 401 invalid_client, not 500', async () => {
    const token = await fetch(`${idp.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('citizen-portal:%E0%A4%A').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=x&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&code_verifier=' + 'a'.repeat(43),
    });
    expect(token.status).toBe(401);
    expect(await token.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('forgets expired authentication transactions', async () => {
    const store = idp.app.idpContext.store;
    const authorize = (): Promise<Response> =>
      fetch(
        `${idp.url}/authorize?${new URLSearchParams({ client_id: kClient.clientId, redirect_uri: 'http://127.0.0.1/cb', response_type: 'code', scope: 'openid', state: 's', nonce: 'n', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString()}`,
        { redirect: 'manual' },
      );
    for (let i = 0; i < 20; i++) expect((await authorize()).status).toBe(303);
    expect(store.transactions.size).toBeGreaterThanOrEqual(20);
    offset += 6 * 60_000;
    await authorize();
    expect(store.transactions.size).toBe(1);
  });

  it('`citizen serve` keeps the outbox closed unless --test-mode', async () => {
    const child = spawn(process.execPath, [join(kPackageRoot, 'bin', 'jpki-hil.js'), 'citizen', 'serve', '--ca', join(dir.path, 'ca'), '--port', '0', '--idp-port', '0', '--db', ':memory:'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      for (let i = 0; i < 300 && !/city portal: (\S+)\//.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      const url = /city portal: (\S+)\//.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(out).not.toContain('outbox');
      expect((await fetch(`${url}/api/test/outbox`)).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
