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
 * (B-01 → B-02 → 完了), and then (in populations up to 64 cards) one plain login; the measurement
 * starts after that. The portal trusts a throwaway test CA through its files (CRLs included) like
 * any relying party, and runs without its login rate limit (`loginRateLimit: false`), which would
 * otherwise cap one client address at 60 login requests a minute. The clients and their cards run
 * in a worker thread (login-worker.ts), as a load generator would on another machine, so the
 * portal's event loop is its own: compare the figure with openssl on one process. Clients take
 * turns over the cards (client j: cards j, j + K, …), so a population of 1,000 cards is spread
 * evenly while the number of clients — the load — stays the same.
 *
 * The WebSocket hop between page and agent and the page's static script and style sheet (cached
 * by a browser after the first visit) are left out.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createMemoryCard, initCa, issueCard, kDefaultDefinition, type CardDefinition, type CardImage, type TestCa } from '../../emulator/index.js';
import { fromBase64, toBase64 } from '../../iso7816/bytes.js';
import { pinTriesLeft, readCardInfo, signNonceWithAuthKey } from '../agents/card-actions.js';
import { portalOptionsFromCaDir } from '../portal/mynaportal/portal-options.js';
import { startPortal } from '../portal/mynaportal/server.js';
import { InProcessReader } from '../readers/in-process-reader.js';
import type { Reader } from '../readers/reader.js';
import { epochMs } from './apdu-loops.js';
import { kPackageRoot } from '../package-root.js';
import { nextMessage } from './worker-messages.js';
import { percentile } from '../stats/percentile.js';
import { PortalAnswerError, PortalBrowser } from './portal-browser.js';

