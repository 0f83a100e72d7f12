/**
 * One scenario attempt's world: its own card (in a CardSlot), its own portal with a fresh
 * in-memory database (and IdP for the city portal), its own PC agent, its own browser context and
 * phone apps. Nothing is shared with other scenarios but the test CA and the browser process, so
 * scenarios run side by side safely.
 *
 * The world also keeps what steps leave for later steps: values saved from the outbox, the last
 * QR code the phone read, and the portal events seen so far (see `PortalEvents`).
 */
import { rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { CardDefinition, CardImage } from '../fixtures/cards.js';
import type { PcAgent, PinRequest } from '../agents/pc-agent/pc-agent.js';
import { XidApp } from '../agents/phone/xid-app.js';
import type { RunningApp } from '../portal/shared/listen.js';
import { FixturePool, value } from '../fixtures/fixture.js';
import { kScenarioFixtures, portalFixture, type AgentSettings, type PortalKind, type PortalSettings, type PortalUnderTest } from '../fixtures/portals.js';
import { scrubTraceZip } from '../browser/scrub-trace.js';
import type { CardSlot } from '../fixtures/card-slot.js';
import { kSecretMarker } from './secrets.js';

/** What a portal did, as the runner sees it from outside (its HTTP exchanges and outbox). */
export interface PortalEvent {
  name: string;
  time: number;
  detail: string;
}

/**
 * Named events over the portals' HTTP exchanges; every exchange is also the raw event
 * `http:<METHOD> <path>` (query left out). Documented in docs/scenarios.md.
 */
const kEventRules: { name: string; method: string; path: RegExp; status: (code: number) => boolean }[] = [
  { name: 'login.completed', method: 'POST', path: /^\/api\/(login|login\/link|qr\/login\/complete|qr\/login\/link)$/, status: ok },
  { name: 'login.failed', method: 'POST', path: /^\/api\/(login|qr\/login\/complete)$/, status: refused },
  { name: 'login.failed', method: 'POST', path: /^\/api\/qr\/login\/fail$/, status: ok },
  { name: 'signature.completed', method: 'POST', path: /^\/api\/sign\/sessions\/[^/]+\/complete$/, status: ok },
  { name: 'signature.failed', method: 'POST', path: /^\/api\/sign\/sessions\/[^/]+\/complete$/, status: refused },
  { name: 'signature.failed', method: 'POST', path: /^\/api\/sign\/sessions\/[^/]+\/fail$/, status: ok },
  { name: 'link.completed', method: 'POST', path: /^\/api\/(xid\/link|app\/complete|app\/card-info)$/, status: ok },
  { name: 'link.failed', method: 'POST', path: /^\/api\/(xid\/link|app\/complete)$/, status: refused },
  { name: 'link.failed', method: 'POST', path: /^\/api\/app\/fail$/, status: ok },
  { name: 'application.submitted', method: 'POST', path: /^\/applications\/[^/]+\/submit$/, status: (c) => c < 400 },
];

function ok(code: number): boolean {
  return code >= 200 && code < 300;
}
function refused(code: number): boolean {
  return code >= 400;
}

export class PortalEvents {
  readonly log: PortalEvent[] = [];
  private readonly _cursor = new Map<string, number>();
  private readonly _waiters = new Set<() => void>();

  push(name: string, detail: string): void {
    this.log.push({ name, time: Date.now(), detail });
    for (const wake of this._waiters) wake();
  }

  /** Watches an HTTP server's exchanges (in addition to its own handler). */
  observe(app: RunningApp, label: string): void {
    app.app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      res.once('finish', () => {
        const method = req.method ?? 'GET';
        const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
        const detail = `${label}: ${method} ${path} → ${res.statusCode}`;
        this.push(`http:${method} ${path}`, detail);
        for (const rule of kEventRules) {
          if (rule.method === method && rule.path.test(path) && rule.status(res.statusCode)) this.push(rule.name, detail);
        }
      });
    });
  }

  /**
   * The first event called `name` (or, for `http:` names, starting with it) after the one the
   * previous wait for this name took; waits until it comes or `signal` aborts.
   */
  async next(name: string, signal: AbortSignal): Promise<PortalEvent> {
    for (;;) {
      const from = this._cursor.get(name) ?? 0;
      const index = this.log.findIndex((e, i) => i >= from && (e.name === name || (name.startsWith('http:') && e.name.startsWith(name))));
      if (index >= 0) {
        this._cursor.set(name, index + 1);
        return this.log[index]!;
      }
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this._waiters.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this._waiters.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }
}

