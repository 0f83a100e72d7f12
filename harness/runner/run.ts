/**
 * The runner: takes loaded scenarios and runs each in a world of its own (world.ts) on a pool of
 * workers, step by step with time limits, retrying failures when asked, and tells reporters what
 * happens (results.ts, reports/). Before a run on PC/SC it checks every reader it will use; after a
 * failed step it checks the reader again, so that a reader that went away is reported as the lab's
 * problem and not as the product's.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { CardIssuer, kAtrPresets, loadCardDefinition, type CardDefinition, type CardImage } from '../fixtures/cards.js';
import type { Reporter } from './reporter-api.js';
import { launchBrowser } from '../browser/launch-chromium.js';
import { JpkiClient, kAids } from '../jpki/jpki-client.js';
import { pcscdRunning } from '../readers/pcsc-environment.js';
import { PcscReaderProvider } from '../readers/pcsc-reader.js';
import { atrsFrom, ProfileReader } from '../readers/profile-reader.js';
import { seededRandom } from '../stats/seeded-random.js';
import type { Reader } from '../readers/reader.js';
import type { DeviceProfile } from '../profiles/profile.js';
import type { ApduTraceEntry } from '../readers/recording-reader.js';
import { openCardSlot, vpcdReaderName, vpcdSlotOf, type CardSlot, type ReaderChoice } from '../fixtures/card-slot.js';
import { classify, firstLine } from './failures.js';
import type { ApduRecord, Attachment, Failure, RunInfo, RunResult, ScenarioInfo, ScenarioResult, StepResult } from './results.js';
import type { Scenario } from './scenario.js';
import { describeStepFields, runStep, type OperatorAnswer } from './steps.js';
import { ScenarioWorld, type PortalDefectName } from './world.js';

export const kDefaultStepTimeoutMs = 15_000;
export const kDefaultScenarioTimeoutMs = 180_000;
/** vpcd's Debian configuration gives pcscd two slots. */
export const kVpcdSlots = 2;
/** More APDUs than this in one step are counted, not kept (a runaway loop must not fill the report). */
const kMaxApdusPerStep = 5000;

export interface RunOptions {
  scenarios: readonly Scenario[];
  reader: ReaderChoice;
  workers: number;
  retries: number;
  /** Reports, screenshots, traces. */
  outDir: string;
  reporter: Reporter;
  suite?: string | undefined;
  suiteVersion: string;
  /** The site under test for `portal: external` scenarios (and instead of the mock portals when set). */
  baseUrl?: string | undefined;
  stepTimeoutMs?: number | undefined;
  /** Answers operator prompts; without it operator steps fail as lab problems. */
  operator?: ((prompt: string, signal: AbortSignal) => Promise<OperatorAnswer>) | undefined;
  /** Stops the run: running scenarios end at their current step, the rest are skipped. */
  signal?: AbortSignal | undefined;
  /** Progress and diagnostics (stderr in the CLI). */
  log: (line: string) => void;
  /** Keep a Playwright trace for failures (default true). */
  trace?: boolean | undefined;
  /** The device the card is read through (the profile shim); none: the reader as it is. */
  profile?: DeviceProfile | undefined;
  /** Seeds the profile's fault odds, so that a run can be repeated (default 1). */
  seed?: number | undefined;
  /** Shared with other runs (the caller closes it); default: made for this run and closed after it. */
  resources?: RunResources | undefined;
  /**
   * Mistakes the mock portals make on purpose (harness/portal/shared/flaws.ts), to prove that scenarios
   * catch them: a negative scenario must then fail as a product defect. None by default.
   */
  portalFlaws?: readonly string[] | undefined;
  /** Deliberate flaws of the mock portals (world.ts), for proving what negative scenarios catch. */
  portalDefects?: PortalDefectName[] | undefined;
}

/** Why a scenario cannot run with these options, or undefined when it can. */
export function skipReason(scenario: Scenario, options: Pick<RunOptions, 'reader' | 'baseUrl' | 'profile'>): string | undefined {
  if (scenario.requires.realHardware && options.reader.kind === 'emulator') return 'needs real hardware: run it with --reader pcsc:<reader name>';
  if (scenario.portal === 'external' && !options.baseUrl) return 'targets an external portal: give its URL with --base-url';
  if (options.profile) return notApplicable(scenario, options.profile);
  if (scenario.requires.phone === 'ios' || scenario.requires.phone === 'android') return `needs an ${scenario.requires.phone === 'ios' ? 'iPhone' : 'Android phone'}; the simulated phone is neither (choose a phone --profile)`;
  return undefined;
}