export interface PortalLoginRate {
  cards: number;
  /** Concurrent load clients (in a worker thread of their own). */
  clients: number;
  /** Logins completed in the measurement (warm-up and registrations not counted). */
  count: number;
  seconds: number;
  perSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Seconds to issue the cards (from the key source given). */
  issueSeconds: number;
  /** This process's resident memory after the warm-up: the portal and the cards' images. */
  rssBytes: number;
  /** Where a login's time goes: mean milliseconds per login of each step, as the clients saw it. */
  phasesMs: Record<LoginPhase, number>;
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
/** The steps of one login, as the client sees them. */
export const kLoginPhases = ['GET /login', 'POST /api/login/nonce', 'agent sign (card)', 'POST /api/login', 'GET /menu'] as const;
export type LoginPhase = (typeof kLoginPhases)[number];

/**
 * One whole login from a new browser session, ending on the main menu. Returns whether it went
 * through registration (only the first login of a card does). With `phases`, adds each step's
 * milliseconds to it.
 */
async function logIn(baseUrl: string, card: BenchCard, index: number, phases?: Record<LoginPhase, number>): Promise<'registered' | 'known'> {
  let mark = performance.now();
  const lap = (phase: LoginPhase): void => {
    const now = performance.now();
    if (phases) phases[phase] += now - mark;
    mark = now;
  };
  const browser = new PortalBrowser(baseUrl);
  expectScreen(await browser.get('/login'), 'L-01', 'GET /login');
  lap('GET /login');
  if (!card.reader.cardPresent()) throw new Error(`no card in ${card.reader.name}`);
  const { nonce } = await browser.postJson<{ nonce: string }>('/api/login/nonce', {});
  lap('POST /api/login/nonce');
  const signed = await agentSign(card, nonce);
  lap('agent sign (card)');
  let { next } = await browser.postJson<{ next: string }>('/api/login', { nonce, ...signed });
  lap('POST /api/login');
  let registered = false;
  if (next === 'card-info') ({ next } = await browser.postJson<{ next: string }>('/api/login/link', await agentReadCardInfo(card)));
  if (next === '/account/new') {
    await register(browser, index);
    registered = true;
    next = '/menu';
  }
  mark = performance.now();
  expectScreen(await browser.get(next), 'A-02', `GET ${next}`);
  lap('GET /menu');
  return registered ? 'registered' : 'known';
}

export interface LoginWorkerInput {
  baseUrl: string;
  cards: { image: CardImage; definition: CardDefinition; index: number }[];
  /** Concurrent clients in this worker; client j logs in with cards j, j + clients, … in turn. */
  clients: number;
  /** Check with a second login of every card that registration took (small populations only). */
  checkSecondLogin: boolean;
  /**
   * Plain logins for this long after the registrations, not counted: every population size starts
   * its window equally warm (a large population's registrations alone would warm it far more).
   */
  warmupSeconds: number;
}

/** Messages of the login worker: `ready` after the warm-up, `window` from the bench, `done` with each login's time. */
export type LoginWorkerMessage =
  | { kind: 'ready' }
  | { kind: 'window'; startMs: number; endMs: number }
  | { kind: 'done'; times: number[]; phases: Record<LoginPhase, number> }
  | { kind: 'failed'; message: string };

/**
 * The load clients' side, run in a worker thread (login-worker.ts) so that the portal has its
 * event loop to itself, as it would with a load generator on another machine: every card's first
 * login and registration, then logins over the shared window.
 */
export async function runLoginClients(
  input: LoginWorkerInput,
  waitForWindow: () => Promise<{ startMs: number; endMs: number }>,
  ready: () => void,
): Promise<{ times: number[]; phases: Record<LoginPhase, number> }> {
  const cards: BenchCard[] = input.cards.map((c) => ({
    reader: new InProcessReader(`Bench reader ${c.index}`, createMemoryCard(c.image)),
    definition: c.definition,
  }));
  try {
    const lanes = Array.from({ length: input.clients }, (_, j) => cards.map((card, i) => ({ card, index: input.cards[i]!.index })).filter((_, i) => i % input.clients === j));
    await Promise.all(
      lanes.map(async (lane) => {
        for (const { card, index } of lane) {
          if ((await logIn(input.baseUrl, card, index)) !== 'registered') throw new Error(`card ${index + 1} was already known to a fresh portal`);
          if (input.checkSecondLogin && (await logIn(input.baseUrl, card, index)) !== 'known') throw new Error('a registered card was sent to registration again');
        }
      }),
    );
    const warmEnd = epochMs() + input.warmupSeconds * 1000;
    await Promise.all(
      lanes.map(async (lane) => {
        for (let turn = 0; lane.length > 0 && epochMs() < warmEnd; turn++) {
          const { card, index } = lane[turn % lane.length]!;
          if ((await logIn(input.baseUrl, card, index)) !== 'known') throw new Error('a registered card was sent to registration again');
        }
      }),
    );
    ready();
    const { startMs, endMs } = await waitForWindow();
    const wait = startMs - epochMs();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const times: number[] = [];
    const phases = Object.fromEntries(kLoginPhases.map((p) => [p, 0])) as Record<LoginPhase, number>;
    await Promise.all(
      lanes.map(async (lane) => {
        for (let turn = 0; lane.length > 0 && epochMs() < endMs; turn++) {
          const { card, index } = lane[turn % lane.length]!;
          const t = performance.now();
          if ((await logIn(input.baseUrl, card, index, phases)) !== 'known') throw new Error('a registered card was sent to registration again');
          times.push(performance.now() - t);
        }
      }),
    );
    return { times, phases };
  } finally {
    await Promise.all(cards.map((c) => c.reader.close()));
  }
}

export interface PortalLoginOptions {
  cards: number;
  /** Concurrent load clients (default: one per card, at most 16). */
  clients?: number;
  /** Length of the measurement; the warm-up comes before it. */
  seconds: number;
  progress: (line: string) => void;
  /** Plain logins before the measurement, not counted (default 1 s). */
  warmupSeconds?: number;
  /** Where the cards' keys come from (default: fresh keys; the population uses the key pool). */
  cardKey?: () => Promise<KeyObject>;
}

/**
 * Cards issued per second with fresh keys (two RSA-2048 key pairs each, as a real card has), on
 * `lanes` lanes at once: the issuance figure, next to `openssl genpkey` on as many lanes.
 */
export async function measureIssuance(options: { seconds: number; lanes: number }): Promise<{ cards: number; seconds: number; cardsPerSec: number; keysPerSec: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-bench-issue-'));
  try {
    const ca = initCa(join(dir, 'ca'));
    await issueCard(ca, cardDefinition(0)); // makes the card-info AP key, once per CA
    let cards = 0;
    const start = performance.now();
    const deadline = start + options.seconds * 1000;
    await Promise.all(
      Array.from({ length: options.lanes }, async () => {
        while (performance.now() < deadline) {
          await issueCard(ca, cardDefinition(++cards));
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    return { cards, seconds, cardsPerSec: cards / seconds, keysPerSec: (2 * cards) / seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Cards `count` from a throwaway CA: the first alone (it makes the card-info AP key), the rest at once. */
async function issueBenchCards(ca: TestCa, count: number, cardKey: (() => Promise<KeyObject>) | undefined): Promise<{ image: CardImage; definition: CardDefinition; index: number }[]> {
  const issueOne = async (index: number): Promise<{ image: CardImage; definition: CardDefinition; index: number }> => {
    const definition = cardDefinition(index);
    const { image } = await issueCard(ca, definition, new Date(), cardKey ? { cardKey } : {});
    return { image, definition, index };
  };
  const first = await issueOne(0);
  const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => issueOne(i + 1)));
  return [first, ...rest];
}

/**
 * The compiled worker next to this file, or — when this runs from the TypeScript sources, as in
 * the tests — the one in dist/.
 */
function loginWorkerScript(): URL {
  const here = new URL('./login-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = join(kPackageRoot, 'dist', 'harness', 'bench', 'login-worker.js');
  if (existsSync(built)) return pathToFileURL(built);
  throw new Error(`${built} is missing: build with npm run setup`);
}

export async function measurePortalLogins(options: PortalLoginOptions): Promise<PortalLoginRate> {
  const say = options.progress;
  const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-bench-portal-'));
  const script = loginWorkerScript();
  try {
    say(`portal: issuing ${options.cards} cards from a throwaway test CA`);
    const ca = initCa(join(dir, 'ca'));
    const issueStart = performance.now();
    const cards = await issueBenchCards(ca, options.cards, options.cardKey);
    const issueSeconds = (performance.now() - issueStart) / 1000;
    const clients = Math.min(options.clients ?? Math.min(options.cards, 16), options.cards);
    const portal = await startPortal({
      ...portalOptionsFromCaDir(join(dir, 'ca'), { db: ':memory:', testMode: true, loginRateLimit: false }),
      port: 0,
    });
    const worker = new Worker(script, {
      workerData: { baseUrl: portal.url, cards, clients, checkSecondLogin: options.cards <= 64, warmupSeconds: options.warmupSeconds ?? 1 } satisfies LoginWorkerInput,
    });
    try {
      const next = <K extends LoginWorkerMessage['kind']>(kind: K): Promise<Extract<LoginWorkerMessage, { kind: K }>> => nextMessage<LoginWorkerMessage, K>(worker, kind);
      say(`portal: warm-up — first login and account registration of each card, then ${options.warmupSeconds ?? 1} s of logins (${portal.url}, ${clients} clients in a worker thread)`);
      await next('ready');
      const rssBytes = process.memoryUsage().rss;
      say(`portal: ${clients} clients logging in for ${options.seconds} s over ${options.cards} cards`);
      const startMs = epochMs() + 20;
      const endMs = startMs + options.seconds * 1000;
      const done = next('done');
      worker.postMessage({ kind: 'window', startMs, endMs } satisfies LoginWorkerMessage);
      const ticker = setInterval(() => say(`portal: ${((epochMs() - startMs) / 1000).toFixed(0)} s`), 1000);
      let times: number[];
      let phases: Record<LoginPhase, number>;
      try {
        ({ times, phases } = await done);
      } finally {
        clearInterval(ticker);
      }
      const seconds = (epochMs() - startMs) / 1000;
      times.sort((a, b) => a - b);
      return {
        cards: options.cards,
        clients,
        count: times.length,
        seconds,
        perSec: times.length / seconds,
        p50Ms: percentile(times, 50),
        p95Ms: percentile(times, 95),
        p99Ms: percentile(times, 99),
        issueSeconds,
        rssBytes,
        phasesMs: Object.fromEntries(kLoginPhases.map((p) => [p, times.length ? Math.round((phases[p] / times.length) * 1000) / 1000 : 0])) as Record<LoginPhase, number>,
      };
    } finally {
      await worker.terminate();
      await portal.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
