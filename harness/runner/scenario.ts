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
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { kCardDefinitionsDir } from '../package-root.js';
import schemaJson from './scenario-schema.json' with { type: 'json' };

// ---------------------------------------------------------------------------------------------
// The typed result

export type InterfaceRequirement = 'contact' | 'contactless' | 'any';
export type PhoneRequirement = 'none' | 'any' | 'ios' | 'android';
export type PortalKind = 'mynaportal' | 'citizen' | 'mypage' | 'external';
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
export interface FillStep extends StepBase { kind: 'fill'; testId: string; value: string }
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
export interface ScenarioError {
  file: string;
  line: number;
  field: string;
  message: string;
  /** Known names, "did you mean …", or how to fix it. */
  hint?: string | undefined;
}

export function formatScenarioError(e: ScenarioError): string {
  return `${e.file}:${e.line}: ${e.field}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`;
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

type PathSegment = string | number;

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
  const errors: ScenarioError[] = [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    errors.push({ file, line: 1, field: '(file)', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return { errors, lineOf: () => 1 };
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      errors.push({ file, line: err.linePos?.[0]?.line ?? 1, field: '(syntax)', message: (err.message.split('\n')[0] ?? 'YAML syntax error').replace(/ at line \d+, column \d+:?$/, '') });
    }
    return { errors, lineOf: () => 1 };
  }
  const lineOf = (path: PathSegment[]): number => lineInDocument(doc, text, path);
  const fail = (path: PathSegment[], message: string, hint?: string): void => {
    errors.push({ file, line: lineOf(path), field: fieldName(path), message, hint });
  };
  const raw = normaliseEmptySteps(doc.toJS() as unknown);
  validate(raw, schemaJson as unknown as Schema, [], fail);
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

/** `steps[2].fill.value` — the way a person would point at the field. */
function fieldName(path: PathSegment[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

/**
 * The line of the deepest node on `path` that exists: the key's line for a mapping entry (where
 * the field is written), the item's line for a sequence entry.
 */
function lineInDocument(doc: Document, text: string, path: PathSegment[]): number {
  let node: unknown = doc.contents;
  let offset: number | undefined = rangeStart(node);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else break;
  }
  return offset === undefined ? 1 : text.slice(0, offset).split('\n').length;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range?.[0];
}

// ---------------------------------------------------------------------------------------------
// A validator for exactly the constructs scenario-schema.json uses

interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  items?: Schema;
  minItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  minProperties?: number;
  maxProperties?: number;
  oneOf?: Schema[];
  $defs?: Record<string, Schema>;
}

const kAnnotationKeywords = new Set(['$schema', '$id', 'title', 'description', '$defs']);
const kValidationKeywords = new Set([
  '$ref', 'type', 'enum', 'pattern', 'minLength', 'minimum', 'maximum', 'items', 'minItems',
  'properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties', 'oneOf',
]);

type Fail = (path: PathSegment[], message: string, hint?: string) => void;

const kRoot = schemaJson as unknown as Schema;

function deref(schema: Schema): Schema {
  if (schema.$ref === undefined) return schema;
  const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
  const target = name === undefined ? undefined : kRoot.$defs?.[name];
  if (!target) throw new Error(`scenario-schema.json: unresolvable $ref ${schema.$ref}`);
  return target;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function matchesType(v: unknown, type: string): boolean {
  const actual = typeOf(v);
  return actual === type || (type === 'number' && actual === 'integer');
}

const kTypeWords: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false',
  object: 'a mapping', array: 'a list', null: 'empty',
};

function validate(value: unknown, schemaIn: Schema, path: PathSegment[], fail: Fail): void {
  const schema = deref(schemaIn);
  for (const k of Object.keys(schema)) {
    if (!kValidationKeywords.has(k) && !kAnnotationKeywords.has(k)) throw new Error(`scenario-schema.json uses "${k}", which the scenario validator does not know`);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(value, t))) {
      const wanted = types.filter((t) => t !== 'null').map((t) => kTypeWords[t] ?? t).join(' or ');
      const hint = types.includes('string') && (typeof value === 'number' || typeof value === 'boolean') ? `quote it: '${String(value)}'` : undefined;
      fail(path, `must be ${wanted}, not ${kTypeWords[typeOf(value)] ?? typeOf(value)}`, hint);
      return;
    }
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    const choices = schema.enum.map(String);
    fail(path, `"${String(value)}" is not one of ${choices.join(', ')}`, didYouMean(String(value), choices));
    return;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) fail(path, 'must not be empty');
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
      fail(path, `"${value}" does not match ${schema.pattern}`, patternHint(path));
    }
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) fail(path, `must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) fail(path, `must be at most ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) fail(path, `needs at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
    if (schema.items) value.forEach((item, i) => validate(item, schema.items!, [...path, i], fail));
  }
  if (isObject(value)) validateObject(value, schema, path, fail);
}

function validateObject(value: Record<string, unknown>, schema: Schema, path: PathSegment[], fail: Fail): void {
  const keys = Object.keys(value);
  const known = Object.keys(schema.properties ?? {});
  const isStep = schema === kRoot.$defs?.step;
  if (isStep && keys.length === 0) {
    fail(path, 'a step needs a kind', `known step kinds: ${known.join(', ')}`);
    return;
  }
  if (schema.additionalProperties === false) {
    for (const k of keys) {
      if (known.includes(k)) continue;
      const what = isStep ? `unknown step kind "${k}"` : `unknown field "${k}"`;
      const near = didYouMean(k, known);
      fail([...path, k], what, `${near ? `${near}; ` : ''}known${isStep ? ' step kinds' : ''}: ${known.join(', ')}`);
    }
  }
  if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
    const hint = isStep ? 'a step is a mapping with one key, the step kind; put name and timeoutMs inside it, e.g. "- click: { testId: submit, name: send }"' : undefined;
    fail(path, `has ${keys.length} keys (${keys.join(', ')}); at most ${schema.maxProperties} allowed`, hint);
  }
  if (schema.minProperties !== undefined && keys.length < schema.minProperties) fail(path, `needs at least ${schema.minProperties} key(s)`);
  for (const r of schema.required ?? []) if (!(r in value)) fail(path, `missing required field "${r}"`);
  for (const [k, v] of Object.entries(value)) {
    const sub = schema.properties?.[k];
    if (sub) validate(v, sub, [...path, k], fail);
  }
  if (schema.oneOf) {
    const passing = schema.oneOf.filter((branch) => {
      let ok = true;
      validate(value, branch, path, () => (ok = false));
      return ok;
    });
    if (passing.length !== 1) {
      const alternatives = schema.oneOf.map((b) => (b.required ?? []).join(' + ')).join(', ');
      fail(path, passing.length === 0 ? `needs one of: ${alternatives}` : `give only one of: ${alternatives}`);
    }
  }
}

function patternHint(path: PathSegment[]): string | undefined {
  const last = path[path.length - 1];
  if (path.length === 1 && last === 'id') return 'kebab-case: lower-case letters and digits joined by "-", e.g. first-login-registration';
  if (path[0] === 'tags') return 'tags are kebab-case';
  if (last === 'id') return 'the screen number as printed on the page (画面番号), e.g. B-01';
  if (last === 'ins') return 'one byte in hex, e.g. "2A" for PERFORM SECURITY OPERATION';
  if (last === 'seed') return 'a file name under seeds/, e.g. 002_e6711cfc8166a60d.txt';
  return undefined;
}

/** `did you mean "click"?` for names within a small edit distance or differing only in case. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (best === undefined || d < best.distance) best = { name: c, distance: d };
  }
  if (!best || best.distance > Math.max(1, Math.min(3, Math.floor(word.length / 3)))) return undefined;
  return `did you mean "${best.name}"?`;
}

/** Edit distance counting insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      // A swap of two neighbours ("opne") is one typo, not two.
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, before[j - 2]! + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
