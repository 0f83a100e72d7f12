/**
 * What each step kind of a scenario does (docs/scenarios.md "Steps"). A step either returns or
 * throws; what it throws says whose fault it was (failures.ts). Browser steps use Playwright with
 * the step's time limit; card steps go through the scenario's reader (so they are traced); phone
 * steps use the simulated phone apps against the same card.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { otherCardReader, pinLimitOf } from '../fixtures/cards.js';
import { gotoSettled } from '../browser/navigation.js';
import { AuthApp } from '../agents/phone/auth-app.js';
import { CardActionError } from '../agents/card-actions.js';
import { PhoneError } from '../agents/phone/phone-http.js';
import { SigningApp } from '../agents/phone/signing-app.js';
import { SimulatedPhone } from '../agents/phone/simulated-phone.js';
import { CardCommandError, JpkiClient, kAids, PinError, type CardPin } from '../jpki/jpki-client.js';
import { kPackageRoot } from '../package-root.js';
import { ReaderError, type Reader } from '../readers/reader.js';
import { harnessDefect, labProblem, productDefect, StepFailure } from './failures.js';
import type { ScenarioPin, ScenarioStep } from './scenario.js';
import { commandName, enterPinName, fillName, isSecretFill, kSecretMarker, maskCommandLine } from './secrets.js';
import type { ScenarioWorld } from './world.js';

export interface StepRun {
  world: ScenarioWorld;
  /** The scenario file, for paths in custom steps. */
  file: string;
  /** Ends when the step's time is up (or the run is stopped). */
  signal: AbortSignal;
  timeoutMs: number;
  /** Answers operator prompts; undefined when nobody is at a terminal. */
  operator?: ((prompt: string, signal: AbortSignal) => Promise<OperatorAnswer>) | undefined;
  log: (line: string) => void;
}

export type OperatorAnswer = { done: true } | { done: false; note: string };

/** What a custom step (a TypeScript or JavaScript module) receives. */
export interface CustomStepContext {
  page: Page;
  /** The portal's base URL. */
  baseUrl: string;
  /** The scenario's reader (APDUs through it are traced like every other step's). */
  reader: Reader;
  card: { pins: { auth: string; sign: string; kenhojo: string; juki: string } };
  /** Values saved by earlier steps; a custom step may add its own. */
  saved: Record<string, string>;
  args: Record<string, unknown>;
  signal: AbortSignal;
  log: (line: string) => void;
  /**
   * Moves the portals' clock forward (the IdP's too): what expires — SMS and e-mail codes, QR codes,
   * linking transactions, sessions — expires as if the time had passed.
   */
  advanceClock(ms: number): void;
  /**
   * Declares a value the step types or sends as secret (a password, a code): the runner takes it out
   * of the Playwright trace. Returns the value. The card's PINs are secret already.
   */
  secret(value: string): string;
  /** Throw these to say whose fault a failure is (an Error of another kind is taken as the harness's). */
  fail: { product(message: string): Error; lab(message: string): Error };
  /**
   * Another person's card, from the same test CA, in an in-process reader of its own (a card
   * definition name under scenarios/cards/, or a path): the victim of an identity attack, or a
   * namesake when it is the scenario's own definition. Issued once per run and name.
   */
  otherCard(definition: string): Promise<{ reader: Reader; pins: { auth: string; sign: string; kenhojo: string; juki: string } }>;
}

export type CustomStep = (ctx: CustomStepContext) => Promise<void> | void;

/** `${card.pins.auth}`, `${saved.code}` → their values. */
export function resolveTemplates(text: string, world: ScenarioWorld): string {
  return text.replace(/\$\{([^}]+)\}/g, (whole, ref: string) => {
    const [root, ...rest] = ref.trim().split('.');
    if (root === 'card' && rest[0] === 'pins' && rest.length === 2) {
      const value = (world.definition.pins as Record<string, string>)[rest[1]!];
      if (value !== undefined) return value;
    }
    if (root === 'saved' && rest.length === 1) {
      const value = world.saved[rest[0]!];
      if (value !== undefined) return value;
      throw harnessDefect(`${whole}: nothing was saved as "${rest[0]}" before this step`);
    }
    throw harnessDefect(`${whole} names nothing the runner knows`);
  });
}