export interface WorldOptions {
  portal: PortalKind;
  definition: CardDefinition;
  caDir: string;
  slot: CardSlot;
  browser: Browser;
  /** For `portal: external` (and to override any): the site under test. */
  baseUrl?: string | undefined;
  /** Keeps a Playwright trace of the attempt (written only on failure). */
  trace: boolean;
  /** Deliberate flaws of the mock portals, to prove that a negative scenario catches them. */
  portalDefects?: PortalDefectName[] | undefined;
  log: (line: string) => void;
  /** Passed to the mock portals (harness/portal/shared/flaws.ts). */
  portalFlaws?: readonly string[] | undefined;
  /** Another person's card from the run's CA (RunResources.issueOther). */
  issueOther?: ((name: string) => Promise<CardImage>) | undefined;
  /**
   * The browser context and page to use instead of opening new ones in `browser` (a Playwright
   * Test's own `context` and `page`); whoever made them closes them.
   */
  pageOf?: { context: BrowserContext; page: Page } | undefined;
}

/** The mock portals' deliberate flaws of the session and code kind (`jpki-hil run --portal-flaw <name>`). */
export const kPortalDefectNames = ['keep-session-at-login', 'unlimited-codes', 'unlimited-password-tries'] as const;
export type PortalDefectName = (typeof kPortalDefectNames)[number];

export interface OutboxMessage {
  channel?: string;
  to: string;
  code?: string;
  text?: string;
  sentAt?: string;
}

/** The portals' clock: real time plus what the scenario has skipped (codes, QR codes and links expire on it). */
export class ScenarioClock {
  private _offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this._offsetMs);
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`the clock only moves forward, by a number of milliseconds (not ${ms})`);
    this._offsetMs += ms;
  }
  get offsetMs(): number {
    return this._offsetMs;
  }
}

export class ScenarioWorld {
  readonly clock: ScenarioClock;
  readonly saved: Record<string, string> = {};
  /** The PIN the PC agent gives next for the authentication key (set by pcLogin); else the card's. */
  nextAgentPin: string | undefined;
  readonly pinRequests: PinRequest[] = [];
  /** The PC agent's last failed request, as it logged it (code and cause). */
  lastAgentFailure: string | undefined;
  /** What the phone's camera read last (phoneScanQr). */
  lastQr: string | undefined;
  /** The outbox messages already read by readOutbox / counted by waitForEvent. */
  readonly seenOutbox = new Set<string>();
  /**
   * Values that must not be kept in the Playwright trace: the card's PINs and signing password, and
   * what secret fills typed (harness/runner/secrets.ts). saveTrace takes them out of the zip.
   */
  readonly secrets = new Set<string>();
  private _xid: XidApp | undefined;
  private readonly _xidPins = { auth: '', kenhojo: '' };

  private constructor(
    readonly events: PortalEvents,
    clock: ScenarioClock,
    readonly options: WorldOptions,
    readonly baseUrl: string,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly agent: PcAgent | undefined,
    private readonly _fixtures: FixturePool,
  ) {
    this.clock = clock;
    for (const pin of Object.values(options.definition.pins)) if (typeof pin === 'string' && pin !== '') this.secrets.add(pin);
  }

  get slot(): CardSlot {
    return this.options.slot;
  }

  get definition(): CardDefinition {
    return this.options.definition;
  }

  /**
   * The xID-like app keeps its app PIN between steps, as the real app does on the phone; the card
   * PINs the person types are per use.
   */
  xidApp(cardPins: { auth: string; kenhojo: string }): XidApp {
    this._xidPins.auth = cardPins.auth;
    this._xidPins.kenhojo = cardPins.kenhojo;
    this._xid ??= new XidApp({ reader: this.slot.reader, cardPins: this._xidPins, name: 'simulated phone (xID app)' });
    return this._xid;
  }

