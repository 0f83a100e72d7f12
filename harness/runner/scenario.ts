/**
 * Scenario files: YAML under scenarios/ that say what a flow needs of the lab (rule 10: the device
 * matrix is data), which card definition to issue, which portal, and the steps to run. Loading
 * validates against scenario-schema.json — the one description of the format, also usable by
 * editors — and then checks what a schema cannot: that the card definition exists, that
 * `${…}` references name something, that ids are unique across files. Every error names the
 * file, the line and the field, so that a person can fix a file without reading this code.
 *
 * Template strings (`${card.pins.auth}`, `${saved.otp}`) are kept as written; the runner
 * resolves them when the step runs.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { kCardDefinitionsDir } from '../package-root.js';
import schemaJson from './scenario-schema.json' with { type: 'json' };
import {
  createValidator,
  didYouMean,
  fieldName,
  formatYamlProblem,
  isObject,
  readYamlFile,
  type Fail,
  type PathSegment,
  type Schema,
  type YamlProblem,
} from '../../common/yaml-schema.js';
import type { PortalKind } from '../fixtures/portals.js';

export { didYouMean } from '../../common/yaml-schema.js';

// ---------------------------------------------------------------------------------------------
// The typed result

export type InterfaceRequirement = 'contact' | 'contactless' | 'any';
export type PhoneRequirement = 'none' | 'any' | 'ios' | 'android';
export type { PortalKind };
export type ScenarioPin = 'auth' | 'sign' | 'kenhojo';

/** What every step may carry, plus where it is written (for the runner's messages). */
interface StepBase {
  name?: string | undefined;
  timeoutMs?: number | undefined;
  /** 1-based line of the step in its file. */
  line: number;
}

export interface OpenStep extends StepBase { kind: 'open'; path: string }
export interface ClickStep extends StepBase { kind: 'click'; testId?: string | undefined; text?: string | undefined }
export interface FillStep extends StepBase { kind: 'fill'; testId: string; value: string; secret?: boolean | undefined }
export interface ExpectTextStep extends StepBase { kind: 'expectText'; testId?: string | undefined; text?: string | undefined; pattern?: string | undefined }
export interface ExpectScreenStep extends StepBase { kind: 'expectScreen'; id: string }
export interface PcLoginStep extends StepBase { kind: 'pcLogin'; pin?: string | undefined; expect?: 'menu' | 'registration' | 'error' | undefined }
export interface PhoneScanQrStep extends StepBase { kind: 'phoneScanQr' }
export interface PhoneLoginStep extends StepBase { kind: 'phoneLogin'; pin?: string | undefined; appPin?: string | undefined; expectError?: string | undefined }
export interface PhoneSignStep extends StepBase { kind: 'phoneSign'; password?: string | undefined; consent?: boolean | undefined; expectError?: string | undefined }
export interface EnterPinStep extends StepBase { kind: 'enterPin'; pin: ScenarioPin; value: string; expectTriesLeft?: number | undefined }
export interface CardStep extends StepBase { kind: 'card'; action: 'remove' | 'insert' | 'tear'; ins?: string | undefined; when?: 'before' | 'after' | undefined }
export interface ExpectCardStep extends StepBase { kind: 'expectCard'; pin: ScenarioPin | 'juki'; triesLeft?: number | undefined; blocked?: boolean | undefined }
/** The file's `kind: sms | email` is `outbox` here, as `kind` names the step kind. */
export interface ReadOutboxStep extends StepBase { kind: 'readOutbox'; outbox: 'sms' | 'email'; to?: string | undefined; saveAs: string }
export interface WaitForEventStep extends StepBase { kind: 'waitForEvent'; event: string }
export interface OperatorStep extends StepBase { kind: 'operator'; prompt: string; timeoutMs: number }
export interface CommandStep extends StepBase { kind: 'command'; run: string[]; expectExit?: number | undefined }
export interface CustomStep extends StepBase { kind: 'custom'; module: string; export?: string | undefined; with?: Record<string, unknown> | undefined }

