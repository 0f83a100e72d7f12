/**
 * jpki-hil/playwright: Playwright Test's `test`, extended with the fixtures of a jpki-hil scenario
 * — the test CA, the card in its reader, the mock portals, the PC agent and the phone — and the
 * step library as typed methods on them. The fixtures are the runner's own (harness/fixtures/,
 * harness/runner/world.ts), so a spec and a YAML scenario run the same code. docs/library.md
 * shows a spec.
 *
 * ```ts
 * import { test, expect } from 'jpki-hil/playwright';
 * test.use({ card: 'adult' });
 * test('first login', async ({ page, mynaportal }) => {
 *   await page.goto(mynaportal.url('/login'));
 *   await mynaportal.pcLogin({ expect: 'registration' });
 * });
 * ```
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as base, type TestInfo } from '@playwright/test';
import { kAtrPresets, revokeCardCertificate, type CardDefinition, type CardImage, type RevocationReason, type TestCa } from '../../emulator/index.js';
import type { ApduTrace } from '../../iso7816/apdu-trace.js';
import type { PcAgent } from '../agents/pc-agent/pc-agent.js';
import { openCardSlot, type CardSlot, type ReaderChoice } from '../fixtures/card-slot.js';
import { CardIssuer } from '../fixtures/cards.js';
import type { PortalKind } from '../fixtures/portals.js';
import type { JpkiClient } from '../jpki/jpki-client.js';
import { loadProfile } from '../profiles/profile.js';
import { PcscReaderProvider } from '../readers/pcsc-reader.js';
import { atrsFrom, ProfileReader } from '../readers/profile-reader.js';
import type { Reader } from '../readers/reader.js';
import type { TearMoment } from '../readers/recording-reader.js';
import { expectScreen, pcLogin, type LoginOutcome } from '../runner/steps/browser-steps.js';
import { cardAction, expectCard, enterPin, pinState, withCard } from '../runner/steps/card-steps.js';
import { readOutbox } from '../runner/steps/lab-steps.js';
import { expectPhoneOutcome, phoneLogin, phoneSign, scanQr } from '../runner/steps/phone-steps.js';
import type { StepRun } from '../runner/steps/step-api.js';
import { ScenarioWorld, type OutboxMessage, type PortalEvent } from '../runner/world.js';
import { seededRandom } from '../stats/seeded-random.js';
import { cardDefinition, type CardChoice } from './index.js';

export { expect } from '@playwright/test';
export type { CardChoice, LoginOutcome, OutboxMessage, PortalEvent, PortalKind };

/** Where the card sits: in this process, served to pcscd through a vpcd slot (`pcsc`), or in a named PC/SC reader. */
export type CardReaderChoice = 'in-process' | 'pcsc' | (string & Record<never, never>);

/** A PIN of the card the step functions know. */
export type CardPinName = 'auth' | 'sign' | 'kenhojo';

/** The options a spec sets with `test.use({ … })`. */
export interface JpkiOptions {
  /** The card of each test: a shipped definition (`adult`, `minor`, …), a YAML file, or fields over the default adult. Default `adult`. */
  card: CardChoice;
  /** Where the card sits; default `in-process` (no pcscd, no native module). */
  cardReader: CardReaderChoice;
  /** A device profile (an id under firmware-profiles/, or a YAML file) the card is read through; none by default. */
  profile: string | undefined;
  /** Mistakes the mock portals make on purpose (docs/scenarios.md), to prove a test catches them. */
  portalFlaws: string[];
  /** How long one step method (pcLogin, phone.login, …) may take, in ms; default 30 000. */
  stepTimeout: number;
}

/** The test CA of a Playwright worker: one per worker, in a temporary directory removed at the end. */
export interface CaFixture {
  /** The CA's directory: its certificates, CRLs and the card-info key (the mock portals trust it through these files). */
  readonly dir: string;
  readonly ca: TestCa;
  /** Issues a card image from a definition (once per definition and worker). */
  issue(card: CardChoice): Promise<CardImage>;
  /** Revokes a card's certificate and publishes the new CRL. */
  revoke(image: CardImage, kind: 'auth' | 'sign', reason?: RevocationReason): void;
}

