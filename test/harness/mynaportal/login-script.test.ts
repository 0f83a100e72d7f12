/**
 * The login page's script (/static/login.js), run in a VM context against the real portal (its
 * fetch goes to `app.inject()`), with a stand-in PC agent behind a fake WebSocket that drives the
 * emulated card as the real agent does. No browser: this checks the script's protocol and its
 * messages; browser tests come later.
 */
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kAgentMessages } from '../../../harness/portal/mynaportal/agent-messages.js';
import { kPortalErrors } from '../../../harness/portal/mynaportal/errors.js';
import { Browser, caWorld, decodeQrDataUrl, portalFor, registrationForm, TestClock, type CaWorld, type TestCard } from './support/portal-fixture.js';

class FakeElement {
  hidden = false;
  disabled = false;
  textContent = '';
  src = '';
  private readonly _attributes = new Map<string, string>();
  private readonly _listeners = new Map<string, (() => void)[]>();
  constructor(attributes: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(attributes)) this._attributes.set(k, v);
  }
  getAttribute(name: string): string | null {
    return this._attributes.get(name) ?? null;
  }
  setAttribute(name: string, value: string): void {
    this._attributes.set(name, value);
  }
  removeAttribute(name: string): void {
    this._attributes.delete(name);
  }
  addEventListener(type: string, listener: () => void): void {
    this._listeners.set(type, [...(this._listeners.get(type) ?? []), listener]);
  }
  click(): void {
    for (const listener of this._listeners.get('click') ?? []) listener();
  }
}

/** What the stand-in agent does for each request type; a function may answer a failure instead. */
interface AgentBehaviour {
  reachable: boolean;
  cardPresent: boolean;
  signFailure?: { code: string; triesLeft?: number };
}

interface Page {
  element(testId: string): FakeElement;
  navigatedTo(): string | undefined;
  /** Resolves when the script navigates or shows an error. */
  settled(): Promise<void>;
}

