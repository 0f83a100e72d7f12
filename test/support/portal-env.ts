/**
 * A whole login set-up for browser tests: a card issued by a fresh test CA, a reader holding it
 * (in-process, or any other Reader), the PC agent on an ephemeral port, the portal listening on
 * loopback and trusting that CA through its files, and Chromium.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createMemoryCard, type CardImage } from '../../emulator/index.js';
import { startPcAgent, type PinRequest } from '../../harness/agents/pc-agent/pc-agent.js';
import { launchChromium, type LaunchedBrowser } from '../../harness/browser/launch-chromium.js';
import { portalOptionsFromCaDir } from '../../harness/portal/mynaportal/portal-options.js';
import { startPortal, type RunningPortal } from '../../harness/portal/mynaportal/server.js';
import { InProcessReader } from '../../harness/readers/in-process-reader.js';
import type { Reader } from '../../harness/readers/reader.js';
import { issueFixture, tempDir, type IssuedFixture } from './cards.js';

export interface PortalEnv {
  fixture: IssuedFixture;
  reader: Reader;
  portal: RunningPortal;
  agentUrl: string;
  browser: LaunchedBrowser;
  /** PINs the agent gives, in order; when empty it gives the card definition's auth PIN. */
  pins: string[];
  /** Every PIN request the agent made. */
  pinRequests: PinRequest[];
  /** Moves the portal's clock (expiries of nonces, QR codes, sessions) forward. */
  advanceClock(ms: number): void;
  page(): Promise<Page>;
  /** Puts another card (e.g. a renewed one) into the in-process reader. */
  swapCard(image: CardImage): void;
  close(): Promise<void>;
}

export async function startPortalEnv(options: { card?: string; reader?: (image: CardImage) => Promise<Reader>; dir?: string } = {}): Promise<PortalEnv> {
  const dir = options.dir ? { path: options.dir, remove: () => undefined } : tempDir('jpki-hil-portal-');
  const fixture = await issueFixture(dir.path, options.card ?? 'adult');
  const reader = options.reader ? await options.reader(fixture.image) : new InProcessReader('Emulated reader 0', createMemoryCard(fixture.image));
  const pins: string[] = [];
  let clockOffset = 0;
  const pinRequests: PinRequest[] = [];
  const agent = await startPcAgent({
    reader,
    port: 0,
    askPin: async (request) => {
      pinRequests.push(request);
      return pins.shift() ?? (request.pin === 'kenhojo' ? fixture.definition.pins.kenhojo : fixture.definition.pins.auth);
    },
  });
  const portal = await startPortal({
    ...portalOptionsFromCaDir(join(dir.path, 'ca'), { db: ':memory:', pcAgentUrl: agent.url, testMode: true, now: () => new Date(Date.now() + clockOffset) }),
    port: 0,
  });
  const browser = await launchChromium();
  return {
    fixture,
    reader,
    portal,
    agentUrl: agent.url,
    browser,
    pins,
    pinRequests,
    advanceClock: (ms) => {
      clockOffset += ms;
    },
    page: async () => {
      const page = await browser.context.newPage();
      page.setDefaultTimeout(15_000);
      return page;
    },
    swapCard: (image) => {
      if (!(reader instanceof InProcessReader)) throw new Error('swapCard needs the in-process reader');
      reader.remove();
      reader.insert(createMemoryCard(image));
    },
    close: async () => {
      await browser.close();
      await portal.close();
      await agent.close();
      await reader.close();
      dir.remove();
    },
  };
}

/**
 * Logs `page` in with the card in the PC agent's reader, registering an account on the first login
 * (B-01 → B-02 → 完了), and leaves it on the main menu.
 */
export async function logInWithCard(env: PortalEnv, page: Page, nickname = 'テスト利用者'): Promise<void> {
  await page.goto(`${env.portal.url}/login`);
  await page.getByTestId('login-ic-card').click();
  await page.waitForURL(/\/(menu|account\/new)$/);
  if (page.url().endsWith('/account/new')) {
    await page.getByTestId('input-nickname').fill(nickname);
    await page.getByTestId('input-email1').fill('test@example.com');
    await page.getByTestId('input-email1Confirm').fill('test@example.com');
    await page.getByTestId('confirm').click();
    await page.getByTestId('register').click();
    await page.getByTestId('menu-link').click();
  }
  await page.waitForURL(/\/menu$/);
}
