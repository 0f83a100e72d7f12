/**
 * Navigation that survives a page navigating itself. A page that refreshes on its own (a waiting
 * page with `<meta http-equiv="refresh">`, a script that reloads) can start its navigation just as
 * the harness starts one. Chromium then either abandons the harness's navigation (Playwright throws
 * "interrupted by another navigation" or net::ERR_ABORTED, though the page may still end up where
 * it was sent) or lets
 * page.goto resolve with no response while the page shows the refreshed page. The harness's
 * navigation is what the scenario asked for: once the page has settled, it is either there (done)
 * or the navigation is started again, a few times, within the same time limit.
 */
import type { Page, Response } from 'playwright-core';

// Chromium says it either way: Playwright's "interrupted", or the aborted request itself.
const kInterrupted = /is interrupted by another navigation|net::ERR_ABORTED/;
const kAttempts = 5;
const kSettleMs = 2_000;

export async function gotoSettled(page: Page, url: string, options: { timeoutMs: number }): Promise<Response | null> {
  const deadline = Date.now() + options.timeoutMs;
  const remaining = (): number => Math.max(1, deadline - Date.now());
  const target = new URL(url).href;
  // The response of the page the browser did land on, for a caller that checks its status.
  let landed: Response | null = null;
  const onResponse = (response: Response): void => {
    const request = response.request();
    if (request.isNavigationRequest() && request.frame() === page.mainFrame() && response.url() === target) landed = response;
  };
  page.on('response', onResponse);
  try {
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        const response = await page.goto(url, { timeout: remaining() });
        // A response is the end of the navigation, redirects included.
        if (response) return response;
      } catch (e) {
        if (!kInterrupted.test((e as Error).message)) throw e;
        failure = e;
      }
      // Both navigations may still be on their way: let the network fall quiet before looking where
      // the page is (a page that keeps refreshing never does; then it is not where it was sent).
      await page.waitForLoadState('networkidle', { timeout: Math.min(kSettleMs, remaining()) }).catch(() => undefined);
      // Arrived after all: a second request for the same page would not be what the scenario asked for.
      if (page.url() === target) return landed;
      if (attempt >= kAttempts || Date.now() >= deadline) {
        throw failure ?? new Error(`page.goto: navigation to "${target}" ended on "${page.url()}" after ${attempt} attempts`);
      }
    }
  } finally {
    page.off('response', onResponse);
  }
}
