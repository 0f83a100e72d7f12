/**
 * What each step kind of a scenario does (docs/scenarios.md "Steps"): one registry entry per kind,
 * with how the step is named in reports and what it does. A step either returns or throws; what it
 * throws says whose fault it was (failures.ts). The kinds live by what they drive: browser-steps,
 * phone-steps, card-steps, lab-steps and custom-steps under steps/; step-api.ts is the typed API.
 */
import { gotoSettled } from '../browser/navigation.js';
import { harnessDefect, productDefect } from './failures.js';
import type { ScenarioStep, StepKind } from './scenario.js';
import { commandName, enterPinName, fillName, isSecretFill } from './secrets.js';
import { expectScreen, expectText, pcLogin, target } from './steps/browser-steps.js';
import { cardAction, enterPin, expectCard } from './steps/card-steps.js';
import { customStep, resolveArgs } from './steps/custom-steps.js';
import { commandStep, operatorStep, readOutbox } from './steps/lab-steps.js';
import { expectPhoneOutcome, phoneLogin, phoneSign, scanQr } from './steps/phone-steps.js';
import type { StepRun } from './steps/step-api.js';
import type { ScenarioWorld } from './world.js';

export type { CustomStep, CustomStepContext, OperatorAnswer, StepRun } from './steps/step-api.js';

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

/** What a step is given besides its fields: the run, and the template and secret resolvers. */
interface StepTools {
  run: StepRun;
  /** Resolves `${…}` templates. */
  t(text: string): string;
  /** A PIN or password a step hands over: resolved, and remembered so that no trace keeps it. */
  secret(text: string): string;
}

interface StepDefinition<K extends StepKind> {
  /** How the step is named in reports when the file gives it no name. */
  describe(step: Extract<ScenarioStep, { kind: K }>): string;
  run(step: Extract<ScenarioStep, { kind: K }>, tools: StepTools): Promise<void>;
}

const optional = <T>(value: T | undefined, f: (v: T) => string): string | undefined => (value === undefined ? undefined : f(value));

/** Every step kind, by name; the type makes a missing kind a compile error. */
const kSteps: { [K in StepKind]: StepDefinition<K> } = {
  open: {
    describe: (step) => step.path,
    run: async (step, { run, t }) => {
      const response = await gotoSettled(run.world.page, run.world.url(t(step.path)), { timeoutMs: run.timeoutMs });
      if (response && response.status() >= 500) throw productDefect(`${step.path} answered HTTP ${response.status()}`);
    },
  },
  click: {
    describe: (step) => (step.testId ? `[${step.testId}]` : `"${step.text}"`),
    run: async (step, { run, t }) => {
      const page = run.world.page;
      await (await target(page, step.testId, step.text && t(step.text))).click({ timeout: run.timeoutMs });
      await page.waitForLoadState('load', { timeout: run.timeoutMs }).catch(() => undefined);
    },
  },
  fill: {
    describe: (step) => fillName(step),
    run: async (step, { run, t, secret }) => {
      const value = isSecretFill(step) ? secret(step.value) : t(step.value);
      await run.world.page.getByTestId(step.testId).fill(value, { timeout: run.timeoutMs });
    },
  },
  expectText: {
    describe: (step) => `${step.testId ? `[${step.testId}] ` : ''}${step.text ?? `/${step.pattern}/`}`,
    run: (step, { run, t }) => expectText(run.world.page, step.testId, optional(step.text, t), step.pattern, run),
  },
  expectScreen: {
    describe: (step) => step.id,
    run: (step, { run }) => expectScreen(run.world.page, step.id, run),
  },
  pcLogin: {
    describe: (step) => `log in with the PC reader${step.expect ? ` → ${step.expect}` : ''}`,
    run: (step, { run, secret }) => pcLogin(run.world, optional(step.pin, secret), step.expect, run),
  },
  phoneScanQr: {
    describe: () => 'the phone reads the QR code',
    run: async (_step, { run }) => {
      run.world.lastQr = await scanQr(run.world, run);
      run.log(`the phone read ${run.world.lastQr}`);
    },
  },
  phoneLogin: {
    describe: (step) => `log in on the phone${step.expectError ? ` → ${step.expectError}` : ''}`,
    run: (step, { run, secret }) => expectPhoneOutcome(() => phoneLogin(run.world, optional(step.pin, secret), optional(step.appPin, secret)), step.expectError, 'phone login'),
  },
  phoneSign: {
    describe: (step) => (step.consent === false ? 'review on the phone and decline' : `sign on the phone${step.expectError ? ` → ${step.expectError}` : ''}`),
    run: (step, { run, secret }) => expectPhoneOutcome(() => phoneSign(run.world, optional(step.password, secret), step.consent !== false), step.expectError, 'signing on the phone'),
  },
  enterPin: {
    describe: (step) => enterPinName(step),
    run: async (step, { run, secret }) => {
      await enterPin(run.world, step.pin, secret(step.value), step.expectTriesLeft);
    },
  },
  card: {
    describe: (step) => `${step.action}${step.ins ? ` at INS ${step.ins.toUpperCase()} (${step.when ?? 'after'})` : ''}`,
    run: (step, { run }) => cardAction(run.world, step.action, step.ins, step.when ?? 'after'),
  },
  expectCard: {
    describe: (step) =>
      `${step.pin} PIN${step.triesLeft !== undefined ? `: ${step.triesLeft} tries left` : ''}${step.blocked !== undefined ? (step.blocked ? ', blocked' : ', not blocked') : ''}`,
    run: (step, { run }) => expectCard(run.world, step.pin, step.triesLeft, step.blocked),
  },
  readOutbox: {
    describe: (step) => `newest ${step.outbox}${step.to ? ` to ${step.to}` : ''} → ${step.saveAs}`,
    run: (step, { run, t }) => readOutbox(run.world, step.outbox, optional(step.to, t), step.saveAs, run),
  },
  waitForEvent: {
    describe: (step) => step.event,
    run: async (step, { run }) => {
      const event = await run.world.events.next(step.event, run.signal);
      run.log(`event ${event.name} (${event.detail})`);
    },
  },
  operator: {
    describe: (step) => step.prompt,
    run: (step, { run, t }) => operatorStep(t(step.prompt), run),
  },
  command: {
    describe: (step) => commandName(step),
    run: (step, { run, t }) => commandStep(step.run.map(t), step.expectExit ?? 0, run),
  },
  custom: {
    describe: (step) => `${step.module}${step.export ? `#${step.export}` : ''}`,
    run: (step, { run, t }) => customStep(step.module, step.export, resolveArgs(step.with ?? {}, t) as Record<string, unknown>, run),
  },
};

function definitionOf(step: ScenarioStep): StepDefinition<StepKind> {
  return kSteps[step.kind] as StepDefinition<StepKind>;
}

/** How a step is named in reports when the file gives it no name. */
export function describeStepFields(step: ScenarioStep): string {
  return step.name ? step.name : definitionOf(step).describe(step as never);
}

export async function runStep(step: ScenarioStep, run: StepRun): Promise<void> {
  const { world } = run;
  const t = (text: string): string => resolveTemplates(text, world);
  const secret = (text: string): string => {
    const value = t(text);
    world.secrets.add(value);
    return value;
  };
  await definitionOf(step).run(step as never, { run, t, secret });
}