export type ScenarioStep =
  | OpenStep
  | ClickStep
  | FillStep
  | ExpectTextStep
  | ExpectScreenStep
  | PcLoginStep
  | PhoneScanQrStep
  | PhoneLoginStep
  | PhoneSignStep
  | EnterPinStep
  | CardStep
  | ExpectCardStep
  | ReadOutboxStep
  | WaitForEventStep
  | OperatorStep
  | CommandStep
  | CustomStep;

export type StepKind = ScenarioStep['kind'];

export interface ScenarioRequirements {
  interface: InterfaceRequirement;
  extendedLength: boolean;
  phone: PhoneRequirement;
  realHardware: boolean;
}

export interface Scenario {
  id: string;
  title: string;
  tags: string[];
  seed?: string | undefined;
  /** With defaults filled in: any interface, no extended length, no phone, no real hardware. */
  requires: ScenarioRequirements;
  /** The card as written in the file. */
  card: string;
  /** The card definition file it names. */
  cardFile: string;
  portal: PortalKind;
  timeoutMs?: number | undefined;
  steps: ScenarioStep[];
  /** The scenario file, as it was given to the loader. */
  file: string;
}

/** One problem in one file. `line` is 1-based (1 when the problem is the whole file). */
export type ScenarioError = YamlProblem;

export function formatScenarioError(e: ScenarioError): string {
  return formatYamlProblem(e);
}

/** Thrown by loadScenarioFile with every problem found in the file. */
export class ScenarioFileError extends Error {
  constructor(readonly errors: ScenarioError[]) {
    super(errors.map(formatScenarioError).join('\n'));
    this.name = 'ScenarioFileError';
  }
}

export interface ScenarioLoadOptions {
  /** Where card definitions named without a path live; default: the package's scenarios/cards. */
  cardsDir?: string;
}

export const kStepKinds: readonly StepKind[] = Object.keys(schemaJson.$defs.step.properties) as StepKind[];

// ---------------------------------------------------------------------------------------------
// Loading

/** Reads, validates and types one scenario file; throws ScenarioFileError listing every problem. */
export function loadScenarioFile(path: string, options: ScenarioLoadOptions = {}): Scenario {
  const { scenario, errors } = readScenario(path, options);
  if (!scenario) throw new ScenarioFileError(errors);
  return scenario;
}

/**
 * Loads scenario files and every *.yaml / *.yml below given directories (skipping card
 * definitions), and reports problems instead of throwing: a bad file does not hide the others.
 */
export function loadScenarios(pathsOrDirs: readonly string[], options: ScenarioLoadOptions = {}): { scenarios: Scenario[]; errors: ScenarioError[] } {
  const cardsDir = resolve(options.cardsDir ?? kCardDefinitionsDir);
  const scenarios: Scenario[] = [];
  const errors: ScenarioError[] = [];
  const files: string[] = [];
  for (const p of pathsOrDirs) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      errors.push({ file: p, line: 1, field: '(file)', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      continue;
    }
    if (isDir) collectYaml(p, cardsDir, files);
    else files.push(p);
  }
  const seenFiles = new Set<string>();
  const byId = new Map<string, Scenario>();
  for (const file of files) {
    if (seenFiles.has(resolve(file))) continue;
    seenFiles.add(resolve(file));
    const result = readScenario(file, options);
    errors.push(...result.errors);
    const s = result.scenario;
    if (!s) continue;
    const first = byId.get(s.id);
    if (first) {
      errors.push({
        file,
        line: result.lineOf(['id']),
        field: 'id',
        message: `duplicate scenario id "${s.id}": also used by ${first.file}`,
        hint: 'ids are unique across all scenario files',
      });
      continue;
    }
    byId.set(s.id, s);
    scenarios.push(s);
  }
  return { scenarios, errors };
}

function collectYaml(dir: string, cardsDir: string, out: string[]): void {
  if (resolve(dir) === cardsDir) return;
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'cards' && !entry.name.startsWith('.')) collectYaml(p, cardsDir, out);
    } else if (/\.ya?ml$/.test(entry.name)) out.push(p);
  }
}

interface ReadResult {
  scenario?: Scenario | undefined;
  errors: ScenarioError[];
  lineOf: (path: PathSegment[]) => number;
}