/** The card of the test in its reader; every APDU through `reader` goes into the test's trace. */
export interface CardInReader {
  /** The reader as the PC agent and the phone apps use it (through the device profile, when there is one). */
  readonly reader: Reader;
  /** Where the card sits. */
  readonly kind: CardSlot['kind'];
  readonly definition: CardDefinition;
  readonly image: CardImage;
  /** The card's PINs, as its definition sets them. */
  readonly pins: CardDefinition['pins'];
  /** The exchanges so far, PIN data masked; attached to the test's report as `apdu-trace`. */
  readonly trace: readonly ApduTrace[];
  /** A PIN's tries left and whether it is blocked, read from the card. */
  pinState(pin: CardPinName | 'juki'): Promise<{ triesLeft: number | undefined; blocked: boolean }>;
  /** Fails the test unless the PIN has these tries left / is (not) blocked. */
  expectPin(pin: CardPinName | 'juki', expected: { triesLeft?: number; blocked?: boolean }): Promise<void>;
  /** A PIN typed at a terminal (VERIFY), right or wrong; returns the tries left. */
  enterPin(pin: CardPinName, value: string): Promise<number>;
  /** Runs `use` with a JPKI client on a fresh connection (reset afterwards). */
  withClient<T>(use: (client: JpkiClient) => Promise<T>): Promise<T>;
  /** Takes the card out of the reader. */
  remove(): Promise<void>;
  /** Puts it back. */
  insert(): Promise<void>;
  /** Cuts the card's power at the next command with this INS (hex, e.g. `'2A'`), before or after the card acts on it. */
  tear(ins: string, when?: TearMoment): Promise<void>;
}

/** A relying party under test, with the step library's portal steps. */
export interface PortalFixture {
  readonly kind: PortalKind;
  /** The portal's base URL (loopback for the mock portals). */
  readonly baseUrl: string;
  /** The PC agent the portal's pages talk to (the Mynaportal-like portal and external sites). */
  readonly agent: PcAgent | undefined;
  /** A portal path → its absolute URL. */
  url(path?: string): string;
  /** Clicks the IC card login on the login page (opening it first) and waits for the outcome; `pin` defaults to the card's. */
  pcLogin(options?: { pin?: string; expect?: LoginOutcome }): Promise<void>;
  /** Waits until the page shows this screen number (画面番号). */
  expectScreen(id: string): Promise<void>;
  /** The portal's test outbox. */
  outbox(channel: 'sms' | 'email', to?: string): Promise<OutboxMessage[]>;
  /** Waits for an outbox message not read before and returns its code (or text). */
  readOutbox(channel: 'sms' | 'email', options?: { to?: string }): Promise<string>;
  /** Waits for the next portal event of this name (docs/scenarios.md "Events"). */
  waitForEvent(name: string): Promise<PortalEvent>;
  /** Moves the portal's clock forward: codes, QR codes and sessions expire as if the time had passed. */
  advanceClock(ms: number): void;
}

/** The simulated phone: its camera reads the QR code on the test's page, its apps use the test's card. */
export interface PhoneFixture {
  /** Reads the QR code on the page; returns what it holds. */
  scanQr(): Promise<string>;
  /** Logs in with the last QR code read (QR login, the auth app or the xID-like app's link); `expectError` expects that failure code. */
  login(options?: { pin?: string; appPin?: string; expectError?: string }): Promise<void>;
  /** Signs the request of the last QR code read; `consent: false` reviews and declines. */
  sign(options?: { password?: string; consent?: boolean; expectError?: string }): Promise<void>;
}

export interface JpkiTestFixtures extends JpkiOptions {
  reader: CardInReader;
  mynaportal: PortalFixture;
  citizen: PortalFixture;
  mypage: PortalFixture;
  /** The site at Playwright's `baseURL` (`use: { baseURL }`), with the PC agent on its well-known port. */
  external: PortalFixture;
  pcAgent: PcAgent;
  phone: PhoneFixture;
  /** @internal The test's card slot and its trace. */
  _jpkiSlot: { slot: CardSlot; definition: CardDefinition; image: CardImage; trace: ApduTrace[] };
  /** @internal The test's one scenario world. */
  _jpkiLab: Lab;
}

export interface JpkiWorkerFixtures {
  ca: CaFixture;
  /** @internal PC/SC, started when a test asks for it. */
  _jpkiPcsc: { get(): PcscReaderProvider };
}

const kDefaultStepTimeoutMs = 30_000;

/** One test's world: made by the first portal fixture it uses, closed at the test's end. */
class Lab {
  private _world: { kind: PortalKind; world: Promise<ScenarioWorld> } | undefined;
  readonly log: string[] = [];

