/**
 * Browser steps: what a person does and sees on the portal's pages, through Playwright with the
 * step's time limit.
 */
import type { Locator, Page } from 'playwright-core';
import { gotoSettled } from '../../browser/navigation.js';
import { harnessDefect, productDefect } from '../failures.js';
import type { ScenarioWorld } from '../world.js';
import type { StepRun } from './step-api.js';
import { excerpt, sleep } from './step-util.js';

export async function target(page: Page, testId: string | undefined, text: string | undefined): Promise<Locator> {
  if (testId) return page.getByTestId(testId);
  const named = page.getByRole('button', { name: text!, exact: true }).or(page.getByRole('link', { name: text!, exact: true }));
  if ((await named.count()) > 0) return named.first();
  return page.getByText(text!, { exact: false }).first();
}

export async function expectText(page: Page, testId: string | undefined, text: string | undefined, pattern: string | undefined, run: StepRun): Promise<void> {
  let regex: RegExp | undefined;
  if (pattern !== undefined) {
    try {
      regex = new RegExp(pattern);
    } catch (e) {
      throw harnessDefect(`pattern /${pattern}/ is not a JavaScript regular expression: ${(e as Error).message}`);
    }
  }
  const where = testId ? `[data-testid=${testId}]` : 'the page';
  const read = async (): Promise<string | undefined> => {
    const locator = testId ? page.getByTestId(testId).first() : page.locator('body');
    if ((await locator.count()) === 0) return undefined;
    return ((await locator.innerText({ timeout: 1000 }).catch(() => undefined)) ?? '').trim();
  };
  const matches = (actual: string | undefined): boolean => actual !== undefined && (regex ? regex.test(actual) : actual.includes(text!));
  let actual = await read();
  while (!matches(actual)) {
    if (run.signal.aborted) {
      const wanted = regex ? `text matching /${pattern}/` : `"${text}"`;
      const seen = actual === undefined ? `${where} is not on the page (${page.url()})` : `it shows "${excerpt(actual)}"`;
      throw productDefect(`expected ${wanted} in ${where}, but ${seen}`);
    }
    await sleep(100, run.signal);
    actual = await read();
  }
}

export async function expectScreen(page: Page, id: string, run: StepRun): Promise<void> {
  const screen = async (): Promise<string | undefined> => {
    const locator = page.getByTestId('screen-id');
    if ((await locator.count()) === 0) return undefined;
    const text = ((await locator.first().textContent({ timeout: 1000 }).catch(() => '')) ?? '').replace(/\s/g, '');
    return text.replace(/^画面番号[:：]/, '');
  };
  let seen = await screen();
  while (seen !== id) {
    if (run.signal.aborted) {
      const error = await page.getByTestId('error').first().textContent({ timeout: 500 }).catch(() => null);
      throw productDefect(`expected screen ${id}, but ${seen ? `the portal shows ${seen}` : `the page has no screen number`} at ${page.url()}${error ? ` (error shown: ${excerpt(error)})` : ''}`);
    }
    await sleep(100, run.signal);
    seen = await screen();
  }
}

export type LoginOutcome = 'menu' | 'registration' | 'error';

export async function pcLogin(world: ScenarioWorld, pin: string | undefined, expected: LoginOutcome | undefined, run: StepRun): Promise<void> {
  if (world.options.portal !== 'mynaportal' && world.options.portal !== 'external') {
    throw harnessDefect(`pcLogin logs in through the PC agent, which the ${world.options.portal} portal does not use; use phoneScanQr and phoneLogin`);
  }
  const page = world.page;
  if (!new URL(page.url(), 'http://x').pathname.endsWith('/login')) await gotoSettled(page, world.url('/login'), { timeoutMs: run.timeoutMs });
  world.nextAgentPin = pin;
  world.lastAgentFailure = undefined;
  const requestsBefore = world.pinRequests.length;
  try {
    await page.getByTestId('login-ic-card').click({ timeout: run.timeoutMs });
    const outcome = await loginOutcome(page, run);
    if (outcome.kind === 'error' && expected !== 'error') {
      const agent = world.lastAgentFailure ? ` (PC agent: ${world.lastAgentFailure})` : world.pinRequests.length === requestsBefore ? ' (the PC agent was never asked for a PIN)' : '';
      throw productDefect(`the login failed: ${outcome.message}${agent}`);
    }
    if (expected !== undefined && outcome.kind !== expected) {
      throw productDefect(`expected the login to end in ${expected}, but it ended in ${outcome.kind}${outcome.message ? `: ${outcome.message}` : ''} (${page.url()})`);
    }
  } finally {
    world.nextAgentPin = undefined;
  }
}

export async function loginOutcome(page: Page, run: StepRun): Promise<{ kind: LoginOutcome; message: string }> {
  for (;;) {
    const path = new URL(page.url()).pathname;
    if (path.endsWith('/menu')) return { kind: 'menu', message: '' };
    if (path.endsWith('/account/new')) return { kind: 'registration', message: '' };
    const error = page.getByTestId('login-error');
    if ((await error.count()) > 0 && (await error.first().isVisible().catch(() => false))) {
      const text = ((await error.first().textContent().catch(() => '')) ?? '').trim();
      if (text !== '') {
        const code = await error.first().getAttribute('data-code').catch(() => null);
        return { kind: 'error', message: `${code ? `${code}: ` : ''}${text}` };
      }
    }
    if (run.signal.aborted) throw productDefect(`the login neither reached the menu or registration nor showed an error (${page.url()})`);
    await sleep(50, run.signal);
  }
}
