import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../../../harness/browser/launch-chromium.js';
import { gotoSettled } from '../../../harness/browser/navigation.js';

describe('gotoSettled', () => {
  let server: Server;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    // A waiting page that refreshes itself every 500 ms, as the portals' QR waiting pages do every second.
    server = createServer((request, response) => {
      response.setHeader('content-type', 'text/html; charset=utf-8');
      if (request.url?.startsWith('/waiting')) response.end('<meta http-equiv="refresh" content="0.5"><p>waiting</p>');
      else response.end('<p id="done">done</p>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('reaches the page asked for even when the page it leaves refreshes itself at that moment', async () => {
    const page = await browser.newPage();
    // Plain page.goto loses this race about every other time here; every navigation has to arrive.
    for (let i = 0; i < 10; i++) {
      await gotoSettled(page, `${base}/waiting?${i}`, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 440 + (i % 10) * 12));
      const response = await gotoSettled(page, `${base}/elsewhere?${i}`, { timeoutMs: 10_000 });
      expect(response?.status()).toBe(200);
      expect(new URL(page.url()).pathname).toBe('/elsewhere');
      expect(await page.locator('#done').textContent()).toBe('done');
    }
    await page.close();
  }, 120_000);

  it('still fails on a navigation that cannot succeed', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const page = await browser.newPage();
    await expect(gotoSettled(page, `http://127.0.0.1:${port}/`, { timeoutMs: 5_000 })).rejects.toThrow(/ERR_CONNECTION_REFUSED/);
    await page.close();
  });
});