/** How a step is named in reports when the file gives it no name. */
export function describeStepFields(step: ScenarioStep): string {
  if (step.name) return step.name;
  switch (step.kind) {
    case 'open':
      return step.path;
    case 'click':
      return step.testId ? `[${step.testId}]` : `"${step.text}"`;
    case 'fill':
      return fillName(step);
    case 'expectText':
      return `${step.testId ? `[${step.testId}] ` : ''}${step.text ?? `/${step.pattern}/`}`;
    case 'expectScreen':
      return step.id;
    case 'pcLogin':
      return `log in with the PC reader${step.expect ? ` → ${step.expect}` : ''}`;
    case 'phoneScanQr':
      return 'the phone reads the QR code';
    case 'phoneLogin':
      return `log in on the phone${step.expectError ? ` → ${step.expectError}` : ''}`;
    case 'phoneSign':
      return step.consent === false ? 'review on the phone and decline' : `sign on the phone${step.expectError ? ` → ${step.expectError}` : ''}`;
    case 'enterPin':
      return enterPinName(step);
    case 'card':
      return `${step.action}${step.ins ? ` at INS ${step.ins.toUpperCase()} (${step.when ?? 'after'})` : ''}`;
    case 'expectCard':
      return `${step.pin} PIN${step.triesLeft !== undefined ? `: ${step.triesLeft} tries left` : ''}${step.blocked !== undefined ? (step.blocked ? ', blocked' : ', not blocked') : ''}`;
    case 'readOutbox':
      return `newest ${step.outbox}${step.to ? ` to ${step.to}` : ''} → ${step.saveAs}`;
    case 'waitForEvent':
      return step.event;
    case 'operator':
      return step.prompt;
    case 'command':
      return commandName(step);
    case 'custom':
      return `${step.module}${step.export ? `#${step.export}` : ''}`;
  }
}

export async function runStep(step: ScenarioStep, run: StepRun): Promise<void> {
  const { world } = run;
  const page = world.page;
  const t = (text: string): string => resolveTemplates(text, world);
  // A PIN or password a step hands over: resolved, and remembered so that no trace keeps it.
  const secret = (text: string): string => {
    const value = t(text);
    world.secrets.add(value);
    return value;
  };
  switch (step.kind) {
    case 'open': {
      const response = await gotoSettled(page, world.url(t(step.path)), { timeoutMs: run.timeoutMs });
      if (response && response.status() >= 500) throw productDefect(`${step.path} answered HTTP ${response.status()}`);
      return;
    }
    case 'click':
      await (await target(page, step.testId, step.text && t(step.text))).click({ timeout: run.timeoutMs });
      await page.waitForLoadState('load', { timeout: run.timeoutMs }).catch(() => undefined);
      return;
    case 'fill': {
      const value = isSecretFill(step) ? secret(step.value) : t(step.value);
      await page.getByTestId(step.testId).fill(value, { timeout: run.timeoutMs });
      return;
    }
    case 'expectText':
      return expectText(page, step.testId, step.text === undefined ? undefined : t(step.text), step.pattern, run);
    case 'expectScreen':
      return expectScreen(page, step.id, run);
    case 'pcLogin':
      return pcLogin(world, step.pin === undefined ? undefined : secret(step.pin), step.expect, run);
    case 'phoneScanQr':
      world.lastQr = await scanQr(world, run);
      run.log(`the phone read ${world.lastQr}`);
      return;
    case 'phoneLogin':
      return expectPhoneOutcome(() => phoneLogin(world, step.pin === undefined ? undefined : secret(step.pin), step.appPin === undefined ? undefined : secret(step.appPin)), step.expectError, 'phone login');
    case 'phoneSign':
      return expectPhoneOutcome(() => phoneSign(world, step.password === undefined ? undefined : secret(step.password), step.consent !== false), step.expectError, 'signing on the phone');
    case 'enterPin':
      return enterPin(world, step.pin, secret(step.value), step.expectTriesLeft);
    case 'card':
      return cardAction(world, step.action, step.ins, step.when ?? 'after');
    case 'expectCard':
      return expectCard(world, step.pin, step.triesLeft, step.blocked);
    case 'readOutbox':
      return readOutbox(world, step.outbox, step.to === undefined ? undefined : t(step.to), step.saveAs, run);
    case 'waitForEvent': {
      const event = await world.events.next(step.event, run.signal);
      run.log(`event ${event.name} (${event.detail})`);
      return;
    }
    case 'operator':
      return operatorStep(t(step.prompt), run);
    case 'command':
      return commandStep(step.run.map(t), step.expectExit ?? 0, run);
    case 'custom':
      return customStep(step.module, step.export, resolveArgs(step.with ?? {}, t) as Record<string, unknown>, run);
  }
}

