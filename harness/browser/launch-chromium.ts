/**
 * Launches Chromium for scenarios and tests: Debian's /usr/bin/chromium when it is there (the
 * registries here cannot download Playwright's own build), else the browser Playwright installed.
 * The flags keep Chromium from reaching out to the network at start-up, which a closed machine
 * answers with refused connections.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, LaunchOptions } from 'playwright-core';

export const kChromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

const kSystemChromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumExecutable(): string | undefined {
  const fromEnv = process.env.JPKI_HIL_CHROMIUM;
  if (fromEnv) return fromEnv;
  return kSystemChromium.find((p) => existsSync(p));
}

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

function launchOptions(options: { headless?: boolean; slowMo?: number }): LaunchOptions & { headless: boolean } {
  const executablePath = chromiumExecutable();
  return {
    headless: options.headless ?? true,
    args: kChromiumArgs,
    ...(options.slowMo ? { slowMo: options.slowMo } : {}),
    ...(executablePath ? { executablePath } : {}),
  };
}

function launchFailure(e: unknown): Error {
  const executablePath = chromiumExecutable();
  const hint = executablePath
    ? `Chromium at ${executablePath} did not start`
    : 'no Chromium found: install Debian\'s (sudo apt-get install -y chromium), set JPKI_HIL_CHROMIUM, or install Playwright\'s browser';
  return new Error(`${hint}: ${(e as Error).message.split('\n')[0]}`);
}

/**
 * A browser for many isolated contexts (the runner gives each scenario its own): Playwright keeps
 * its profile in a fresh temporary directory and removes it on close.
 */
export async function launchBrowser(options: { headless?: boolean; slowMo?: number } = {}): Promise<Browser> {
  try {
    // Loaded when a browser is wanted: playwright-core takes half a second to import.
    const { chromium } = await import('playwright-core');
    return await chromium.launch(launchOptions(options));
  } catch (e) {
    throw launchFailure(e);
  }
}

/** A persistent context in a fresh user-data directory, removed again on close. */
export async function launchChromium(options: { headless?: boolean; slowMo?: number } = {}): Promise<LaunchedBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'jpki-hil-chromium-'));
  let context: BrowserContext;
  try {
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(userDataDir, launchOptions(options));
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw launchFailure(e);
  }
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