  constructor(
    private readonly _make: (kind: PortalKind) => Promise<ScenarioWorld>,
    private readonly _info: TestInfo,
    private readonly _stepTimeoutMs: number,
  ) {}

  world(kind: PortalKind): Promise<ScenarioWorld> {
    if (this._world && this._world.kind !== kind) {
      return Promise.reject(new Error(`this test already uses the ${this._world.kind} portal; one test drives one portal (split it into two tests to use ${kind})`));
    }
    this._world ??= { kind, world: this._make(kind) };
    return this._world.world;
  }

  current(what: string): Promise<ScenarioWorld> {
    if (!this._world) return Promise.reject(new Error(`${what} needs a portal: use the mynaportal, citizen, mypage or external fixture in the same test`));
    return this._world.world;
  }

  get kind(): PortalKind | undefined {
    return this._world?.kind;
  }

  /** What a step of the runner is given; its time is this test's step timeout. */
  run(world: ScenarioWorld): StepRun {
    return { world, file: this._info.file, signal: AbortSignal.timeout(this._stepTimeoutMs), timeoutMs: this._stepTimeoutMs, log: (line) => this.log.push(line) };
  }

  async close(): Promise<void> {
    const made = this._world;
    this._world = undefined;
    if (!made) return;
    const world = await made.world.catch(() => undefined);
    await world?.close();
  }
}

function portalFixture(lab: Lab, world: ScenarioWorld): PortalFixture {
  return {
    kind: world.options.portal,
    baseUrl: world.baseUrl,
    agent: world.agent,
    url: (path = '/') => world.url(path),
    pcLogin: (options = {}) => pcLogin(world, options.pin, options.expect, lab.run(world)),
    expectScreen: (id) => expectScreen(world.page, id, lab.run(world)),
    outbox: (channel, to) => world.outbox(channel, to),
    readOutbox: async (channel, options = {}) => {
      const key = `outbox ${Object.keys(world.saved).length}`;
      await readOutbox(world, channel, options.to, key, lab.run(world));
      return world.saved[key]!;
    },
    waitForEvent: (name) => world.events.next(name, lab.run(world).signal),
    advanceClock: (ms) => world.clock.advance(ms),
  };
}

function traceText(trace: readonly ApduTrace[]): string {
  return trace
    .map((e) => `${e.time}  ${e.command} → ${e.response ? `${e.response} ` : ''}${e.sw || '(no answer)'}  ${e.meaning}${e.detail ? ` (${e.detail})` : ''}${e.torn ? ` [torn ${e.torn}]` : ''}  ${e.durationMs} ms`)
    .join('\n');
}