/** A custom step's `with`, its strings' templates resolved (the loader checks them like any other field's). */
function resolveArgs(value: unknown, t: (text: string) => string): unknown {
  if (typeof value === 'string') return t(value);
  if (Array.isArray(value)) return value.map((v) => resolveArgs(v, t));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveArgs(v, t)]));
  return value;
}

/**
 * What `click` clicks: the element with the test id; else a button or link named exactly by the text
 * (what a person means by 「連携する」, even when a paragraph before it quotes 「連携する」); else the
 * first element showing the text.
 */
async function target(page: Page, testId: string | undefined, text: string | undefined): Promise<Locator> {
  if (testId) return page.getByTestId(testId);
  const named = page.getByRole('button', { name: text!, exact: true }).or(page.getByRole('link', { name: text!, exact: true }));
  if ((await named.count()) > 0) return named.first();
  return page.getByText(text!, { exact: false }).first();
}

async function expectText(page: Page, testId: string | undefined, text: string | undefined, pattern: string | undefined, run: StepRun): Promise<void> {
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

async function expectScreen(page: Page, id: string, run: StepRun): Promise<void> {
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

type LoginOutcome = 'menu' | 'registration' | 'error';

async function pcLogin(world: ScenarioWorld, pin: string | undefined, expected: LoginOutcome | undefined, run: StepRun): Promise<void> {
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

async function loginOutcome(page: Page, run: StepRun): Promise<{ kind: LoginOutcome; message: string }> {
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

const kQrTestIds = ['qr-code', 'sign-qr', 'qr'];

/** Screenshots the page with the QR code in view and decodes it, as a phone camera would. */
async function scanQr(world: ScenarioWorld, run: StepRun): Promise<string> {
  const page = world.page;
  const reader = new SimulatedPhone({ reader: world.slot.reader, pins: { auth: '' }, name: 'simulated phone' });
  let lastError: unknown;
  for (;;) {
    for (const id of kQrTestIds) {
      const qr = page.getByTestId(id).first();
      if ((await qr.count()) === 0 || !(await qr.isVisible().catch(() => false))) continue;
      const loaded = await qr
        .evaluate((el) => {
          const img = el as unknown as { tagName: string; complete?: boolean; naturalWidth?: number };
          return img.tagName !== 'IMG' || (img.complete === true && (img.naturalWidth ?? 0) > 0);
        })
        .catch(() => false);
      if (!loaded) continue;
      await qr.scrollIntoViewIfNeeded({ timeout: 2000 }).catch(() => undefined);
      try {
        return reader.scanQr(await page.screenshot());
      } catch (e) {
        lastError = e;
      }
    }
    if (run.signal.aborted) {
      if (lastError instanceof PhoneError) throw productDefect(`the phone could not read a QR code: ${lastError.message}`);
      throw productDefect(`no QR code (data-testid ${kQrTestIds.join(', ')}) is on the page at ${page.url()}`);
    }
    await sleep(100, run.signal);
  }
}

function lastQr(world: ScenarioWorld, what: string): string {
  if (!world.lastQr) throw harnessDefect(`${what} needs a QR code or link: put a phoneScanQr step before it`);
  return world.lastQr;
}

async function phoneLogin(world: ScenarioWorld, pin: string | undefined, appPin: string | undefined): Promise<void> {
  const link = lastQr(world, 'phoneLogin');
  const pins = { auth: pin ?? world.definition.pins.auth, kenhojo: world.definition.pins.kenhojo };
  const path = new URL(link).pathname;
  if (path.endsWith('/m/qr-login')) {
    await new SimulatedPhone({ reader: world.slot.reader, pins, name: 'simulated phone' }).loginWithQr(link);
  } else if (path.endsWith('/app/auth')) {
    await new AuthApp({ reader: world.slot.reader, pins, name: 'simulated phone (auth app)' }).open(link);
  } else if (path.endsWith('/xid/link')) {
    await world.xidApp(pins).link(link, appPin ?? kDefaultAppPin);
  } else {
    throw productDefect(`the QR code holds ${link}, which no phone app here opens (QR login, auth app or xID link)`);
  }
}

/** The xID-like app's PIN when a scenario does not choose one: valid by its rules (not a run, not one digit). */
const kDefaultAppPin = '2580';

async function phoneSign(world: ScenarioWorld, password: string | undefined, consent: boolean): Promise<void> {
  const link = lastQr(world, 'phoneSign');
  const app = new SigningApp({ reader: world.slot.reader, name: 'simulated phone (signing app)' });
  try {
    app.openDeepLink(link);
  } catch (e) {
    throw productDefect(`the QR code is not a signing request: ${(e as Error).message}`);
  }
  await app.review();
  if (!consent) return;
  await app.consentAndSign(password ?? world.definition.pins.sign);
}

/** Runs a phone action that should succeed, or (with `expectError`) fail with exactly that code. */
async function expectPhoneOutcome(action: () => Promise<void>, expectError: string | undefined, what: string): Promise<void> {
  try {
    await action();
  } catch (e) {
    if (!(e instanceof PhoneError)) throw e;
    const tries = e.triesLeft !== undefined ? ` (${e.triesLeft} tries left)` : '';
    if (expectError === e.code) return;
    if (expectError) throw productDefect(`expected ${what} to fail with ${expectError}, but it failed with ${e.code}${tries}: ${e.message}`, e);
    throw e;
  }
  if (expectError) throw productDefect(`expected ${what} to fail with ${expectError}, but it succeeded`);
}

const kClientPin: Record<ScenarioPin, CardPin> = { auth: 'auth', sign: 'sign', kenhojo: 'kenhojo' };

/** `direct`: the harness's own look at the card, past any device profile. */
async function withCard<T>(world: ScenarioWorld, use: (client: JpkiClient) => Promise<T>, direct = false): Promise<T> {
  const connection = await (direct ? world.slot.checks : world.slot.reader).connect();
  try {
    return await use(new JpkiClient(connection));
  } finally {
    await connection.disconnect('reset').catch(() => undefined);
  }
}

/** A PIN typed at a terminal: VERIFY on the card, right or wrong, and the tries it leaves. */
async function enterPin(world: ScenarioWorld, pin: ScenarioPin, value: string, expectTriesLeft: number | undefined): Promise<void> {
  const left = await withCard(world, async (client) => {
    try {
      await client.verifyPin(kClientPin[pin], value);
      return pinLimitOf(world.definition, pin);
    } catch (e) {
      if (e instanceof PinError) return e.triesLeft;
      throw e;
    }
  });
  if (expectTriesLeft !== undefined && left !== expectTriesLeft) {
    throw productDefect(`after entering the ${pin} PIN the card has ${left} tries left, expected ${expectTriesLeft}`);
  }
}

/** The 住基 AP's PIN EF (the JPKI client knows only the JPKI and card-info PINs). */
const kJukiPinEf = 0x001c;

async function pinState(client: JpkiClient, pin: ScenarioPin | 'juki'): Promise<{ triesLeft: number | undefined; blocked: boolean }> {
  try {
    if (pin === 'juki') {
      await client.selectAp(kAids.juki);
      await client.selectEf(kJukiPinEf);
      const { sw } = await client.send({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80 }, 'PIN status juki', [0x9000, ...Array.from({ length: 16 }, (_, i) => 0x63c0 + i)]);
      return sw === 0x9000 ? { triesLeft: undefined, blocked: false } : { triesLeft: sw & 0x0f, blocked: (sw & 0x0f) === 0 };
    }
    const left = await client.pinTriesLeft(kClientPin[pin]);
    return left < 0 ? { triesLeft: undefined, blocked: false } : { triesLeft: left, blocked: left === 0 };
  } catch (e) {
    if (e instanceof CardCommandError && (e.sw === 0x6983 || e.sw === 0x6984)) return { triesLeft: 0, blocked: true };
    throw e;
  }
}

async function expectCard(world: ScenarioWorld, pin: ScenarioPin | 'juki', triesLeft: number | undefined, blocked: boolean | undefined): Promise<void> {
  const state = await withCard(world, (client) => pinState(client, pin), true);
  const problems: string[] = [];
  if (triesLeft !== undefined && state.triesLeft !== triesLeft) problems.push(`${state.triesLeft === undefined ? 'no count (the PIN is verified)' : `${state.triesLeft} tries left`} instead of ${triesLeft}`);
  if (blocked !== undefined && state.blocked !== blocked) problems.push(state.blocked ? 'it is blocked' : 'it is not blocked');
  if (problems.length > 0) throw productDefect(`the card's ${pin} PIN: ${problems.join('; ')}`);
}

async function cardAction(world: ScenarioWorld, action: 'remove' | 'insert' | 'tear', ins: string | undefined, when: 'before' | 'after'): Promise<void> {
  const slot = world.slot;
  if (action === 'insert') {
    await slot.insert();
    slot.removedOnPurpose = false;
    return;
  }
  slot.removedOnPurpose = true;
  if (action === 'remove' || ins === undefined) {
    await slot.remove();
    return;
  }
  slot.reader.armTear({ ins: parseInt(ins, 16), when });
}

async function readOutbox(world: ScenarioWorld, channel: 'sms' | 'email', to: string | undefined, saveAs: string, run: StepRun): Promise<void> {
  for (;;) {
    let messages;
    try {
      messages = await world.outbox(channel, to);
    } catch (e) {
      throw productDefect((e as Error).message, e);
    }
    const fresh = messages.filter((m) => !world.seenOutbox.has(outboxKey(m)));
    const newest = fresh.at(-1) ?? messages.at(-1);
    if (newest && fresh.length > 0) {
      for (const m of messages) world.seenOutbox.add(outboxKey(m));
      world.saved[saveAs] = newest.code ?? newest.text ?? '';
      // The message carries a one-time code: the log says that it came, not what it says.
      run.log(`${channel} to ${newest.to}: saved as ${saveAs} (${kSecretMarker})`);
      return;
    }
    if (run.signal.aborted) throw productDefect(`no new ${channel} message${to ? ` to ${to}` : ''} in the portal's outbox (${messages.length} read before)`);
    await sleep(100, run.signal);
  }
}

function outboxKey(m: { to: string; code?: string | undefined; text?: string | undefined; sentAt?: string | undefined }): string {
  return `${m.to}|${m.sentAt ?? ''}|${m.code ?? ''}|${m.text ?? ''}`;
}

async function operatorStep(prompt: string, run: StepRun): Promise<void> {
  if (!run.operator) throw labProblem(`an operator step needs a person at a terminal ("${prompt}"); run jpki-hil interactively, or leave out scenarios that require real hardware`);
  const answer = await run.operator(prompt, run.signal);
  if (!answer.done) throw productDefect(`the operator reported a failure: ${answer.note || '(no note)'}`);
}

async function commandStep(argv: string[], expectExit: number, run: StepRun): Promise<void> {
  const [file, ...args] = argv;
  const world = run.world;
  const child = spawn(file!, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: run.signal,
    env: { ...process.env, JPKI_HIL_BASE_URL: world.baseUrl, JPKI_HIL_READER: world.slot.reader.name },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolveExit, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') reject(labProblem(`${file} did not finish within the step's ${run.timeoutMs} ms`));
      else if (e.code === 'ENOENT') reject(labProblem(`the lab tool "${file}" is not installed (not found on PATH)`));
      else reject(labProblem(`cannot run ${file}: ${e.message}`));
    });
    child.once('close', (c) => resolveExit(c));
  });
  for (const line of output.trimEnd().split('\n').slice(-20)) if (line) run.log(`${file}: ${line}`);
  if (code !== expectExit) throw labProblem(`${maskCommandLine(argv).join(' ')} exited with ${code ?? 'a signal'}, expected ${expectExit}${output ? `: ${excerpt(output.trim().split('\n').slice(-3).join(' / '))}` : ''}`);
}

async function customStep(module: string, exportName: string | undefined, args: Record<string, unknown>, run: StepRun): Promise<void> {
  const path = resolve(dirname(run.file), module);
  if (!existsSync(path)) throw harnessDefect(`custom step module ${path} does not exist`);
  const loaded = await importStepModule(path);
  const name = exportName ?? 'default';
  const fn = loaded[name];
  if (typeof fn !== 'function') {
    const found = Object.keys(loaded).filter((k) => typeof loaded[k] === 'function');
    throw harnessDefect(`${module} has no exported function "${name}"${found.length ? ` (it exports ${found.join(', ')})` : ''}`);
  }
  const { world } = run;
  const ctx: CustomStepContext = {
    page: world.page,
    baseUrl: world.baseUrl,
    reader: world.slot.reader,
    card: { pins: { ...world.definition.pins } },
    saved: world.saved,
    args,
    signal: run.signal,
    log: run.log,
    advanceClock: (ms) => world.clock.advance(ms),
    secret: (value) => {
      if (value !== '') world.secrets.add(value);
      return value;
    },
    fail: { product: (m) => productDefect(m), lab: (m) => labProblem(m) },
    otherCard: async (name) => {
      const issue = world.options.issueOther;
      if (!issue) throw harnessDefect('this run cannot issue other cards');
      return otherCardReader(await issue(name), name);
    },
  };
  try {
    await (fn as CustomStep)(ctx);
  } catch (e) {
    // What the card, reader or an agent threw keeps its own class; anything else is the step's bug.
    if (e instanceof StepFailure || e instanceof ReaderError || e instanceof CardCommandError || e instanceof PhoneError || e instanceof CardActionError) throw e;
    throw harnessDefect(`custom step ${module}: ${(e as Error).message ?? String(e)}`, e);
  }
}

/**
 * Loads a step module; TypeScript is compiled on the fly (one file, ESM). Its imports must be
 * packages or JavaScript files — or the harness's own sources (see `compiledSpecifier`).
 */
async function importStepModule(path: string): Promise<Record<string, unknown>> {
  const ext = extname(path);
  if (ext !== '.ts' && ext !== '.mts') return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const ts = (await import('typescript')).default;
  const output = ts.transpileModule(readFileSync(path, 'utf8'), {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, inlineSourceMap: true },
    reportDiagnostics: true,
  });
  const errors = (output.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) throw harnessDefect(`${path} does not compile: ${ts.flattenDiagnosticMessageText(errors[0]!.messageText, ' ')}`);
  // Next to the source, so that its relative imports of JavaScript files and packages resolve as written.
  const compiled = join(dirname(path), `.${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}.jpki-hil-step.mjs`);
  try {
    writeFileSync(compiled, output.outputText.replace(kRelativeSpecifier, (_whole, before: string, quote: string, specifier: string) => `${before}${quote}${compiledSpecifier(dirname(path), specifier)}${quote}`));
    return (await import(pathToFileURL(compiled).href)) as Record<string, unknown>;
  } finally {
    rmSync(compiled, { force: true });
  }
}

/** `from './x.js'`, `import './x.js'`, `import('./x.js')` in compiled JavaScript. */
const kRelativeSpecifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"\n]+)\2/g;

/**
 * A step next to a scenario imports the harness as the sources name it
 * (`../../../harness/jpki/jpki-client.js`), but those .js files exist only compiled, under dist/.
 * When the runner itself runs from dist/, such a specifier is pointed at the compiled file — the
 * very module the runner uses, so classes like PinError are the same on both sides. Anything that
 * exists as written is left alone.
 */
function compiledSpecifier(fromDir: string, specifier: string): string {
  const target = resolve(fromDir, specifier);
  if (existsSync(target)) return specifier;
  const dist = join(kPackageRoot, 'dist');
  if (!fileURLToPath(import.meta.url).startsWith(dist + sep)) return specifier;
  const inPackage = relative(kPackageRoot, target);
  if (inPackage.startsWith('..') || isAbsolute(inPackage) || inPackage.startsWith(`dist${sep}`)) return specifier;
  const compiled = join(dist, inPackage);
  return existsSync(compiled) ? pathToFileURL(compiled).href : specifier;
}

function excerpt(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal.aborted) return done();
    const timer = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      done();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}