function readScenario(file: string, options: ScenarioLoadOptions): ReadResult {
  const read = readYamlFile(file);
  if (read.errors.length > 0) return { errors: read.errors, lineOf: () => 1 };
  const errors: ScenarioError[] = [];
  const { lineOf } = read;
  const fail: Fail = (path, message, hint) => {
    errors.push({ file, line: lineOf(path), field: fieldName(path), message, hint });
  };
  const raw = normaliseEmptySteps(read.raw);
  validateScenario(raw, fail);
  if (errors.length > 0) {
    // The card is worth reporting with the rest, when it is at least a name.
    const card = isObject(raw) ? raw.card : undefined;
    if (typeof card === 'string' && !errors.some((e) => e.field === 'card')) checkCard(card, file, options, fail);
    return { errors, lineOf };
  }

  const scenario = toScenario(raw as RawScenario, file, lineOf);
  checkBeyondSchema(scenario, file, options, fail);
  return { scenario: errors.length > 0 ? undefined : scenario, errors, lineOf };
}

/** `- phoneScanQr:` (no fields) is read as `- phoneScanQr: {}`. */
function normaliseEmptySteps(raw: unknown): unknown {
  if (!isObject(raw) || !Array.isArray(raw.steps)) return raw;
  for (const step of raw.steps as unknown[]) {
    if (!isObject(step)) continue;
    for (const [k, v] of Object.entries(step)) if (v === null) step[k] = {};
  }
  return raw;
}

// ---------------------------------------------------------------------------------------------
// Validation against scenario-schema.json (the validator is shared with the device profiles)

const kRoot = schemaJson as unknown as Schema;

const validateScenario = createValidator(kRoot, {
  schemaName: 'scenario-schema.json',
  patternHint,
  keyedUnion: (schema) =>
    schema === kRoot.$defs?.step
      ? {
          noun: 'step',
          keyNoun: 'step kind',
          maxPropertiesHint: 'a step is a mapping with one key, the step kind; put name and timeoutMs inside it, e.g. "- click: { testId: submit, name: send }"',
        }
      : undefined,
});

