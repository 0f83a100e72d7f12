/**
 * The login page's script (/static/login.js, built from browser/login.ts) in real Chromium against
 * the real portal, with a stand-in PC agent: a WebSocket server that answers as the agent's
 * protocol says, signing with the emulated card or refusing the way a test asks. The real agent's
 * path is covered by browser-login.test.ts; this one goes through every failure the page must
 * explain, each with its code in `data-code` and the guide's wording.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { launchChromium, type LaunchedBrowser } from '../../../harness/browser/launch-chromium.js';
import { kAgentMessages } from '../../../harness/portal/mynaportal/agent-messages.js';
import { kPortalErrors } from '../../../harness/portal/mynaportal/errors.js';
import { Browser, caWorld, decodeQrDataUrl, portalFor, registrationForm, TestClock, type CaWorld, type TestCard } from './support/portal-fixture.js';

/** What the stand-in agent does: refuse the connection, report no card, or refuse the signature. */
interface AgentBehaviour {
  reachable: boolean;
  cardPresent: boolean;
  signFailure?: { code: string; triesLeft?: number };
}

describe('the login page script, in Chromium', () => {
  let world: CaWorld;
  let card: TestCard;
  let newcomer: TestCard;
  let expired: TestCard;
  let app: FastifyInstance;
  let agentServer: WebSocketServer;
  let chromium: LaunchedBrowser;
  let base: string;
  let inserted: TestCard;
  let agent: AgentBehaviour;

  beforeAll(async () => {
    world = caWorld();
    card = await world.issue('adult');
    newcomer = await world.issue('revoked-after-move');
    expired = await world.issue('expired-certificates');
    agentServer = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => agentServer.once('listening', resolve));
    agentServer.on('connection', (socket) => {
      if (!agent.reachable) {
        socket.terminate();
        return;
      }
      socket.on('message', (text: Buffer) => {
        const request = JSON.parse(text.toString('utf8')) as { id: string; type: string; nonce?: string };
        void answer(request).then((reply) => socket.send(JSON.stringify(reply)));
      });
    });
    const agentUrl = `ws://127.0.0.1:${(agentServer.address() as AddressInfo).port}/`;
    app = await portalFor(world, new TestClock(), { pcAgentUrl: agentUrl });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    // The adult card has an account; the newcomer does not.
    const pc = new Browser(app);
    expect(await pc.loginWithCard(card)).toBe('/account/new');
    await pc.get('/account/new');
    await pc.postForm('/account/confirm', registrationForm());
    await pc.postForm('/account/register', {});
    chromium = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
    await app?.close();
    await new Promise((resolve) => agentServer?.close(resolve));
    world?.remove();
  });
  beforeEach(() => {
    agent = { reachable: true, cardPresent: true };
    inserted = card;
  });

  async function answer(request: { id: string; type: string; nonce?: string }): Promise<object> {
    if (request.type === 'status') return { id: request.id, ok: true, reader: 'Test Reader', cardPresent: agent.cardPresent };
    if (request.type === 'sign') {
      if (agent.signFailure) return { id: request.id, ok: false, message: 'agent says no', ...agent.signFailure };
      return { id: request.id, ok: true, ...(await inserted.signNonce(request.nonce!)) };
    }
    if (request.type === 'readCardInfo') return { id: request.id, ok: true, ...(await inserted.readCardInfo()) };
    return { id: request.id, ok: false, code: 'CARD_ERROR' };
  }

  async function loginPage(): Promise<Page> {
    const page = await chromium.context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${base}/login`);
    expect(errors, 'the script ran without an error').toEqual([]);
    return page;
  }

  async function shownError(page: Page): Promise<{ code: string | null; text: string | null }> {
    const error = page.getByTestId('login-error');
    await error.waitFor({ state: 'visible' });
    return { code: await error.getAttribute('data-code'), text: await error.textContent() };
  }

  it('logs a known card in through the agent and goes to the menu', async () => {
    const page = await loginPage();
    await page.getByTestId('login-ic-card').click();
    await page.waitForURL('**/menu');
    expect(await page.getByTestId('page-title').textContent()).toContain('メインメニュー');
    await page.close();
  });

  it('reads the card info for an unknown card and goes to registration', async () => {
    inserted = newcomer;
    const page = await loginPage();
    await page.getByTestId('login-ic-card').click();
    await page.waitForURL('**/account/new');
    await page.close();
  });

  const failures: [string, Partial<AgentBehaviour>, string, string][] = [
    ['an agent that is not running', { reachable: false }, 'AGENT_UNREACHABLE', kAgentMessages.AGENT_UNREACHABLE],
    ['no card in the reader', { cardPresent: false }, 'NO_CARD', kAgentMessages.NO_CARD],
    ['a wrong PIN, with the tries left', { signFailure: { code: 'WRONG_PIN', triesLeft: 2 } }, 'WRONG_PIN', '暗証番号が違います。残り2回間違えるとロックされます。'],
    ['a blocked PIN, with the advice', { signFailure: { code: 'PIN_BLOCKED', triesLeft: 0 } }, 'PIN_BLOCKED', kAgentMessages.PIN_BLOCKED],
    ['a code it does not know', { signFailure: { code: 'NFC_TIMEOUT' } }, 'NFC_TIMEOUT', 'マイナンバーカードの読み取り中にエラーが発生しました。もう一度お試しください。（NFC_TIMEOUT）'],
  ];
  for (const [what, behaviour, code, message] of failures) {
    it(`says so for ${what}, and lets the person try again`, async () => {
      Object.assign(agent, behaviour);
      const page = await loginPage();
      await page.getByTestId('login-ic-card').click();
      expect(await shownError(page)).toEqual({ code, text: message });
      expect(page.url()).toBe(`${base}/login`);
      expect(await page.getByTestId('login-ic-card').isEnabled()).toBe(true);
      await page.close();
    });
  }

  it("shows the portal's message for a verification refusal", async () => {
    inserted = expired;
    const page = await loginPage();
    await page.getByTestId('login-ic-card').click();
    expect(await shownError(page)).toEqual({ code: 'CERTIFICATE_EXPIRED', text: kPortalErrors.CERTIFICATE_EXPIRED.message });
    await page.close();
  });

  /** Clicks スマートフォンでログイン and reads the QR code off the page as the phone agent does. */
  async function scanQr(page: Page): Promise<{ s: string; t: string }> {
    await page.getByTestId('login-smartphone').click();
    await page.getByTestId('qr-panel').waitFor({ state: 'visible' });
    const src = (await page.getByTestId('qr-code').getAttribute('src')) ?? '';
    expect(src.startsWith('data:image/png;base64,')).toBe(true);
    expect(await page.getByTestId('qr-expires').textContent()).toMatch(/^有効期限: \d{2}:\d{2}$/);
    const url = new URL(decodeQrDataUrl(src));
    const code = { s: url.searchParams.get('s')!, t: url.searchParams.get('t')! };
    // Wait for the page's event stream, so the outcome reaches it live.
    await expect.poll(() => app.portalContext.qrEvents.listenerCount(code.s)).toBeGreaterThan(0);
    return code;
  }

  const phone = async (path: string, payload: object): Promise<Record<string, string>> => (await app.inject({ method: 'POST', url: `/api/qr/login/${path}`, payload })).json();

  it('shows the QR code and follows the phone login to the menu', async () => {
    const page = await loginPage();
    const code = await scanQr(page);
    const { nonce } = await phone('challenge', code);
    expect(await phone('complete', { ...code, nonce: nonce!, ...(await card.signNonce(nonce!)) })).toEqual({ next: '/menu' });
    // Through the claim of the login, which rotates the session, to the menu.
    await page.waitForURL('**/menu');
    await page.close();
  });

  it("shows the phone's failure and lets the person try again", async () => {
    const page = await loginPage();
    const code = await scanQr(page);
    await phone('challenge', code);
    expect(await phone('fail', { ...code, code: 'WRONG_PIN' })).toEqual({ ok: true });
    expect(await shownError(page)).toEqual({ code: 'WRONG_PIN', text: kAgentMessages.WRONG_PIN });
    expect(await page.getByTestId('qr-panel').isHidden()).toBe(true);
    expect(await page.getByTestId('login-smartphone').isEnabled()).toBe(true);
    await page.close();
  });
});