describe('the login page script', () => {
  let world: CaWorld;
  let card: TestCard;
  let newcomer: TestCard;
  let expired: TestCard;
  let app: FastifyInstance;
  let script: string;

  beforeAll(async () => {
    world = caWorld();
    card = await world.issue('adult');
    newcomer = await world.issue('revoked-after-move');
    expired = await world.issue('expired-certificates');
    app = await portalFor(world, new TestClock());
    const pc = new Browser(app);
    expect(await pc.loginWithCard(card)).toBe('/account/new');
    await pc.get('/account/new');
    await pc.postForm('/account/confirm', registrationForm());
    await pc.postForm('/account/register', {});
    script = (await app.inject({ method: 'GET', url: '/static/login.js' })).body;
  });
  afterAll(async () => {
    await app.close();
    world.remove();
  });

  /** Loads /login in `browser` and runs its script with `inserted` in the agent's reader. */
  async function openLoginPage(browser: Browser, inserted: TestCard, behaviour: Partial<AgentBehaviour> = {}): Promise<Page> {
    const agent: AgentBehaviour = { reachable: true, cardPresent: true, ...behaviour };
    const html = (await browser.get('/login')).body;
    const meta = (name: string): string => new RegExp(`<meta name="${name}" content="([^"]*)">`).exec(html)![1]!;
    const messages = /<script type="application\/json" id="login-messages">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const elements = new Map<string, FakeElement>();
    for (const [, testId] of html.matchAll(/data-testid="([^"]+)"/g)) elements.set(testId!, new FakeElement());
    let navigated: string | undefined;

    const answer = async (request: { id: string; type: string; nonce?: string }): Promise<object> => {
      if (request.type === 'status') return { id: request.id, ok: true, reader: 'Test Reader', cardPresent: agent.cardPresent };
      if (request.type === 'sign') {
        if (agent.signFailure) return { id: request.id, ok: false, message: 'agent says no', ...agent.signFailure };
        return { id: request.id, ok: true, ...(await inserted.signNonce(request.nonce!)) };
      }
      if (request.type === 'readCardInfo') return { id: request.id, ok: true, ...(await inserted.readCardInfo()) };
      return { id: request.id, ok: false, code: 'CARD_ERROR' };
    };

    class FakeAgentSocket {
      onopen: (() => void) | null = null;
      onclose: (() => void) | null = null;
      onerror: (() => void) | null = null;
      onmessage: ((event: { data: string }) => void) | null = null;
      constructor(readonly url: string) {
        expect(url).toBe('ws://127.0.0.1:24680/');
        setTimeout(() => (agent.reachable ? this.onopen?.() : (this.onerror?.(), this.onclose?.())), 1);
      }
      send(text: string): void {
        void answer(JSON.parse(text) as { id: string; type: string }).then((reply) => this.onmessage?.({ data: JSON.stringify(reply) }));
      }
      close(): void {}
    }

    class FakeEventSource {
      static CLOSED = 2;
      readyState = 0;
      onerror: (() => void) | null = null;
      private readonly _listeners = new Map<string, ((event: { data: string }) => void)[]>();
      constructor(url: string) {
        void app.inject({ method: 'GET', url, cookies: browser.cookies }).then((response) => {
          for (const block of response.body.split('\n\n')) {
            const type = /^event: (.+)$/m.exec(block)?.[1];
            const data = /^data: (.+)$/m.exec(block)?.[1];
            if (type && data && this.readyState !== FakeEventSource.CLOSED) for (const l of this._listeners.get(type) ?? []) l({ data });
          }
        });
      }
      addEventListener(type: string, listener: (event: { data: string }) => void): void {
        this._listeners.set(type, [...(this._listeners.get(type) ?? []), listener]);
      }
      close(): void {
        this.readyState = FakeEventSource.CLOSED;
      }
    }

    const fetchToPortal = async (url: string, init: { method: string; headers: Record<string, string>; body: string }) => {
      const response = await browser.postJson(url, JSON.parse(init.body), { 'x-csrf-token': init.headers['x-csrf-token']! });
      return { ok: response.statusCode < 400, status: response.statusCode, json: async () => response.json() };
    };

    const document = {
      getElementById: (id: string) => (id === 'login-messages' ? { textContent: messages } : null),
      querySelector: (selector: string) => {
        const name = /^meta\[name="(.+)"\]$/.exec(selector)?.[1];
        if (name) return new FakeElement({ content: meta(name) });
        const testId = /^\[data-testid="(.+)"\]$/.exec(selector)?.[1];
        return testId ? (elements.get(testId) ?? null) : null;
      },
    };
    runInNewContext(script, {
      document,
      window: { location: { assign: (url: string) => (navigated = url) } },
      fetch: fetchToPortal,
      WebSocket: FakeAgentSocket,
      EventSource: FakeEventSource,
      setTimeout,
      clearTimeout,
    });
    const element = (testId: string): FakeElement => {
      const found = elements.get(testId);
      if (!found) throw new Error(`the login page has no data-testid="${testId}"`);
      return found;
    };
    return {
      element,
      navigatedTo: () => navigated,
      settled: async () => {
        for (let i = 0; i < 400 && navigated === undefined && element('login-error').hidden; i++) await new Promise((r) => setTimeout(r, 10));
      },
    };
  }

  it('logs a known card in through the agent and goes to the menu', async () => {
    const browser = new Browser(app);
    const page = await openLoginPage(browser, card);
    page.element('login-ic-card').click();
    expect(page.element('login-ic-card').disabled).toBe(true);
    await page.settled();
    expect(page.navigatedTo()).toBe('/menu');
    expect(page.element('login-status').textContent).toBe('ログインしました。');
    expect((await browser.get('/menu')).statusCode).toBe(200);
  });

  it('reads the card info for an unknown card and goes to registration', async () => {
    const browser = new Browser(app);
    const page = await openLoginPage(browser, newcomer);
    page.element('login-ic-card').click();
    await page.settled();
    expect(page.navigatedTo()).toBe('/account/new');
  });

  const failures: [string, Partial<AgentBehaviour>, string, string][] = [
    ['an agent that is not running', { reachable: false }, 'AGENT_UNREACHABLE', kAgentMessages.AGENT_UNREACHABLE],
    ['no card in the reader', { cardPresent: false }, 'NO_CARD', kAgentMessages.NO_CARD],
    ['a wrong PIN, with the tries left', { signFailure: { code: 'WRONG_PIN', triesLeft: 2 } }, 'WRONG_PIN', '暗証番号が違います。残り2回間違えるとロックされます。'],
    ['a blocked PIN, with the advice', { signFailure: { code: 'PIN_BLOCKED', triesLeft: 0 } }, 'PIN_BLOCKED', kAgentMessages.PIN_BLOCKED],
    ['a code it does not know', { signFailure: { code: 'NFC_TIMEOUT' } }, 'NFC_TIMEOUT', 'マイナンバーカードの読み取り中にエラーが発生しました。もう一度お試しください。（NFC_TIMEOUT）'],
  ];
  for (const [what, behaviour, code, message] of failures) {
    it(`says so for ${what}`, async () => {
      const page = await openLoginPage(new Browser(app), card, behaviour);
      page.element('login-ic-card').click();
      await page.settled();
      expect(page.navigatedTo()).toBeUndefined();
      expect(page.element('login-error').hidden).toBe(false);
      expect(page.element('login-error').getAttribute('data-code')).toBe(code);
      expect(page.element('login-error').textContent).toBe(message);
      // The person can try again.
      expect(page.element('login-ic-card').disabled).toBe(false);
    });
  }

  it("shows the portal's message for a verification refusal", async () => {
    const page = await openLoginPage(new Browser(app), expired);
    page.element('login-ic-card').click();
    await page.settled();
    expect(page.element('login-error').getAttribute('data-code')).toBe('CERTIFICATE_EXPIRED');
    expect(page.element('login-error').textContent).toBe(kPortalErrors.CERTIFICATE_EXPIRED.message);
  });

  /** Clicks スマートフォンでログイン and reads the QR code off the page as the phone agent does. */
  async function scanQr(page: Page): Promise<{ s: string; t: string }> {
    page.element('login-smartphone').click();
    for (let i = 0; i < 200 && page.element('qr-code').src === ''; i++) await new Promise((r) => setTimeout(r, 10));
    expect(page.element('qr-panel').hidden).toBe(false);
    const src = page.element('qr-code').src;
    expect(src.startsWith('data:image/png;base64,')).toBe(true);
    const url = new URL(decodeQrDataUrl(src));
    const code = { s: url.searchParams.get('s')!, t: url.searchParams.get('t')! };
    // Wait for the page's event stream, so the outcome reaches it live.
    for (let i = 0; i < 200 && app.portalContext.qrEvents.listenerCount(code.s) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    return code;
  }

  const phone = async (path: string, payload: object): Promise<Record<string, string>> =>
    (await app.inject({ method: 'POST', url: `/api/qr/login/${path}`, payload })).json();

  it('shows the QR code and follows the phone login to the menu', async () => {
    const page = await openLoginPage(new Browser(app), card);
    const code = await scanQr(page);
    const { nonce } = await phone('challenge', code);
    expect(await phone('complete', { ...code, nonce: nonce!, ...(await card.signNonce(nonce!)) })).toEqual({ next: '/menu' });
    await page.settled();
    // To the claim of the login, which rotates the session and redirects to the menu.
    expect(page.navigatedTo()).toMatch(/^\/login\/qr\/[A-Za-z0-9_-]+$/);
  });

  it("shows the phone's failure and lets the person try again", async () => {
    const page = await openLoginPage(new Browser(app), card);
    const code = await scanQr(page);
    await phone('challenge', code);
    expect(await phone('fail', { ...code, code: 'WRONG_PIN' })).toEqual({ ok: true });
    await page.settled();
    expect(page.navigatedTo()).toBeUndefined();
    expect(page.element('login-error').getAttribute('data-code')).toBe('WRONG_PIN');
    expect(page.element('login-error').textContent).toBe(kAgentMessages.WRONG_PIN);
    expect(page.element('qr-panel').hidden).toBe(true);
    expect(page.element('login-smartphone').disabled).toBe(false);
  });
});
