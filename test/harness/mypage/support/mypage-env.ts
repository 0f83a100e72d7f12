/**
 * Set-ups for the My Page tests: a test CA with one issued card (whose serials a test may revoke
 * before the portal starts), My Page trusting that CA through its files, and the xID-like app
 * holding the emulated card; either in-process through `inject()` with a movable clock, or
 * listening on loopback with Chromium.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { createMemoryCard, initCa, issueCard, type CardDefinition, type IssuedCardImage, type TestCa } from '../../../../emulator/index.js';
import { XidApp } from '../../../../harness/agents/phone/xid-app.js';
import { launchChromium, type LaunchedBrowser } from '../../../../harness/browser/launch-chromium.js';
import { buildMyPageApp } from '../../../../harness/portal/mypage/app.js';
import type { OutboxMessage } from '../../../../harness/portal/mypage/codes.js';
import { startMyPage, type RunningMyPage } from '../../../../harness/portal/mypage/server.js';
import { portalOptionsFromCaDir } from '../../../../harness/portal/mynaportal/portal-options.js';
import type { Verifier } from '../../../../harness/portal/verification/types.js';
import type { HolderDirectory } from '../../../../harness/portal/shared/holders.js';
import { InProcessReader } from '../../../../harness/readers/in-process-reader.js';
import { definition, tempDir } from '../../../support/cards.js';
import { InjectBrowser, injectFetch, TestClock } from '../../citizen/support/citizen-env.js';

export const kMyPageUrl = 'http://sendai.test';

export interface CardSetup {
  ca: TestCa;
  issued: IssuedCardImage;
  definition: CardDefinition;
}

interface WorldOptions {
  /** A card definition under scenarios/cards/ (default adult). */
  card?: string;
  /** Runs after issue, before the portal loads the CA's files (e.g. to revoke a certificate). */
  prepare?: (setup: CardSetup) => void;
}

async function setUp(prefix: string, options: WorldOptions): Promise<{ dir: ReturnType<typeof tempDir>; setup: CardSetup; verifier: Verifier; cardInfoPublicKey: Uint8Array; holders: HolderDirectory; reader: InProcessReader }> {
  const dir = tempDir(prefix);
  const ca = initCa(join(dir.path, 'ca'));
  const def = definition(options.card ?? 'adult');
  const setup = { ca, issued: await issueCard(ca, def), definition: def };
  options.prepare?.(setup);
  const trust = portalOptionsFromCaDir(join(dir.path, 'ca'), { db: ':memory:' });
  const reader = new InProcessReader('Emulated reader 0', createMemoryCard(setup.issued.image));
  return { dir, setup, verifier: trust.verifier, cardInfoPublicKey: trust.cardInfoPublicKey as Uint8Array, holders: trust.holders, reader };
}

function cardPins(def: CardDefinition): { auth: string; kenhojo: string } {
  return { auth: def.pins.auth, kenhojo: def.pins.kenhojo };
}

export interface InjectWorld {
  setup: CardSetup;
  clock: TestClock;
  app: FastifyInstance;
  reader: InProcessReader;
  /** A fresh xID-like app (not yet set up) on the phone holding the card. */
  xidApp(pins?: { auth: string; kenhojo?: string }): XidApp;
  browser(): InjectBrowser;
  outbox(): Promise<OutboxMessage[]>;
  close(): Promise<void>;
}

export async function injectWorld(options: WorldOptions & { testMode?: boolean } = {}): Promise<InjectWorld> {
  const { dir, setup, verifier, cardInfoPublicKey, holders, reader } = await setUp('jpki-hil-mypage-', options);
  const clock = new TestClock();
  const app = await buildMyPageApp({ publicUrl: kMyPageUrl, verifier, cardInfoPublicKey, holders, now: clock.now, testMode: options.testMode ?? true });
  return {
    setup,
    clock,
    app,
    reader,
    xidApp: (pins = cardPins(setup.definition)) => new XidApp({ reader, cardPins: pins, fetch: injectFetch(app) }),
    browser: () => new InjectBrowser({ [kMyPageUrl]: app }),
    outbox: async () => (await app.inject({ method: 'GET', url: '/api/test/outbox' })).json<{ messages: OutboxMessage[] }>().messages,
    close: async () => {
      await app.close();
      await reader.close();
      dir.remove();
    },
  };
}

export interface BrowserWorld {
  setup: CardSetup;
  myPage: RunningMyPage;
  xidApp: XidApp;
  browser: LaunchedBrowser;
  page(): Promise<Page>;
  outbox(): Promise<OutboxMessage[]>;
  close(): Promise<void>;
}

export async function browserWorld(options: WorldOptions = {}): Promise<BrowserWorld> {
  const { dir, setup, verifier, cardInfoPublicKey, holders, reader } = await setUp('jpki-hil-mypage-browser-', options);
  const myPage = await startMyPage({ verifier, cardInfoPublicKey, holders, testMode: true });
  const browser = await launchChromium();
  return {
    setup,
    myPage,
    xidApp: new XidApp({ reader, cardPins: cardPins(setup.definition) }),
    browser,
    page: async () => {
      const page = await browser.context.newPage();
      page.setDefaultTimeout(15_000);
      return page;
    },
    outbox: async () => ((await (await fetch(`${myPage.url}/api/test/outbox`)).json()) as { messages: OutboxMessage[] }).messages,
    close: async () => {
      await browser.close();
      await myPage.close();
      await reader.close();
      dir.remove();
    },
  };
}
