/**
 * The same login as in-process, with the card served through pcscd and vpcd and the PC agent
 * reading it as a PC/SC reader — the path a real USB reader takes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeCardImage } from '../../emulator/index.js';
import { PcscReaderProvider } from '../../harness/readers/pcsc-reader.js';
import { tempDir } from '../support/cards.js';
import { startPortalEnv, type PortalEnv } from '../support/portal-env.js';
import { serveCard, type ServedFixture } from '../support/served-card.js';

describe('login with the card served through pcscd and vpcd, in Chromium', () => {
  const dir = tempDir('jpki-hil-pcsc-portal-');
  let env: PortalEnv;
  let served: ServedFixture | undefined;
  const provider = new PcscReaderProvider();

  beforeAll(async () => {
    env = await startPortalEnv({
      dir: dir.path,
      reader: async (image) => {
        const path = join(dir.path, 'served.json');
        writeFileSync(path, serializeCardImage(image));
        served = await serveCard(path, { slot: 0 });
        return provider.open(served.reader);
      },
    });
  });
  afterAll(async () => {
    await env?.close();
    await served?.stop();
    await provider.close();
    dir.remove();
  });

  it('reaches B-01 on the first login, and the card shows the PIN was verified through PC/SC', async () => {
    const page = await env.page();
    await page.goto(`${env.portal.url}/login`);
    await page.getByTestId('login-ic-card').click();
    await page.waitForURL('**/account/new');
    expect(((await page.getByTestId('screen-id').textContent()) ?? '').replace(/\s/g, '')).toBe('画面番号:B-01');
    // The card was really used over PC/SC: its trace of exchanges grew and no try was lost.
    const state = await served!.control('GET', '/state');
    expect(state.exchanges).toBeGreaterThan(10);
    expect(state.tries).toMatchObject({ auth: { remaining: 3 }, kenhojo: { remaining: 3 } });
    await page.close();
  });
});