  static async create(options: WorldOptions): Promise<ScenarioWorld> {
    const events = new PortalEvents();
    const clock = new ScenarioClock();
    const pins = options.definition.pins;
    const defects = new Set(options.portalDefects ?? []);
    // The agent's PIN callback needs the world made after it.
    const made: { world?: ScenarioWorld } = {};
    const settings: PortalSettings = {
      caDir: options.caDir,
      baseUrl: options.baseUrl,
      now: clock.now,
      flaws: options.portalFlaws ?? [],
      keepSessionAtLogin: defects.has('keep-session-at-login'),
      unlimitedCodes: defects.has('unlimited-codes'),
      unlimitedPasswordTries: defects.has('unlimited-password-tries'),
      observe: (app, label) => events.observe(app, label),
    };
    const agentSettings: AgentSettings = {
      askPin: (request) => {
        made.world?.pinRequests.push(request);
        if (request.pin === 'kenhojo') return Promise.resolve(pins.kenhojo);
        return Promise.resolve(made.world?.nextAgentPin ?? pins.auth);
      },
      log: (line) => {
        // "request 7: CARD_ERROR: …": what the agent told the page, with the cause the page leaves out.
        const failed = /^request \S+: ([A-Z_]+.*)$/.exec(line);
        if (failed && made.world) made.world.lastAgentFailure = failed[1];
        options.log(`pc agent: ${line}`);
      },
    };
    const pool = new FixturePool(
      {
        ...kScenarioFixtures,
        slot: value('scenario', options.slot),
        browser: value('scenario', options.browser),
        portalSettings: value('scenario', settings),
        agentSettings: value('scenario', agentSettings),
        ...(options.pageOf ? { context: value('scenario', options.pageOf.context), page: value('scenario', options.pageOf.page) } : {}),
      },
      'scenario',
    );
    try {
      const portal = await pool.get<PortalUnderTest>(portalFixture(options.portal));
      const context = await pool.get<BrowserContext>('context');
      if (options.trace) await context.tracing.start({ screenshots: true, snapshots: true });
      const page = await pool.get<Page>('page');
      // A person answers 「申請します。よろしいですか？」 with OK (the guides' next step); Playwright
      // would dismiss every dialog, and a confirm() would then silently stop the flow.
      page.on('dialog', (dialog) => {
        options.log(`browser ${dialog.type()}: ${dialog.message()} → OK`);
        void dialog.accept().catch(() => undefined);
      });
      const world = new ScenarioWorld(events, clock, options, portal.baseUrl, context, page, portal.agent, pool);
      made.world = world;
      return world;
    } catch (e) {
      await pool.teardown().catch(() => undefined);
      throw e;
    }
  }

  /** A portal path → URL (absolute URLs pass through). */
  url(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.baseUrl}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  async outbox(channel: 'sms' | 'email', to?: string): Promise<OutboxMessage[]> {
    const query = new URLSearchParams({ channel, ...(to ? { to } : {}) });
    const response = await fetch(`${this.baseUrl}/api/test/outbox?${query}`);
    if (response.status === 404) throw new Error(`the ${this.options.portal} portal has no test outbox (GET /api/test/outbox is 404): it sends no SMS or e-mail in this harness`);
    if (!response.ok) throw new Error(`GET /api/test/outbox answered ${response.status}`);
    const body = (await response.json()) as { messages?: OutboxMessage[] };
    return (body.messages ?? []).filter((m) => !m.channel || m.channel === channel);
  }

  /** Saves the Playwright trace of this attempt (only worth it on failure). */
  async saveTrace(path: string): Promise<boolean> {
    if (!this.options.trace) return false;
    try {
      await this.context.tracing.stop({ path });
    } catch (e) {
      this.options.log(`could not save the Playwright trace: ${(e as Error).message.split('\n', 1)[0]}`);
      return false;
    }
    try {
      scrubTraceZip(path, this.secrets, kSecretMarker);
      return true;
    } catch (e) {
      // A trace that may still hold a password is not kept.
      rmSync(path, { force: true });
      this.options.log(`the Playwright trace was not kept: its secrets could not be taken out (${(e as Error).message})`);
      return false;
    }
  }

  async close(): Promise<void> {
    await this._fixtures.teardown().catch((e: unknown) => this.options.log(`tearing down the scenario's fixtures: ${(e as Error).message}`));
  }
}
