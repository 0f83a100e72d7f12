/**
 * Portal logins per second: K emulated cards, each in its own in-process reader, and K clients
 * that each log in again and again over HTTP exactly as the login page and the PC agent do
 * (docs/portal-protocols.md, "Login with an IC card reader (PC)"):
 *
 *   GET /login (a fresh browser session: cookie + CSRF token)
 *   → agent `status` (is a card in the reader)
 *   → POST /api/login/nonce
 *   → agent `sign`: connect, the empty VERIFY for the tries left, VERIFY, read the auth
 *     certificate, sign the SHA-256 DigestInfo of the nonce (signNonceWithAuthKey), disconnect
 *     with a reset — the same card-actions the PC agent calls, through the card's APDU path
 *   → POST /api/login { nonce, signature, certificate } → { next: '/menu' }
 *   → GET /menu (メインメニュー, A-02)
 *
 * Only logins of registered cards are counted: during the warm-up every card makes its first
 * login, which goes through card info (POST /api/login/link) and the account registration
 * (B-01 → B-02 → 完了), and then one plain login; the measurement starts after that. The portal
 * trusts a throwaway test CA through its files (CRLs included) like any relying party, and runs
 * without its login rate limit (`loginRateLimit: false`), which would otherwise cap one client
 * address at 60 login requests a minute. Portal, clients and cards share this process and its
 * one event loop, so the figure is bounded by one core: compare it with openssl on one process.
 *
 * The WebSocket hop between page and agent and the page's static script and style sheet (cached
 * by a browser after the first visit) are left out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryCard, initCa, issueCard, kDefaultDefinition, type CardDefinition } from '../../emulator/index.js';
import { fromBase64, toBase64 } from '../../iso7816/bytes.js';
import { pinTriesLeft, readCardInfo, signNonceWithAuthKey } from '../agents/card-actions.js';
import { portalOptionsFromCaDir } from '../portal/portal-options.js';
import { startPortal } from '../portal/server.js';
import { InProcessReader } from '../readers/in-process-reader.js';
import type { Reader } from '../readers/reader.js';
import { percentile } from '../stats/percentile.js';
import { PortalAnswerError, PortalBrowser } from './portal-browser.js';

export interface PortalLoginRate {
  cards: number;
  /** Logins completed in the measurement (warm-up and registrations not counted). */
  count: number;
  seconds: number;
  perSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface PortalLoginOptions {
  cards: number;
  /** Length of the measurement; the warm-up comes before it. */
  seconds: number;
  progress: (line: string) => void;
}

interface BenchCard {
  reader: Reader;
  definition: CardDefinition;
}

/** 1 → "１": the names on the cards are written in full-width digits, as a card's name is full-width. */
function fullWidth(n: number): string {
  return String(n).replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)));
}

/** Card `i` of the run: the default adult with a name of its own, so each card is its own person and account. */
function cardDefinition(i: number): CardDefinition {
  return { ...kDefaultDefinition, id: `bench-${i + 1}`, identity: { ...kDefaultDefinition.identity, name: `番号\u3000太郎${fullWidth(i + 1)}`, myNumber: undefined } };
}

/** The PC agent's `sign` request, as pc-agent.ts serves it: one connection, reset when done. */
async function agentSign(card: BenchCard, nonce: string): Promise<{ signature: string; certificate: string }> {
  const connection = await card.reader.connect();
  try {
    await pinTriesLeft(connection, 'auth');
    const signed = await signNonceWithAuthKey(connection, card.definition.pins.auth, fromBase64(nonce));
    return { signature: toBase64(signed.signature), certificate: toBase64(signed.certificate) };
  } finally {
    await connection.disconnect('reset');
  }
}

/** The PC agent's `readCardInfo` request. */
async function agentReadCardInfo(card: BenchCard): Promise<{ basic4: string; basic4Signature: string }> {
  const connection = await card.reader.connect();
  try {
    await pinTriesLeft(connection, 'kenhojo');
    const files = await readCardInfo(connection, card.definition.pins.kenhojo);
    return { basic4: toBase64(files.basic4), basic4Signature: toBase64(files.basic4Signature) };
  } finally {
    await connection.disconnect('reset');
  }
}

function expectScreen(answer: { status: number; url: string; body: string }, screenId: string, step: string): void {
  if (answer.status !== 200 || !answer.body.includes(`画面番号:${screenId}`)) {
    throw new PortalAnswerError(`${step} (expected screen ${screenId} at ${answer.url})`, answer.status, answer.body);
  }
}

