/**
 * A bounded soak of `jpki-hil portal serve`: the portal runs as its own process (as a lab runs
 * it), with an SQLite file, and takes mixed traffic for a while — PC logins of registered cards
 * (each ending with ログアウト), QR logins completed by a phone and claimed by the page, event
 * streams opened and dropped, login pages loaded and left, and the first login and registration of
 * new cards now and then. The portal's resident memory (/proc/<pid>/status VmRSS) and its database
 * (the file with its WAL) are read after the warm-up and at the end: what a soak is for is that
 * neither grows with the traffic. No figure here is an assertion; the bench JSON carries them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createMemoryCard, initCa, issueCard, kDefaultDefinition, type CardDefinition } from '../../emulator/index.js';
import { fromBase64, toBase64 } from '../../iso7816/bytes.js';
import { readCardInfo, signNonceWithAuthKey } from '../agents/card-actions.js';
import { InProcessReader } from '../readers/in-process-reader.js';
import { PortalBrowser } from './portal-browser.js';

export interface SoakOptions {
  seconds: number;
  progress: (line: string) => void;
}

export interface SoakResult {
  seconds: number;
  /** What was done, by kind. */
  counts: { pcLogins: number; qrLogins: number; streams: number; pages: number; registrations: number; refused: number; errors: number };
  rss: { startBytes: number | null; endBytes: number | null };
  /** Pages in use (the growth figure) and the files on disk, whose WAL comes and goes with checkpoints. */
  db: { startBytes: number; endBytes: number; startFileBytes: number; endFileBytes: number };
  /** End over start, minus one (0.05: 5 % more). */
  rssGrowth: number | null;
  dbGrowth: number;
}

interface SoakCard {
  reader: InProcessReader;
  definition: CardDefinition;
}

const kBin = fileURLToPath(new URL('../../../bin/jpki-hil.js', import.meta.url));

function definitionFor(i: number): CardDefinition {
  return { ...kDefaultDefinition, id: `soak-${i + 1}`, identity: { ...kDefaultDefinition.identity, name: `耐久\u3000${String.fromCharCode(0x30a2 + i)}子`, myNumber: undefined } };
}

function rssOf(pid: number | undefined): number | null {
  if (pid === undefined || !existsSync(`/proc/${pid}/status`)) return null;
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kb === undefined ? null : Number(kb) * 1024;
}

/** The database on disk (file, WAL and index) and the bytes of the pages it uses (what the data takes, WAL included). */
function dbSize(path: string): { fileBytes: number; usedBytes: number } {
  const fileBytes = ['', '-wal', '-shm'].reduce((sum, suffix) => sum + (existsSync(path + suffix) ? statSync(path + suffix).size : 0), 0);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const page = Number(db.pragma('page_size', { simple: true }));
    const used = Number(db.pragma('page_count', { simple: true })) - Number(db.pragma('freelist_count', { simple: true }));
    return { fileBytes, usedBytes: used * page };
  } finally {
    db.close();
  }
}

async function sign(card: SoakCard, nonce: string): Promise<{ signature: string; certificate: string }> {
  const connection = await card.reader.connect();
  try {
    const signed = await signNonceWithAuthKey(connection, card.definition.pins.auth, fromBase64(nonce));
    return { signature: toBase64(signed.signature), certificate: toBase64(signed.certificate) };
  } finally {
    await connection.disconnect('reset');
  }
}

async function cardInfo(card: SoakCard): Promise<{ basic4: string; basic4Signature: string }> {
  const connection = await card.reader.connect();
  try {
    const files = await readCardInfo(connection, card.definition.pins.kenhojo);
    return { basic4: toBase64(files.basic4), basic4Signature: toBase64(files.basic4Signature) };
  } finally {
    await connection.disconnect('reset');
  }
}

/** PC login (registering on the first one), the menu, ログアウト. */
async function pcLogin(url: string, card: SoakCard, index: number): Promise<'registered' | 'known'> {
  const browser = new PortalBrowser(url);
  await browser.get('/login');
  const { nonce } = await browser.postJson<{ nonce: string }>('/api/login/nonce', {});
  let { next } = await browser.postJson<{ next: string }>('/api/login', { nonce, ...(await sign(card, nonce)) });
  if (next === 'card-info') ({ next } = await browser.postJson<{ next: string }>('/api/login/link', await cardInfo(card)));
  let registered = false;
  if (next === '/account/new') {
    await browser.get('/account/new');
    const email = `soak${index}@example.com`;
    await browser.postForm('/account/confirm', { nickname: `耐久${index}`, email1: email, email1_confirm: email, language_ja: 'on' });
    await browser.postForm('/account/register', {});
    registered = true;
  } else {
    await browser.get(next);
  }
  await browser.postForm('/logout', {});
  return registered ? 'registered' : 'known';
}

