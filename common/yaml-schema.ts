/**
 * YAML data files checked against a JSON Schema, with errors a person can act on: every problem
 * names the file, the 1-based line where the field is written, the field as a path
 * (`steps[2].fill.value`, `apdu.maxCommand`) and, where it helps, a hint ("did you mean …",
 * the known names). Scenario files and reader/phone profiles both load through here.
 *
 * The validator knows exactly the JSON Schema (draft 2020-12) keywords listed in
 * kValidationKeywords and throws on any other, so a schema cannot quietly ask for a check
 * that nobody makes.
 */
import { readFileSync } from 'node:fs';
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
// The validator

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
}

const kAnnotationKeywords = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples', 'default', '$defs']);
const kValidationKeywords = new Set([
  '$ref', 'type', 'enum', 'const', 'pattern', 'minLength', 'minimum', 'maximum', 'items', 'minItems', 'uniqueItems',
  'properties', 'required', 'additionalProperties', 'propertyNames', 'minProperties', 'maxProperties', 'oneOf', 'allOf',
  'if', 'then',
]);

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
}

/** Validates a value against the root schema, reporting every problem through `fail`. */
export type Validate = (value: unknown, fail: Fail, path?: PathSegment[]) => void;

export function createValidator(root: Schema, options: ValidatorOptions): Validate {
  const { schemaName } = options;

  const deref = (schema: Schema): Schema => {
    if (schema.$ref === undefined) return schema;
    const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name === undefined ? undefined : root.$defs?.[name];
    if (!target) throw new Error(`${schemaName}: unresolvable $ref ${schema.$ref}`);
    return target;
  };

  const validate = (value: unknown, schemaIn: Schema, path: PathSegment[], fail: Fail): void => {
    const schema = deref(schemaIn);
    for (const k of Object.keys(schema)) {
      if (!kValidationKeywords.has(k) && !kAnnotationKeywords.has(k)) throw new Error(`${schemaName} uses "${k}", which the YAML schema validator does not know`);
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
    if (schema.const !== undefined && value !== schema.const) {
      fail(path, `must be ${JSON.stringify(schema.const)}, not ${JSON.stringify(value)}`);
      return;
    }
    if (typeof value === 'string') {
      if (schema.minLength !== undefined && value.length < schema.minLength) fail(path, 'must not be empty');
      if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
        fail(path, `"${value}" does not match ${schema.pattern}`, options.patternHint?.(path));
      }
    }
    if (typeof value === 'number') {
      if (schema.minimum !== undefined && value < schema.minimum) fail(path, `must be at least ${schema.minimum}`);
      if (schema.maximum !== undefined && value > schema.maximum) fail(path, `must be at most ${schema.maximum}`);
    }
    if (Array.isArray(value)) {
      if (schema.minItems !== undefined && value.length < schema.minItems) fail(path, `needs at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
      if (schema.uniqueItems === true) {
        const seen = new Set<string>();
        value.forEach((item, i) => {
          const key = JSON.stringify(item);
          if (seen.has(key)) fail([...path, i], `${JSON.stringify(item)} is listed twice`);
          seen.add(key);
        });
      }
      if (schema.items) value.forEach((item, i) => validate(item, schema.items!, [...path, i], fail));
    }
    if (isObject(value)) validateObject(value, schema, path, fail);
    if (schema.oneOf) validateOneOf(value, schema.oneOf, path, fail);
    for (const branch of schema.allOf ?? []) validate(value, branch, path, fail);
    if (schema.if !== undefined && schema.then !== undefined && passes(value, schema.if, path)) validate(value, schema.then, path, fail);
  };

  const passes = (value: unknown, schema: Schema, path: PathSegment[]): boolean => {
    let ok = true;
    validate(value, schema, path, () => (ok = false));
    return ok;
  };

  /** Exactly one branch must hold; for a mapping the branches are told apart by their required fields. */
  const validateOneOf = (value: unknown, branches: Schema[], path: PathSegment[], fail: Fail): void => {
    const passing = branches.filter((branch) => passes(value, branch, path));
    if (passing.length === 1) return;
    if (isObject(value)) {
      const alternatives = branches.map((b) => (b.required ?? []).join(' + ')).join(', ');
      fail(path, passing.length === 0 ? `needs one of: ${alternatives}` : `give only one of: ${alternatives}`);
      return;
    }
    const forms = branches.map(describeForm).join(' | ');
    fail(path, passing.length === 0 ? `${JSON.stringify(value)} is none of the allowed forms: ${forms}` : `${JSON.stringify(value)} fits more than one allowed form: ${forms}`);
  };

  const validateObject = (value: Record<string, unknown>, schema: Schema, path: PathSegment[], fail: Fail): void => {
    const keys = Object.keys(value);
    const known = Object.keys(schema.properties ?? {});
    const union = options.keyedUnion?.(schema);
    if (union && keys.length === 0) {
      fail(path, `a ${union.noun} needs a kind`, `known ${union.keyNoun}s: ${known.join(', ')}`);
      return;
    }
    if (schema.additionalProperties === false) {
      for (const k of keys) {
        if (known.includes(k)) continue;
        const what = union ? `unknown ${union.keyNoun} "${k}"` : `unknown field "${k}"`;
        const near = didYouMean(k, known);
        fail([...path, k], what, `${near ? `${near}; ` : ''}known${union ? ` ${union.keyNoun}s` : ''}: ${known.join(', ')}`);
      }
    }
    if (schema.propertyNames !== undefined) for (const k of keys) validate(k, schema.propertyNames, [...path, k], fail);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
      fail(path, `has ${keys.length} keys (${keys.join(', ')}); at most ${schema.maxProperties} allowed`, union?.maxPropertiesHint);
    }
    if (schema.minProperties !== undefined && keys.length < schema.minProperties) fail(path, `needs at least ${schema.minProperties} key(s)`);
    for (const r of schema.required ?? []) if (!Object.hasOwn(value, r)) fail(path, `missing required field "${r}"`);
    for (const [k, v] of Object.entries(value)) {
      const sub = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (sub) validate(v, sub, [...path, k], fail);
    }
  };

  return (value, fail, path = []) => validate(value, root, path, fail);
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

function matchesType(v: unknown, type: string): boolean {
  const actual = typeOf(v);
  return actual === type || (type === 'number' && actual === 'integer');
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