const kPhoneStepKinds = new Set(['phoneScanQr', 'phoneLogin', 'phoneSign']);

/**
 * Whether a scenario applies to a device, from what the device declares (its profile, read like an
 * implementation conformance statement) and what the scenario requires; the reason when it does not.
 */
export function notApplicable(scenario: Scenario, profile: DeviceProfile): string | undefined {
  const req = scenario.requires;
  if (req.interface !== 'any' && profile.interface !== 'both' && profile.interface !== req.interface) {
    return `needs a ${req.interface} interface; ${profile.name} is ${profile.interface} only`;
  }
  if (req.extendedLength && !profile.apdu.extendedLength) return `needs extended-length APDUs, which ${profile.name} does not declare`;
  const usesPhone = req.phone !== 'none' || scenario.steps.some((s) => kPhoneStepKinds.has(s.kind));
  const usesPcReader = scenario.steps.some((s) => s.kind === 'pcLogin');
  if (profile.kind === 'reader' && usesPhone) return `a phone flow; ${profile.name} is a reader`;
  if (profile.kind === 'phone' && usesPcReader) return `a PC reader flow; ${profile.name} is a phone`;
  if (profile.kind === 'phone' && (req.phone === 'ios' || req.phone === 'android') && profile.phone?.os !== req.phone) {
    return `needs an ${req.phone === 'ios' ? 'iPhone' : 'Android phone'}; ${profile.name} is not one`;
  }
  return undefined;
}

export function scenarioInfo(s: Scenario): ScenarioInfo {
  return { id: s.id, title: s.title, tags: s.tags, file: s.file };
}

/**
 * What runs can share: the test CA with the cards it issued, and the browser. A run makes its own
 * unless the caller passes one — certification runs every device through one, and so do tests.
 */
export class RunResources {
  private _browser: Promise<Browser> | undefined;

  private constructor(
    readonly cards: CardIssuer,
    private readonly _workDir: string,
  ) {}

  static create(): RunResources {
    const workDir = mkdtempSync(join(tmpdir(), 'jpki-hil-run-'));
    return new RunResources(CardIssuer.open(join(workDir, 'ca')), workDir);
  }

  /** Launched on first use. */
  browser(): Promise<Browser> {
    this._browser ??= launchBrowser();
    return this._browser;
  }

  async close(): Promise<void> {
    if (this._browser) await (await this._browser.catch(() => undefined))?.close().catch(() => undefined);
    rmSync(this._workDir, { recursive: true, force: true });
  }
}

interface RunContext {
  options: RunOptions;
  resources: RunResources;
  provider: PcscReaderProvider | undefined;
}

export async function runScenarios(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const info: RunInfo = {
    ...(options.suite ? { suite: options.suite } : {}),
    suiteVersion: options.suiteVersion,
    startedAt: new Date(started).toISOString(),
    reader: describeReader(options.reader),
    ...(options.profile ? { profile: options.profile.id } : {}),
  };
  options.reporter.onBegin?.(info);
  mkdirSync(options.outDir, { recursive: true });
  // Evidence of an earlier run in the same place would be mistaken for this run's.
  rmSync(join(options.outDir, 'artifacts'), { recursive: true, force: true });
  const results = new Map<string, ScenarioResult>();
  const provider = options.reader.kind === 'pcsc' ? new PcscReaderProvider() : undefined;
  const resources = options.resources ?? RunResources.create();
  try {
    const ctx: RunContext = { options, resources, provider };

    const runnable: Scenario[] = [];
    for (const scenario of options.scenarios) {
      const reason = skipReason(scenario, options);
      if (reason) finish(results, options.reporter, { scenario: scenarioInfo(scenario), status: 'skipped', attempts: 0, durationMs: 0, steps: [], error: { classification: 'harness', message: reason } });
      else runnable.push(scenario);
    }

    const health = runnable.length > 0 ? await checkReaders(options, provider) : undefined;
    if (health) {
      options.log(`reader health check failed: ${health}`);
      for (const scenario of runnable) {
        finish(results, options.reporter, { scenario: scenarioInfo(scenario), status: 'failed', attempts: 0, durationMs: 0, steps: [], error: { classification: 'lab', message: `reader health check failed: ${health}` } });
      }
    } else {
      const workers = workerCount(options, runnable.length);
      const queue = [...runnable];
      await Promise.all(
        Array.from({ length: workers }, async (_, worker) => {
          for (let scenario = queue.shift(); scenario; scenario = queue.shift()) {
            if (options.signal?.aborted) {
              finish(results, options.reporter, { scenario: scenarioInfo(scenario), status: 'skipped', attempts: 0, durationMs: 0, steps: [], error: { classification: 'harness', message: 'the run was stopped before this scenario' } });
              continue;
            }
            finish(results, options.reporter, await runWithRetries(ctx, scenario, worker));
          }
        }),
      );
    }
  } finally {
    await provider?.close().catch(() => undefined);
    if (!options.resources) await resources.close();
  }
  const ordered = options.scenarios.map((s) => results.get(s.id)!).filter(Boolean);
  const failed = ordered.some((r) => r.status === 'failed');
  const result: RunResult = {
    info,
    scenarios: ordered,
    durationMs: Date.now() - started,
    status: options.signal?.aborted ? 'interrupted' : failed ? 'failed' : 'passed',
  };
  await options.reporter.onEnd?.(result);
  return result;
}