/** B-01 → B-02 → 完了 (B-03) with the form a person would fill in. */
async function register(browser: PortalBrowser, index: number): Promise<void> {
  expectScreen(await browser.get('/account/new'), 'B-01', 'GET /account/new');
  const email = `bench${index + 1}@example.com`;
  const form = { nickname: `ベンチ${fullWidth(index + 1)}`, email1: email, email1_confirm: email, email2: '', email2_confirm: '', language_ja: 'on', notify_info: 'on' };
  expectScreen(await browser.postForm('/account/confirm', form), 'B-02', 'POST /account/confirm');
  expectScreen(await browser.postForm('/account/register', {}), 'B-03', 'POST /account/register');
}

/**
 * One whole login from a new browser session, ending on the main menu. Returns whether it went
 * through registration (only the first login of a card does).
 */
async function logIn(baseUrl: string, card: BenchCard, index: number): Promise<'registered' | 'known'> {
  const browser = new PortalBrowser(baseUrl);
  expectScreen(await browser.get('/login'), 'L-01', 'GET /login');
  if (!card.reader.cardPresent()) throw new Error(`no card in ${card.reader.name}`);
  const { nonce } = await browser.postJson<{ nonce: string }>('/api/login/nonce', {});
  const signed = await agentSign(card, nonce);
  let { next } = await browser.postJson<{ next: string }>('/api/login', { nonce, ...signed });
  let registered = false;
  if (next === 'card-info') ({ next } = await browser.postJson<{ next: string }>('/api/login/link', await agentReadCardInfo(card)));
  if (next === '/account/new') {
    await register(browser, index);
    registered = true;
    next = '/menu';
  }
  expectScreen(await browser.get(next), 'A-02', `GET ${next}`);
  return registered ? 'registered' : 'known';
}

export async function measurePortalLogins(options: PortalLoginOptions): Promise<PortalLoginRate> {
  const say = options.progress;
  const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-bench-portal-'));
  const readers: Reader[] = [];
  try {
    say(`portal: issuing ${options.cards} cards from a throwaway test CA`);
    const ca = initCa(join(dir, 'ca'));
    const cards: BenchCard[] = [];
    for (let i = 0; i < options.cards; i++) {
      const definition = cardDefinition(i);
      const { image } = await issueCard(ca, definition);
      const reader = new InProcessReader(`Bench reader ${i}`, createMemoryCard(image));
      readers.push(reader);
      cards.push({ reader, definition });
    }
    const portal = await startPortal({
      ...portalOptionsFromCaDir(join(dir, 'ca'), { db: ':memory:', testMode: true, loginRateLimit: false }),
      port: 0,
    });
    try {
      say(`portal: warm-up — first login and account registration of each card, then one more login each (${portal.url})`);
      const first = await Promise.all(cards.map((card, i) => logIn(portal.url, card, i)));
      const unregistered = first.filter((f) => f !== 'registered').length;
      if (unregistered > 0) throw new Error(`${unregistered} cards were already known to a fresh portal`);
      const second = await Promise.all(cards.map((card, i) => logIn(portal.url, card, i)));
      if (second.some((s) => s !== 'known')) throw new Error('a registered card was sent to registration again');

      say(`portal: ${options.cards} clients logging in for ${options.seconds} s`);
      const times: number[] = [];
      const start = performance.now();
      const deadline = start + options.seconds * 1000;
      const ticker = setInterval(() => say(`portal: ${times.length} logins in ${((performance.now() - start) / 1000).toFixed(0)} s`), 1000);
      try {
        await Promise.all(
          cards.map(async (card, i) => {
            while (performance.now() < deadline) {
              const t = performance.now();
              if ((await logIn(portal.url, card, i)) !== 'known') throw new Error('a registered card was sent to registration again');
              times.push(performance.now() - t);
            }
          }),
        );
      } finally {
        clearInterval(ticker);
      }
      const seconds = (performance.now() - start) / 1000;
      times.sort((a, b) => a - b);
      return {
        cards: options.cards,
        count: times.length,
        seconds,
        perSec: times.length / seconds,
        p50Ms: percentile(times, 50),
        p95Ms: percentile(times, 95),
        p99Ms: percentile(times, 99),
      };
    } finally {
      await portal.close();
    }
  } finally {
    await Promise.all(readers.map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}