/** Playwright Test's `test` with the jpki-hil fixtures. */
export const test = base.extend<JpkiTestFixtures, JpkiWorkerFixtures>({
  card: ['adult', { option: true }],
  cardReader: ['in-process', { option: true }],
  profile: [undefined, { option: true }],
  portalFlaws: [[], { option: true }],
  stepTimeout: [kDefaultStepTimeoutMs, { option: true }],

  ca: [
    // eslint-disable-next-line no-empty-pattern -- Playwright reads the fixtures a fixture needs from this pattern
    async ({}, use) => {
      const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-ca-'));
      try {
        const issuer = CardIssuer.open(join(dir, 'ca'));
        await use({
          dir: issuer.caDir,
          ca: issuer.ca,
          issue: (card) => issuer.issue(cardDefinition(card)),
          revoke: (image, kind, reason = 'keyCompromise') => void revokeCardCertificate(issuer.ca, image, kind, reason),
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { scope: 'worker' },
  ],

  _jpkiPcsc: [
    // eslint-disable-next-line no-empty-pattern -- as above
    async ({}, use) => {
      let provider: PcscReaderProvider | undefined;
      try {
        await use({ get: () => (provider ??= new PcscReaderProvider()) });
      } finally {
        await provider?.close().catch(() => undefined);
      }
    },
    { scope: 'worker' },
  ],

  _jpkiSlot: async ({ ca, card, cardReader, profile, _jpkiPcsc }, use, testInfo) => {
    const definition = cardDefinition(card);
    const image = await ca.issue(card);
    const trace: ApduTrace[] = [];
    const device = profile === undefined ? undefined : loadProfile(profile);
    const random = seededRandom(testInfo.repeatEachIndex * 7919 + testInfo.retry + 1);
    const choice: ReaderChoice = cardReader === 'in-process' ? { kind: 'emulator' } : { kind: 'pcsc', ...(cardReader === 'pcsc' ? {} : { name: cardReader }) };
    const slot = await openCardSlot(choice, {
      image,
      index: testInfo.parallelIndex,
      onApdu: (entry) => trace.push(entry),
      provider: choice.kind === 'pcsc' ? _jpkiPcsc.get() : undefined,
      wrap: device ? (inner, powerCycle) => new ProfileReader(inner, device, { atrs: atrsFrom(kAtrPresets), random, powerCycle }) : undefined,
    });
    try {
      await use({ slot, definition, image, trace });
    } finally {
      await slot.close().catch(() => undefined);
      await testInfo.attach('apdu-trace', { body: traceText(trace), contentType: 'text/plain' });
    }
  },

  reader: async ({ _jpkiSlot }, use) => {
    const { slot, definition, image, trace } = _jpkiSlot;
    const world = { slot, definition };
    await use({
      reader: slot.reader,
      kind: slot.kind,
      definition,
      image,
      pins: definition.pins,
      trace,
      pinState: (pin) => withCard(world, (client) => pinState(client, pin), true),
      expectPin: (pin, expected) => expectCard(world, pin, expected.triesLeft, expected.blocked),
      enterPin: (pin, value) => enterPin(world, pin, value, undefined),
      withClient: (fn) => withCard(world, fn),
      remove: () => cardAction(world, 'remove', undefined, 'after'),
      insert: () => cardAction(world, 'insert', undefined, 'after'),
      tear: (ins, when = 'after') => cardAction(world, 'tear', ins, when),
    });
  },

  _jpkiLab: async ({ ca, _jpkiSlot, page, context, browser, baseURL, portalFlaws, stepTimeout }, use, testInfo) => {
    const lab: Lab = new Lab(
      (kind) =>
        ScenarioWorld.create({
          portal: kind,
          definition: _jpkiSlot.definition,
          caDir: ca.dir,
          slot: _jpkiSlot.slot,
          browser,
          baseUrl: kind === 'external' ? baseURL : undefined,
          trace: false,
          log: (line) => lab.log.push(line),
          portalFlaws,
          pageOf: { context, page },
        }),
      testInfo,
      stepTimeout,
    );
    try {
      await use(lab);
    } finally {
      await lab.close();
      if (lab.log.length > 0) await testInfo.attach('jpki-hil-log', { body: lab.log.join('\n'), contentType: 'text/plain' });
    }
  },

  mynaportal: async ({ _jpkiLab }, use) => use(portalFixture(_jpkiLab, await _jpkiLab.world('mynaportal'))),
  citizen: async ({ _jpkiLab }, use) => use(portalFixture(_jpkiLab, await _jpkiLab.world('citizen'))),
  mypage: async ({ _jpkiLab }, use) => use(portalFixture(_jpkiLab, await _jpkiLab.world('mypage'))),
  external: async ({ _jpkiLab, baseURL }, use) => {
    if (!baseURL) throw new Error('the external fixture tests the site at Playwright\'s baseURL: set use: { baseURL: \'https://staging.example\' } in the config or test.use()');
    await use(portalFixture(_jpkiLab, await _jpkiLab.world('external')));
  },
  pcAgent: async ({ _jpkiLab, baseURL }, use) => {
    const world = await _jpkiLab.world(_jpkiLab.kind ?? (baseURL ? 'external' : 'mynaportal'));
    if (!world.agent) throw new Error(`the ${world.options.portal} portal uses no PC agent (its logins go through the phone)`);
    await use(world.agent);
  },
  phone: async ({ _jpkiLab }, use) => {
    const run = async (what: string, step: (world: ScenarioWorld) => Promise<void>): Promise<void> => step(await _jpkiLab.current(what));
    await use({
      scanQr: async () => {
        const world = await _jpkiLab.current('phone.scanQr');
        world.lastQr = await scanQr(world, _jpkiLab.run(world));
        return world.lastQr;
      },
      login: (options = {}) => run('phone.login', (world) => expectPhoneOutcome(() => phoneLogin(world, options.pin, options.appPin), options.expectError, 'phone login')),
      sign: (options = {}) => run('phone.sign', (world) => expectPhoneOutcome(() => phoneSign(world, options.password, options.consent !== false), options.expectError, 'signing on the phone')),
    });
  },
});