function finish(results: Map<string, ScenarioResult>, reporter: Reporter, result: ScenarioResult): void {
  results.set(result.scenario.id, result);
  reporter.onScenarioEnd?.(result);
}

export function describeReader(choice: ReaderChoice): string {
  if (choice.kind === 'emulator') return 'in-process emulator';
  return choice.name ? `PC/SC reader "${choice.name}"` : 'PC/SC through pcscd and vpcd';
}

function workerCount(options: RunOptions, scenarios: number): number {
  let workers = Math.max(1, Math.min(options.workers, scenarios));
  if (options.reader.kind === 'pcsc') {
    const limit = options.reader.name === undefined ? kVpcdSlots : 1;
    if (workers > limit) {
      options.log(`--workers ${workers} lowered to ${limit}: ${limit === 1 ? 'one named reader holds one card' : `vpcd has ${kVpcdSlots} slots`}`);
      workers = limit;
    }
  }
  return workers;
}

/**
 * Before a PC/SC run: pcscd answers, every reader the run will use is there, and a reader whose card
 * the harness does not serve holds a card that answers with an ATR and selects the JPKI AP.
 * Returns what is wrong, or undefined.
 */
async function checkReaders(options: RunOptions, provider: PcscReaderProvider | undefined): Promise<string | undefined> {
  if (options.reader.kind !== 'pcsc' || !provider) return undefined;
  if (!pcscdRunning()) return 'pcscd is not running (start it with: pcscd -f &, or run bash scripts/setup.sh --pcsc)';
  let names: string[];
  try {
    names = (await provider.list()).map((r) => r.name);
  } catch (e) {
    return (e as Error).message;
  }
  const wanted = options.reader.name;
  const served = wanted === undefined || vpcdSlotOf(wanted) !== undefined;
  const needed = wanted !== undefined ? [wanted] : Array.from({ length: Math.min(kVpcdSlots, Math.max(1, options.workers)) }, (_, i) => vpcdReaderName(i));
  for (const name of needed) {
    if (!names.some((n) => n === name || (!served && n.toLowerCase().includes(name.toLowerCase())))) {
      return `no reader "${name}" in pcscd (readers: ${names.length ? names.join(', ') : 'none'}); ${served ? 'is the vpcd driver installed (apt-get install vsmartcard-vpcd) and pcscd restarted?' : 'plug it in, or check the name with jpki-hil readers'}`;
    }
  }
  if (served) {
    options.log(`reader health: ${needed.join(', ')} present in pcscd; the harness serves each scenario's card there`);
    return undefined;
  }
  let reader: Reader | undefined;
  try {
    reader = await provider.open(wanted);
    if (!reader.cardPresent()) return `no card in "${reader.name}": put the card on the reader`;
    const connection = await reader.connect();
    try {
      await new JpkiClient(connection).selectAp(kAids.jpki);
    } finally {
      await connection.disconnect('reset').catch(() => undefined);
    }
    options.log(`reader health: "${reader.name}": card present, ATR ${Buffer.from(reader.atr() ?? []).toString('hex').toUpperCase()}, JPKI AP selected`);
    return undefined;
  } catch (e) {
    return `"${wanted}": ${(e as Error).message}`;
  }
}