function patternHint(path: PathSegment[]): string | undefined {
  const last = path[path.length - 1];
  if (path.length === 1 && last === 'id') return 'kebab-case: lower-case letters and digits joined by "-", e.g. first-login-registration';
  if (path[0] === 'tags') return 'tags are kebab-case';
  if (last === 'id') return 'the screen number as printed on the page (画面番号), e.g. B-01';
  if (last === 'ins') return 'one byte in hex, e.g. "2A" for PERFORM SECURITY OPERATION';
  if (last === 'seed') return 'a file name under seeds/, e.g. 002_e6711cfc8166a60d.txt';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// From validated data to the typed scenario, and the checks a schema cannot make

interface RawScenario {
  id: string;
  title: string;
  tags?: string[];
  seed?: string;
  requires?: Partial<ScenarioRequirements>;
  card: string;
  portal: PortalKind;
  timeoutMs?: number;
  steps: Record<string, Record<string, unknown>>[];
}

function toScenario(raw: RawScenario, file: string, lineOf: (path: PathSegment[]) => number): Scenario {
  const steps = raw.steps.map((step, i): ScenarioStep => {
    const [kind, body] = Object.entries(step)[0]!;
    const line = lineOf(['steps', i]);
    // readOutbox's own `kind` (sms or email) would clash with the step kind: it becomes `outbox`.
    if (kind === 'readOutbox') {
      const { kind: outbox, ...rest } = body;
      return { ...rest, kind, outbox, line } as ScenarioStep;
    }
    return { ...body, kind, line } as ScenarioStep;
  });
  return {
    id: raw.id,
    title: raw.title,
    tags: raw.tags ?? [],
    seed: raw.seed,
    requires: {
      interface: raw.requires?.interface ?? 'any',
      extendedLength: raw.requires?.extendedLength ?? false,
      phone: raw.requires?.phone ?? 'none',
      realHardware: raw.requires?.realHardware ?? false,
    },
    card: raw.card,
    cardFile: '',
    portal: raw.portal,
    timeoutMs: raw.timeoutMs,
    steps,
    file,
  };
}

const kPhoneSteps = new Set<StepKind>(['phoneScanQr', 'phoneLogin', 'phoneSign']);
const kCardFields = ['pins.auth', 'pins.sign', 'pins.kenhojo', 'pins.juki'];

/** The card definition must exist: a bare name under the cards folder, else a path from the scenario file. */
function checkCard(card: string, file: string, options: ScenarioLoadOptions, fail: Fail): string {
  const cardsDir = options.cardsDir ?? kCardDefinitionsDir;
  const bare = !/[/\\]/.test(card) && extname(card) === '';
  const cardFile = bare ? join(cardsDir, `${card}.yaml`) : isAbsolute(card) ? card : resolve(dirname(file), card);
  if (!existsSync(cardFile)) {
    const names = existsSync(cardsDir) ? readdirSync(cardsDir).filter((n) => /\.ya?ml$/.test(n)).map((n) => n.replace(/\.ya?ml$/, '')) : [];
    const near = bare ? didYouMean(card, names) : undefined;
    fail(['card'], bare ? `no card definition "${card}" in ${cardsDir}` : `card definition file not found: ${cardFile}`, `${near ? `${near}; ` : ''}known cards: ${names.join(', ')}`);
  }
  return cardFile;
}

function checkBeyondSchema(s: Scenario, file: string, options: ScenarioLoadOptions, fail: Fail): void {
  s.cardFile = checkCard(s.card, file, options, fail);

  // Rule 10: what the steps use must be declared, so that the runner can match profiles.
  s.steps.forEach((step, i) => {
    if (kPhoneSteps.has(step.kind) && s.requires.phone === 'none') {
      fail(['steps', i, step.kind], 'this step uses the phone agent, but the scenario does not require a phone', 'set requires.phone to any, ios or android');
    }
  });

  // Template references and regular expressions, in step order: ${saved.x} only after it is saved.
  const saved = new Set<string>();
  s.steps.forEach((step, i) => {
    const stepPath: PathSegment[] = ['steps', i, step.kind];
    forEachString(step, [], (value, fieldPath) => {
      for (const m of value.matchAll(/\$\{([^}]*)\}/g)) {
        const ref = m[1]!.trim();
        const path = [...stepPath, ...fieldPath.map((p) => (p === 'outbox' ? 'kind' : p))];
        if (ref.startsWith('saved.')) {
          const name = ref.slice('saved.'.length);
          if (!saved.has(name)) fail(path, `\${${ref}} is not saved by an earlier step`, saved.size > 0 ? `saved so far: ${[...saved].join(', ')}` : 'save it first with readOutbox: { saveAs: … }');
        } else if (ref.startsWith('card.')) {
          const field = ref.slice('card.'.length);
          if (!kCardFields.includes(field)) {
            const near = didYouMean(ref, kCardFields.map((f) => `card.${f}`));
            fail(path, `unknown card reference \${${ref}}`, `${near ? `${near}; ` : ''}known: ${kCardFields.map((f) => `\${card.${f}}`).join(', ')}`);
          }
        } else {
          fail(path, `unknown reference \${${ref}}`, 'references are ${card.pins.<pin>} and ${saved.<name>}');
        }
      }
    });
    if (step.kind === 'expectText' && step.pattern !== undefined) {
      try {
        new RegExp(step.pattern, 'u');
      } catch (e) {
        fail([...stepPath, 'pattern'], `not a valid regular expression: ${(e as Error).message}`);
      }
    }
    if (step.kind === 'custom' && /^\.\.?[/\\]/.test(step.module) && !existsSync(resolve(dirname(file), step.module))) {
      fail([...stepPath, 'module'], `module not found: ${resolve(dirname(file), step.module)}`, 'custom modules are resolved from the scenario file');
    }
    if (step.kind === 'readOutbox') saved.add(step.saveAs);
  });
}

function forEachString(value: unknown, path: PathSegment[], visit: (s: string, path: PathSegment[]) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => forEachString(v, [...path, i], visit));
  else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) if (k !== 'kind' && k !== 'line') forEachString(v, [...path, k], visit);
  }
}