/** QR login: the page shows the code and listens, the phone signs, the page claims, ログアウト. */
async function qrLogin(url: string, card: SoakCard): Promise<void> {
  const browser = new PortalBrowser(url);
  await browser.get('/login');
  const shown = await browser.postJson<{ id: string; qr: string }>('/api/qr/sessions', {});
  const code = new URL(shown.qr);
  const s = code.searchParams.get('s')!;
  const t = code.searchParams.get('t')!;
  const post = async <T>(step: string, body: object): Promise<T> => {
    const response = await fetch(`${url}/api/qr/login/${step}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`QR ${step}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };
  const { nonce } = await post<{ nonce: string }>('challenge', { s, t });
  await post('complete', { s, t, nonce, ...(await sign(card, nonce)) });
  await browser.get(`/login/qr/${shown.id}`);
  await browser.postForm('/logout', {});
}

/**
 * A page of one of a few browsers that opens a QR code and its event stream and goes away before
 * anything happens (a tab left behind): its QR sessions wait till they expire, up to the
 * per-session cap, past which the portal answers 429.
 */
async function droppedStream(url: string, browser: PortalBrowser): Promise<void> {
  if (!browser.csrfToken) await browser.get('/login');
  const shown = await browser.postJson<{ id: string }>('/api/qr/sessions', {});
  const controller = new AbortController();
  const response = await fetch(`${url}/api/qr/sessions/${shown.id}/events`, { headers: browser.cookieHeader(), signal: controller.signal });
  await response.body?.getReader().read();
  controller.abort();
}

async function startServe(caDir: string, db: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [kBin, 'portal', 'serve', '--ca', caDir, '--db', db, '--port', '0', '--rate-limit', '0', '--crl-mode', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  for (let i = 0; i < 400; i++) {
    const url = /portal: (http:\/\/\S+?)\/\s/.exec(out)?.[1];
    if (url) return { child, url };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  throw new Error(`portal serve did not start: ${out.slice(0, 500)}`);
}

export async function soakPortal(options: SoakOptions): Promise<SoakResult> {
  const say = options.progress;
  const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-soak-'));
  const cards: SoakCard[] = [];
  try {
    const ca = initCa(join(dir, 'ca'));
    // Two cards that keep logging in, and a few more whose first login and registration come during the soak.
    const total = 6;
    say(`soak: issuing ${total} cards`);
    for (let i = 0; i < total; i++) {
      const definition = definitionFor(i);
      const { image } = await issueCard(ca, definition);
      cards.push({ reader: new InProcessReader(`Soak reader ${i}`, createMemoryCard(image)), definition });
    }
    const db = join(dir, 'portal.db');
    const { child, url } = await startServe(join(dir, 'ca'), db);
    try {
      const counts = { pcLogins: 0, qrLogins: 0, streams: 0, pages: 0, registrations: 0, refused: 0, errors: 0 };
      const run = async (what: keyof typeof counts, work: () => Promise<unknown>): Promise<void> => {
        try {
          await work();
          counts[what] += 1;
        } catch (e) {
          if (/HTTP (429|503)/.test((e as Error).message)) counts.refused += 1;
          else counts.errors += 1;
        }
      };
      say(`soak: warm-up at ${url}`);
      for (let i = 0; i < 2; i++) await pcLogin(url, cards[i]!, i);
      for (let i = 0; i < 20; i++) await run('pcLogins', () => pcLogin(url, cards[i % 2]!, i % 2));
      const start = { rss: rssOf(child.pid), db: dbSize(db) };
      say(`soak: ${options.seconds} s of mixed traffic (RSS ${start.rss ?? '?'} B, database ${start.db.usedBytes} B)`);
      const idlers = [0, 1, 2, 3].map(() => new PortalBrowser(url));
      const began = performance.now();
      const deadline = began + options.seconds * 1000;
      const every = Math.max(1, Math.floor((options.seconds * 1000) / (total - 1)));
      let nextNewcomer = 2;
      const loop = async (body: (round: number) => Promise<void>): Promise<void> => {
        for (let round = 0; performance.now() < deadline; round++) await body(round);
      };
      await Promise.all([
        loop(async () => run('pcLogins', () => pcLogin(url, cards[0]!, 0))),
        loop(async () => run('qrLogins', () => qrLogin(url, cards[1]!))),
        loop(async (round) => {
          await run('streams', () => droppedStream(url, idlers[round % idlers.length]!));
          await new Promise((r) => setTimeout(r, 20));
        }),
        loop(async () => run('pages', async () => (await fetch(`${url}/login`)).text())),
        loop(async () => {
          if (nextNewcomer < total && performance.now() - began >= (nextNewcomer - 1) * every) {
            const i = nextNewcomer++;
            await run('registrations', async () => {
              if ((await pcLogin(url, cards[i]!, i)) !== 'registered') throw new Error('a new card was known');
            });
          } else {
            await new Promise((r) => setTimeout(r, 100));
          }
        }),
      ]);
      const end = { rss: rssOf(child.pid), db: dbSize(db) };
      const seconds = (performance.now() - began) / 1000;
      say(`soak: done — ${JSON.stringify(counts)}; RSS ${end.rss ?? '?'} B, database ${end.db.usedBytes} B`);
      return {
        seconds,
        counts,
        rss: { startBytes: start.rss, endBytes: end.rss },
        db: { startBytes: start.db.usedBytes, endBytes: end.db.usedBytes, startFileBytes: start.db.fileBytes, endFileBytes: end.db.fileBytes },
        rssGrowth: start.rss && end.rss ? end.rss / start.rss - 1 : null,
        dbGrowth: start.db.usedBytes > 0 ? end.db.usedBytes / start.db.usedBytes - 1 : 0,
      };
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    await Promise.all(cards.map((c) => c.reader.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}