async function runWithRetries(ctx: RunContext, scenario: Scenario, worker: number): Promise<ScenarioResult> {
  const started = Date.now();
  let definition: CardDefinition;
  let image: CardImage;
  try {
    definition = loadCardDefinition(scenario.cardFile);
    image = await ctx.resources.cards.issue(definition);
  } catch (e) {
    return {
      scenario: scenarioInfo(scenario),
      status: 'failed',
      attempts: 0,
      durationMs: Date.now() - started,
      steps: [],
      error: { classification: 'harness', message: `cannot issue the card ${scenario.card}: ${(e as Error).message}` },
    };
  }
  let last: AttemptResult | undefined;
  const attempts = 1 + Math.max(0, ctx.options.retries);
  let attempt = 1;
  for (; attempt <= attempts; attempt++) {
    last = await runAttempt(ctx, scenario, definition, structuredClone(image), worker, attempt);
    if (!last.failure) break;
    if (ctx.options.signal?.aborted) break;
    if (attempt < attempts) ctx.options.log(`${scenario.id}: attempt ${attempt} failed (${last.failure.classification}: ${firstLine(last.failure.message)}); retrying`);
  }
  const ran = Math.min(attempt, attempts);
  const status = !last!.failure ? (ran > 1 ? 'flaky' : 'passed') : 'failed';
  return {
    scenario: scenarioInfo(scenario),
    status,
    attempts: ran,
    durationMs: Date.now() - started,
    steps: last!.steps,
    ...(last!.failure && last!.outsideSteps ? { error: last!.failure } : {}),
  };
}

interface AttemptResult {
  steps: StepResult[];
  failure?: Failure | undefined;
  /** The failure happened outside any step (set-up, the scenario's time limit). */
  outsideSteps?: boolean;
}

async function runAttempt(ctx: RunContext, scenario: Scenario, definition: CardDefinition, image: CardImage, worker: number, attempt: number): Promise<AttemptResult> {
  const { options } = ctx;
  const info = scenarioInfo(scenario);
  options.reporter.onScenarioBegin?.(info);
  const artifacts = join(options.outDir, 'artifacts', safeName(scenario.id), `attempt-${attempt}`);
  const log = (line: string): void => options.log(`${scenario.id}: ${line}`);
  const trace: ApduTraceEntry[] = [];
  let current: ApduRecord[] | undefined;
  let dropped = 0;
  const onApdu = (entry: ApduTraceEntry): void => {
    trace.push(entry);
    if (!current) return;
    if (current.length < kMaxApdusPerStep) current.push(entry);
    else dropped++;
  };
  const steps: StepResult[] = scenario.steps.map((step, index) => ({ index, kind: step.kind, name: describeStepFields(step), status: 'skipped', durationMs: 0 }));
  const scenarioDeadline = Date.now() + (scenario.timeoutMs ?? kDefaultScenarioTimeoutMs);
  let slot: CardSlot | undefined;
  let world: ScenarioWorld | undefined;
  try {
    try {
      const profile = options.profile;
      const random = seededRandom((options.seed ?? 1) + attempt * 7919 + hashOf(scenario.id));
      const wrap = profile
        ? (reader: Reader, powerCycle: () => Promise<void>): Reader => new ProfileReader(reader, profile, { atrs: atrsFrom(kAtrPresets), random, powerCycle, log })
        : undefined;
      slot = await openCardSlot(options.reader, { image, index: worker, onApdu, provider: ctx.provider, log, wrap });
      world = await ScenarioWorld.create({
        portal: scenario.portal,
        definition,
        caDir: ctx.resources.cards.caDir,
        slot,
        browser: await ctx.resources.browser(),
        baseUrl: options.baseUrl,
        trace: options.trace ?? true,
        portalDefects: options.portalDefects,
        log,
        portalFlaws: options.portalFlaws,
        issueOther: (name) => ctx.resources.cards.issueOther(name),
      });
    } catch (e) {
      const failure = classify(e);
      // Set-up trouble is the lab's unless the harness itself broke (a TypeError and the like).
      return { steps, failure: { ...failure, message: `set-up failed: ${failure.message}`, classification: failure.classification === 'product' ? 'lab' : failure.classification }, outsideSteps: true };
    }
    const stepTimeout = options.stepTimeoutMs ?? kDefaultStepTimeoutMs;
    for (const [index, step] of scenario.steps.entries()) {
      const result = steps[index]!;
      options.reporter.onStepBegin?.(info, result);
      const apdus: ApduRecord[] = [];
      current = apdus;
      dropped = 0;
      const remaining = scenarioDeadline - Date.now();
      const timeoutMs = Math.max(1, Math.min(step.timeoutMs ?? (step.kind === 'operator' ? step.timeoutMs : stepTimeout), remaining));
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new Error('step time limit')), timeoutMs);
      const stop = (): void => controller.abort(new Error('run stopped'));
      options.signal?.addEventListener('abort', stop, { once: true });
      const t0 = performance.now();
      world.page.setDefaultTimeout(timeoutMs);
      let failure: Failure | undefined;
      try {
        await raceAbort(runStep(step, { world, file: scenario.file, signal: controller.signal, timeoutMs, operator: options.operator, log }), controller.signal, () =>
          remaining <= timeoutMs && !step.timeoutMs
            ? `the scenario's time limit (${scenario.timeoutMs ?? kDefaultScenarioTimeoutMs} ms) ran out during this step`
            : options.signal?.aborted
              ? 'the run was stopped'
              : `the step did not finish within ${timeoutMs} ms`,
        );
      } catch (e) {
        failure = classify(e);
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', stop);
      }
      result.durationMs = Math.round(performance.now() - t0);
      result.apdus = apdus;
      if (dropped > 0) log(`step ${index + 1}: ${dropped} more APDUs than the ${kMaxApdusPerStep} kept`);
      if (failure) {
        failure = await labIfReaderGone(failure, slot);
        result.status = 'failed';
        result.error = failure;
        result.attachments = await keepEvidence(world, artifacts, trace);
        options.reporter.onStepEnd?.(info, result);
        return { steps, failure };
      }
      result.status = 'passed';
      options.reporter.onStepEnd?.(info, result);
    }
    return { steps };
  } finally {
    current = undefined;
    await world?.close().catch(() => undefined);
    await slot?.close().catch(() => undefined);
  }
}

