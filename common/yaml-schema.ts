/**
 * YAML data files checked against a JSON Schema, with errors a person can act on: every problem
 * names the file, the 1-based line where the field is written, the field as a path
 * (`steps[2].fill.value`, `apdu.maxCommand`) and, where it helps, a hint ("did you mean …",
 * the known names). Scenario files and reader/phone profiles both load through here.
 *
 * The schemas are JSON Schema (draft 2020-12), checked by Ajv in strict mode, so a schema cannot
 * quietly ask for a check that nobody makes; one mapper turns Ajv's errors into these problems.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { isMap, isPair, isScalar, isSeq, parseDocument, type Document } from 'yaml';

/** One problem in one file. `line` is 1-based (1 when the problem is the whole file). */
export interface YamlProblem {
  file: string;
  line: number;
  field: string;
  message: string;
  /** Known names, "did you mean …", or how to fix it. */
  hint?: string | undefined;
}

export function formatYamlProblem(e: YamlProblem): string {
  return `${e.file}:${e.line}: ${e.field}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`;
}

export type PathSegment = string | number;

/** Reports one problem at a path of the document. */
export type Fail = (path: PathSegment[], message: string, hint?: string) => void;

// ---------------------------------------------------------------------------------------------
// Reading

export interface YamlRead {
  /** The document as plain data; undefined when the file could not be read or parsed. */
  raw?: unknown;
  /** Problems reading or parsing (nothing is validated yet). */
  errors: YamlProblem[];
  /** The line of the deepest node on `path` that exists (1 when there is no document). */
  lineOf: (path: PathSegment[]) => number;
}

/** Reads and parses one YAML file; duplicate keys are syntax errors. */
export function readYamlFile(file: string): YamlRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { errors: [{ file, line: 1, field: '(file)', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }], lineOf: () => 1 };
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((err): YamlProblem => ({
      file,
      line: err.linePos?.[0]?.line ?? 1,
      field: '(syntax)',
      message: (err.message.split('\n')[0] ?? 'YAML syntax error').replace(/ at line \d+, column \d+:?$/, ''),
    }));
    return { errors, lineOf: () => 1 };
  }
  return { raw: doc.toJS() as unknown, errors: [], lineOf: (path) => lineInDocument(doc, text, path) };
}