/** How long a step whose time is up may take to say in its own words what it was waiting for. */
const kAbortGraceMs = 1000;

/**
 * Races a step against its abort signal: a step that ignores the signal still ends on time. Steps
 * that watch the signal get a moment to fail with their own, more telling message.
 */
async function raceAbort<T>(work: Promise<T>, signal: AbortSignal, why: () => string): Promise<T> {
  let onAbort: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => reject(new StepTimeout(why())), kAbortGraceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } catch (e) {
    // A step that broke off because its signal fired (not with a failure of its own) ran out of time.
    if (signal.aborted && !(e instanceof StepTimeout) && !isStepFailure(e)) throw new StepTimeout(why());
    throw e;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
  }
}

function isStepFailure(e: unknown): boolean {
  return e instanceof Error && ['ProductDefect', 'LabProblem', 'HarnessDefect'].includes(e.name);
}

/** A step that ran out of time: the product did not answer in time (classified as a timeout, product). */
class StepTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * A failure the product seemed to cause, while the reader had in fact lost its card (not on the
 * scenario's orders) or stopped answering, is the lab's.
 */
async function labIfReaderGone(failure: Failure, slot: CardSlot | undefined): Promise<Failure> {
  if (failure.classification !== 'product' || !slot || slot.removedOnPurpose) return failure;
  let problem: string | undefined;
  if (!slot.checks.cardPresent()) problem = `no card in reader "${slot.checks.name}" although the scenario did not remove it`;
  else {
    try {
      const connection = await slot.checks.connect();
      try {
        await new JpkiClient(connection).selectAp(kAids.jpki);
      } finally {
        await connection.disconnect('reset').catch(() => undefined);
      }
    } catch (e) {
      problem = `reader "${slot.checks.name}" no longer answers (${(e as Error).message})`;
    }
  }
  if (!problem) return failure;
  return { classification: 'lab', message: `${problem}; the step failed with: ${failure.message}`, stack: failure.stack };
}

/** A screenshot, the Playwright trace and the whole APDU trace of a failed attempt. */
async function keepEvidence(world: ScenarioWorld, dir: string, trace: ApduTraceEntry[]): Promise<Attachment[]> {
  mkdirSync(dir, { recursive: true });
  const attachments: Attachment[] = [];
  const screenshot = join(dir, 'failure.png');
  try {
    await world.page.screenshot({ path: screenshot, fullPage: true, timeout: 5000 });
    attachments.push({ name: 'screenshot', path: screenshot, contentType: 'image/png' });
  } catch {
    // The page may be gone with the browser; the other evidence still helps.
  }
  const traceZip = join(dir, 'playwright-trace.zip');
  if (await world.saveTrace(traceZip)) attachments.push({ name: 'playwright-trace', path: traceZip, contentType: 'application/zip' });
  const apdus = join(dir, 'apdu-trace.json');
  writeFileSync(apdus, `${JSON.stringify(trace, null, 2)}\n`);
  attachments.push({ name: 'apdu-trace', path: apdus, contentType: 'application/json' });
  return attachments;
}

/** A stable number from a scenario id, so that each scenario draws its own faults. */
function hashOf(text: string): number {
  let h = 0;
  for (const c of text) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return h;
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}