/** `steps[2].fill.value` — the way a person would point at the field. */
export function fieldName(path: readonly PathSegment[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

/**
 * The line of the deepest node on `path` that exists: the key's line for a mapping entry (where
 * the field is written), the item's line for a sequence entry.
 */
export function lineInDocument(doc: Document, text: string, path: readonly PathSegment[]): number {
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
// The validator: Ajv (JSON Schema draft 2020-12) checks; one mapper turns its errors into ours

/** The JSON Schema keywords our schemas use (Ajv knows the rest and refuses unknown ones). */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  items?: Schema;
  minItems?: number;
  uniqueItems?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  minProperties?: number;
  maxProperties?: number;
  oneOf?: Schema[];
  allOf?: Schema[];
  if?: Schema;
  then?: Schema;
  $defs?: Record<string, Schema>;
  /** How the pattern is said to a person: `"12" is not 4 digits` rather than `does not match ^\d{4}$`. */
  patternWords?: string;
  [annotation: string]: unknown;
}

/** A string schema, with a pattern and how to say it ("4 digits") when given. */
export function stringSchema(pattern?: string, patternWords?: string): Schema {
  return { type: 'string', ...(pattern ? { pattern } : {}), ...(patternWords ? { patternWords } : {}) };
}

/** A calendar date as YYYY-MM-DD (whether it exists is for the loader to check). */
export const kDateSchema: Schema = stringSchema('^\\d{4}-\\d{2}-\\d{2}$', 'a date YYYY-MM-DD');

/**
 * Words for a mapping whose single key names a kind (a scenario step: `- click: {…}`): its
 * unknown keys are unknown kinds, not unknown fields.
 */
export interface KeyedUnionWords {
  /** "step": "a step needs a kind". */
  noun: string;
  /** "step kind": `unknown step kind "clik"`, "known step kinds: …". */
  keyNoun: string;
  /** Shown when the mapping has more keys than maxProperties allows. */
  maxPropertiesHint?: string;
}

export interface ValidatorOptions {
  /** How errors about the schema itself name it, e.g. "scenario-schema.json". */
  schemaName: string;
  /** A hint for a string that does not match its pattern, by where it is. */
  patternHint?: (path: PathSegment[]) => string | undefined;
  /** Which (dereferenced) schemas are keyed unions, and how to speak of them. */
  keyedUnion?: (schema: Schema) => KeyedUnionWords | undefined;
  /**
   * Take an unquoted YAML number where a string is wanted (a PIN written 1234) as that string, and
   * the like (Ajv's `coerceTypes`); the value is changed in place.
   */
  coerceTypes?: boolean;
}

/** Validates a value against the root schema, reporting every problem through `fail`. */
export type Validate = (value: unknown, fail: Fail, path?: PathSegment[]) => void;

/**
 * Compiles `root` with Ajv in strict mode (a keyword Ajv does not know is an error in the schema,
 * so no check is asked for that nobody makes), counting only a mapping's own keys as present.
 */
export function createValidator(root: Schema, options: ValidatorOptions): Validate {
  // Compiled on first use: a command that never reads this kind of file does not pay for it.
  let check: ValidateFunction | undefined;
  const compiled = (): ValidateFunction => {
    if (check) return check;
    const ajv = new Ajv2020({
      allErrors: true,
      verbose: true,
      ownProperties: true,
      strict: true,
      strictTypes: false,
      strictTuples: false,
      strictRequired: false,
      allowUnionTypes: true,
      coerceTypes: options.coerceTypes ?? false,
    });
    // An annotation of our own: how a pattern is said to a person ("4 digits"), used by the mapper.
    ajv.addKeyword({ keyword: 'patternWords', schemaType: 'string' });
    try {
      check = ajv.compile(root);
    } catch (e) {
      throw new Error(`${options.schemaName}: ${(e as Error).message}`);
    }
    return check;
  };
  return (value, fail, path = []) => {
    const validate = compiled();
    if (validate(value)) return;
    for (const problem of describeErrors(validate.errors ?? [], value, root, options)) fail([...path, ...problem.path], problem.message, problem.hint);
  };
}

interface Problem {
  path: PathSegment[];
  message: string;
  hint?: string | undefined;
}

/** Where a keyword's problem goes among those of one value: the order the fields are read in. */
const kKeywordRank: Record<string, number> = {
  type: 0, enum: 1, const: 2, minLength: 3, pattern: 4, minimum: 5, maximum: 6, minItems: 7, uniqueItems: 8,
  additionalProperties: 10, propertyNames: 11, maxProperties: 12, minProperties: 13, required: 14, oneOf: 20,
};

/**
 * Ajv's errors as problems a person can act on, in the order of the document: the errors of the
 * branches of a failed `oneOf` and the `if` of an if/then are dropped (the `oneOf` itself says what
 * was wanted, the `then` what is wrong); a value of the wrong type gets that error alone.
 */
function describeErrors(errors: readonly ErrorObject[], data: unknown, root: Schema, options: ValidatorOptions): Problem[] {
  const dropped = new Set<ErrorObject>();
  errors.forEach((error, i) => {
    if (error.keyword === 'if' || error.keyword === 'propertyNames') dropped.add(error);
    if (error.keyword !== 'oneOf') return;
    // Ajv reports a failed branch's errors right before the oneOf's own, all within its value.
    for (let j = i - 1; j >= 0 && within(errors[j]!.instancePath, error.instancePath) && errors[j]!.parentSchema !== error.parentSchema; j--) dropped.add(errors[j]!);
  });
  for (const error of errors) {
    if (error.keyword !== 'type' || dropped.has(error)) continue;
    for (const other of errors) if (other !== error && other.instancePath === error.instancePath && other.parentSchema === error.parentSchema) dropped.add(other);
  }
  for (const error of errors) {
    const schema = error.parentSchema as Schema | undefined;
    if (error.keyword !== 'minProperties' || !schema || !options.keyedUnion?.(schema) || Object.keys((error.data as object) ?? {}).length > 0) continue;
    for (const other of errors) if (other !== error && other.instancePath === error.instancePath && other.parentSchema === error.parentSchema) dropped.add(other);
  }
  const order = documentOrder(data);
  return errors
    .filter((error) => !dropped.has(error))
    .map((error, i) => ({ error, i, at: order.get(error.instancePath) ?? Number.MAX_SAFE_INTEGER, rank: kKeywordRank[error.keyword] ?? 30 }))
    .sort((a, b) => a.at - b.at || a.rank - b.rank || a.i - b.i)
    .map(({ error }) => describeError(error, pathOf(error.instancePath, data), root, options));
}

function describeError(error: ErrorObject, path: PathSegment[], root: Schema, options: ValidatorOptions): Problem {
  const value: unknown = error.data;
  const schema = (error.parentSchema ?? {}) as Schema;
  const params = error.params as Record<string, unknown>;
  const union = options.keyedUnion?.(schema);
  const known = Object.keys(schema.properties ?? {});
  const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
  const at = propertyName === undefined ? path : [...path, propertyName];
  // An integer with both bounds is said in one go: "must be an integer from 0 to 15".
  const range = schema.type === 'integer' && schema.minimum !== undefined && schema.maximum !== undefined ? `must be an integer from ${schema.minimum} to ${schema.maximum}` : undefined;
  switch (error.keyword) {
    case 'type': {
      if (range) return { path: at, message: `${range}, not ${kTypeWords[typeOf(value)] ?? typeOf(value)}` };
      const types = ([] as string[]).concat(error.schema as string | string[]);
      const wanted = types.filter((t) => t !== 'null').map((t) => kTypeWords[t] ?? t).join(' or ');
      const hint = types.includes('string') && (typeof value === 'number' || typeof value === 'boolean') ? `quote it: '${String(value)}'` : undefined;
      return { path: at, message: `must be ${wanted}, not ${kTypeWords[typeOf(value)] ?? typeOf(value)}`, hint };
    }
    case 'enum': {
      const choices = (error.schema as unknown[]).map(String);
      return { path: at, message: `"${String(value)}" is not one of ${choices.join(', ')}`, hint: didYouMean(String(value), choices) };
    }
    case 'const':
      return { path: at, message: `must be ${JSON.stringify(error.schema)}, not ${JSON.stringify(value)}` };
    case 'minLength':
      return { path: at, message: 'must not be empty' };
    case 'pattern': {
      const shown = `"${String(propertyName ?? value)}"`;
      if (schema.patternWords) return { path: at, message: `${shown} is not ${schema.patternWords}`, hint: options.patternHint?.(at) };
      return { path: at, message: `${shown} does not match ${String(error.schema)}`, hint: options.patternHint?.(at) };
    }
    case 'minimum':
      return { path: at, message: range ?? `must be at least ${String(error.schema)}` };
    case 'maximum':
      return { path: at, message: range ?? `must be at most ${String(error.schema)}` };
    case 'minItems':
      return { path: at, message: `needs at least ${String(error.schema)} item${error.schema === 1 ? '' : 's'}` };
    case 'uniqueItems': {
      const index = Number(params.i);
      return { path: [...at, index], message: `${JSON.stringify((value as unknown[])[index])} is listed twice` };
    }
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const near = didYouMean(key, known);
      return { path: [...at, key], message: union ? `unknown ${union.keyNoun} "${key}"` : `unknown field "${key}"`, hint: `${near ? `${near}; ` : ''}known${union ? ` ${union.keyNoun}s` : ''}: ${known.join(', ')}` };
    }
    case 'maxProperties': {
      const keys = Object.keys(value as object);
      return { path: at, message: `has ${keys.length} keys (${keys.join(', ')}); at most ${String(error.schema)} allowed`, hint: union?.maxPropertiesHint };
    }
    case 'minProperties':
      if (union && Object.keys(value as object).length === 0) return { path: at, message: `a ${union.noun} needs a kind`, hint: `known ${union.keyNoun}s: ${known.join(', ')}` };
      return { path: at, message: `needs at least ${String(error.schema)} key(s)` };
    case 'required':
      return { path: at, message: `missing required field "${String(params.missingProperty)}"` };
    case 'oneOf': {
      const branches = (error.schema as Schema[]).map((branch) => deref(branch, root));
      const none = params.passingSchemas === null;
      if (isObject(value)) {
        const alternatives = branches.map((b) => (b.required ?? []).join(' + ')).join(', ');
        return { path: at, message: none ? `needs one of: ${alternatives}` : `give only one of: ${alternatives}` };
      }
      const forms = branches.map(describeForm).join(' | ');
      return { path: at, message: none ? `${JSON.stringify(value)} is none of the allowed forms: ${forms}` : `${JSON.stringify(value)} fits more than one allowed form: ${forms}` };
    }
    default:
      return { path: at, message: error.message ?? `fails ${error.keyword}` };
  }
}

function deref(schema: Schema, root: Schema): Schema {
  const name = schema.$ref === undefined ? undefined : /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
  return (name !== undefined ? root.$defs?.[name] : undefined) ?? schema;
}

/** Whether JSON pointer `inner` is `outer` or below it. */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`);
}

/** Every JSON pointer in `data`, numbered in document order (a mapping before its fields). */
function documentOrder(data: unknown): Map<string, number> {
  const order = new Map<string, number>();
  const visit = (value: unknown, pointer: string): void => {
    order.set(pointer, order.size);
    if (Array.isArray(value)) value.forEach((item, i) => visit(item, `${pointer}/${i}`));
    else if (isObject(value)) for (const [k, v] of Object.entries(value)) visit(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  };
  visit(data, '');
  return order;
}

/** A JSON pointer as a path: indices of lists as numbers. */
function pathOf(pointer: string, data: unknown): PathSegment[] {
  const path: PathSegment[] = [];
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment: PathSegment = Array.isArray(node) && /^\d+$/.test(key) ? Number(key) : key;
    path.push(segment);
    node = (node as Record<string | number, unknown> | undefined)?.[segment];
  }
  return path;
}

function describeForm(schema: Schema): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.pattern !== undefined) return `a string matching ${schema.pattern}`;
  const type = Array.isArray(schema.type) ? schema.type.join(' or ') : schema.type;
  return type ?? 'a value';
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}


const kTypeWords: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false',
  object: 'a mapping', array: 'a list', null: 'empty',
};

// ---------------------------------------------------------------------------------------------
// Small helpers the loaders share

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
export function editDistance(a: string, b: string): number {
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

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
