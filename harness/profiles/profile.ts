/**
 * Reader and phone profiles: YAML under firmware-profiles/ that says what a device does to the
 * APDUs between a host application and the card (rule 10: the device matrix is data). Loading
 * validates against firmware-profiles/schema.json — the one description of the format, also
 * usable by editors — and then checks what the schema cannot: that the file is named after its
 * id, that the parts agree with each other (a reader has no phone section, short-only devices
 * stay within 261/258 bytes, …) and that every value describing the device is traced in
 * `sources`. Every error names the file, the line and the field.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { kPackageRoot } from '../package-root.js';
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

// ---------------------------------------------------------------------------------------------
// The typed result

export type DeviceKind = 'reader' | 'phone';
export type DeviceInterface = 'contact' | 'contactless' | 'both';
export type AtrKind = 'contact' | 'contactless';

export interface ProfileSource {
  /** A public address, or `reference/<file>.md §n`. */
  source: string;
  /** What the source says, or "assumed: …" / "derived: …". */
  note?: string | undefined;
}

export interface DeviceProfile {
  id: string;
  name: string;
  kind: DeviceKind;
  /** Shipped profiles are `documentation`: modelled from public sources, not measured. */
  modelled: 'documentation' | 'measured';
  description: string;
  interface: DeviceInterface;
  /** Which ATR the host sees: the card's contact ATR, or the PC/SC part 3 ATR built from ATQB. */
  atr: AtrKind;
  apdu: {
    /** Bytes of the whole command APDU. */
    maxCommand: number;
    /** Bytes of the whole response APDU, data + SW. */
    maxResponse: number;
    extendedLength: boolean;
    /** Command chaining (CLA b5) passed through. */
    chaining: boolean;
    /** T=0: GET RESPONSE / re-send done below the application (`transparent`) or 61xx/6Cxx surfaced. */
    t0: 'transparent' | 'surface';
  };
  latency: {
    baseMs: number;
    /** Per byte each way. */
    perByteUs: number;
    /** Extra milliseconds by INS (two upper-case hex digits); empty when the file gives none. */
    perIns: Record<string, number>;
  };
  timeouts: {
    /** The exchange fails when the card takes longer; null: no limit. */
    transceiveMs: number | null;
    /** What a careful application raises it to; null: it keeps the default. */
    appRaisesToMs: number | null;
  };
  session: {
    /** The device ends the session after this long; null: no limit. */
    timeLimitMs: number | null;
  };
  select: {
    /** AIDs (upper-case hex) the application may select by name; null: any. */
    aidAllowList: string[] | null;
    /** SELECT P1=04 outside the list fails on the device. */
    selectByNameChecked: boolean;
  };
  faults: {
    /** Per exchange. */
    fieldDropProbability: number;
    /** Between VERIFY and COMPUTE DIGITAL SIGNATURE. */
    cardMoveProbability: number;
  };
  /** Present exactly for kind: phone. */
  phone?: { os: 'ios' | 'android'; osVersion: string } | undefined;
  /** Field path (`apdu.maxCommand`) → where its value comes from. */
  sources: Record<string, ProfileSource>;
  /** The profile file it was loaded from. */
  file: string;
}

/** One problem in one profile file. */
export type ProfileError = YamlProblem;

export const formatProfileError = formatYamlProblem;

/** Thrown by loadProfile and listProfiles with every problem found. */
export class ProfileFileError extends Error {
  constructor(readonly errors: ProfileError[]) {
    super(errors.map(formatProfileError).join('\n'));
    this.name = 'ProfileFileError';
  }
}

export interface ProfileLoadOptions {
  /** Where readers/ and phones/ live; default: the package's firmware-profiles. */
  profilesDir?: string;
}

export const kProfilesDir = join(kPackageRoot, 'firmware-profiles');
export const kProfileSchemaFile = join(kProfilesDir, 'schema.json');

/** The folder for each kind, under the profiles directory. */
export const kKindDirs: Readonly<Record<DeviceKind, string>> = { reader: 'readers', phone: 'phones' };

/** The largest short APDUs (ISO/IEC 7816-4): 4 + 1 + 255 + 1 bytes out, 256 + 2 back. */
export const kShortMaxCommand = 261;
export const kShortMaxResponse = 258;

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * A profile by id (looked up as readers/<id>.yaml, then phones/<id>.yaml) or by path (anything
 * with a slash or a .yaml/.yml ending). Throws ProfileFileError listing every problem.
 */
export function loadProfile(idOrPath: string, options: ProfileLoadOptions = {}): DeviceProfile {
  const file = isPath(idOrPath) ? idOrPath : findProfileFile(idOrPath, options);
  const { profile, errors } = readProfile(file);
  if (!profile) throw new ProfileFileError(errors);
  return profile;
}

/** Every profile under readers/ and phones/, sorted by id; throws if any file has a problem. */
export function listProfiles(options: ProfileLoadOptions = {}): DeviceProfile[] {
  const profiles: DeviceProfile[] = [];
  const errors: ProfileError[] = [];
  const byId = new Map<string, DeviceProfile>();
  for (const file of profileFiles(options)) {
    const result = readProfile(file);
    errors.push(...result.errors);
    const p = result.profile;
    if (!p) continue;
    const first = byId.get(p.id);
    if (first) {
      errors.push({ file, line: result.lineOf(['id']), field: 'id', message: `duplicate profile id "${p.id}": also used by ${first.file}`, hint: 'ids are unique across readers and phones' });
      continue;
    }
    byId.set(p.id, p);
    profiles.push(p);
  }
  if (errors.length > 0) throw new ProfileFileError(errors);
  return profiles.sort((a, b) => a.id.localeCompare(b.id));
}

/** The ids of the profile files present, without loading them. */
export function profileIds(options: ProfileLoadOptions = {}): string[] {
  return profileFiles(options).map((f) => basename(f).replace(/\.ya?ml$/, '')).sort();
}

function isPath(idOrPath: string): boolean {
  return /[/\\]/.test(idOrPath) || /\.ya?ml$/.test(idOrPath);
}

function profileFiles(options: ProfileLoadOptions): string[] {
  const root = options.profilesDir ?? kProfilesDir;
  const files: string[] = [];
  for (const sub of Object.values(kKindDirs)) {
    const dir = join(root, sub);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) if (/\.ya?ml$/.test(name)) files.push(join(dir, name));
  }
  return files;
}

function findProfileFile(id: string, options: ProfileLoadOptions): string {
  const root = options.profilesDir ?? kProfilesDir;
  for (const sub of Object.values(kKindDirs)) {
    for (const ext of ['.yaml', '.yml']) {
      const file = join(root, sub, `${id}${ext}`);
      if (existsSync(file)) return file;
    }
  }
  const known = profileIds(options);
  const near = didYouMean(id, known);
  throw new ProfileFileError([{
    file: root,
    line: 1,
    field: 'id',
    message: `no profile "${id}" in ${join(root, kKindDirs.reader)} or ${join(root, kKindDirs.phone)}`,
    hint: `${near ? `${near}; ` : ''}known profiles: ${known.join(', ')}`,
  }]);
}

interface ReadResult {
  profile?: DeviceProfile | undefined;
  errors: ProfileError[];
  lineOf: (path: PathSegment[]) => number;
}

function readProfile(file: string): ReadResult {
  const read = readYamlFile(file);
  if (read.errors.length > 0) return { errors: read.errors, lineOf: () => 1 };
  const errors: ProfileError[] = [];
  const { lineOf } = read;
  const fail: Fail = (path, message, hint) => {
    errors.push({ file, line: lineOf(path), field: fieldName(path), message, hint });
  };
  validateProfile(read.raw, fail);
  if (errors.length > 0) return { errors, lineOf };
  const raw = read.raw as RawProfile;
  checkBeyondSchema(raw, file, fail);
  checkSources(raw, fail);
  if (errors.length > 0) return { errors, lineOf };
  return { profile: toProfile(raw, file), errors, lineOf };
}

// ---------------------------------------------------------------------------------------------
// Validation against firmware-profiles/schema.json, and what the schema cannot say

const kSchema = JSON.parse(readFileSync(kProfileSchemaFile, 'utf8')) as Schema;

const validateProfile = createValidator(kSchema, { schemaName: 'firmware-profiles/schema.json', patternHint });

function patternHint(path: PathSegment[]): string | undefined {
  const [first, second] = path;
  if (path.length === 1 && first === 'id') return 'kebab-case: lower-case letters and digits joined by "-", e.g. sony-rc-s380';
  if (first === 'latency' && second === 'perIns') return 'the INS byte in upper-case hex, quoted: \'2A\'';
  if (first === 'select' && second === 'aidAllowList') return 'the AID in upper-case hex without spaces, 5 to 16 bytes, e.g. D392F000260100000001';
  if (first === 'sources' && path.length === 2) return 'the path of a field, e.g. apdu.maxCommand or latency.perIns.2A';
  if (first === 'sources' && path[2] === 'source') return 'a public address (https://…) or a section of the reference notes (reference/jpki-card.md §1.1)';
  return undefined;
}

type RawProfile = Omit<DeviceProfile, 'file' | 'latency'> & { latency: Omit<DeviceProfile['latency'], 'perIns'> & { perIns?: Record<string, number> } };

function checkBeyondSchema(p: RawProfile, file: string, fail: Fail): void {
  const stem = basename(file, extname(file));
  if (p.id !== stem) fail(['id'], `the id "${p.id}" differs from the file name "${basename(file)}"`, `rename the file to ${p.id}${extname(file)} or set id: ${stem}`);

  const folder = basename(dirname(resolve(file)));
  const expectedKind = (Object.keys(kKindDirs) as DeviceKind[]).find((k) => kKindDirs[k] === folder);
  if (expectedKind && p.kind !== expectedKind) fail(['kind'], `a profile under ${folder}/ is of kind ${expectedKind}, not ${p.kind}`, `move the file to ${kKindDirs[p.kind]}/ or set kind: ${expectedKind}`);
  if (p.kind === 'reader' && p.phone !== undefined) fail(['phone'], 'only profiles of kind phone have a phone section', 'remove it, or set kind: phone');

  if (p.interface !== 'both' && p.atr !== p.interface) fail(['atr'], `a ${p.interface} device shows the ${p.interface} ATR, not the ${p.atr} one`, `set atr: ${p.interface}`);

  const { maxCommand, maxResponse, extendedLength } = p.apdu;
  if (!extendedLength) {
    if (maxCommand > kShortMaxCommand) fail(['apdu', 'maxCommand'], `${maxCommand} bytes needs extended length: a short command APDU has at most ${kShortMaxCommand}`, 'set apdu.extendedLength: true, or lower it');
    if (maxResponse > kShortMaxResponse) fail(['apdu', 'maxResponse'], `${maxResponse} bytes needs extended length: a short response APDU has at most ${kShortMaxResponse}`, 'set apdu.extendedLength: true, or lower it');
  } else if (maxCommand <= kShortMaxCommand && maxResponse <= kShortMaxResponse) {
    fail(['apdu', 'extendedLength'], `extended length with at most ${maxCommand} bytes out and ${maxResponse} back is no more than short APDUs`, `raise apdu.maxCommand above ${kShortMaxCommand} or apdu.maxResponse above ${kShortMaxResponse}, or set extendedLength: false`);
  }

  const { transceiveMs, appRaisesToMs } = p.timeouts;
  if (appRaisesToMs !== null && transceiveMs === null) fail(['timeouts', 'appRaisesToMs'], 'there is no transceive timeout to raise', 'set timeouts.transceiveMs, or appRaisesToMs: null');
  if (appRaisesToMs !== null && transceiveMs !== null && appRaisesToMs < transceiveMs) fail(['timeouts', 'appRaisesToMs'], `${appRaisesToMs} ms is below the default of ${transceiveMs} ms`, 'an application raises the timeout, it does not lower it');

  if (p.select.selectByNameChecked && p.select.aidAllowList === null) fail(['select', 'selectByNameChecked'], 'SELECT by name is checked against an allow-list, but select.aidAllowList is null', 'list the AIDs, or set selectByNameChecked: false');
}

/** The top-level parts that describe the device, and so need sources. */
const kSourcedParts = ['interface', 'atr', 'apdu', 'latency', 'timeouts', 'session', 'select', 'faults', 'phone'] as const;

/** Every leaf under the sourced parts (a list counts as one leaf), with its path and value. */
function sourcedLeaves(p: RawProfile): { path: string[]; value: unknown }[] {
  const out: { path: string[]; value: unknown }[] = [];
  const walk = (value: unknown, path: string[]): void => {
    if (isObject(value)) for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    else out.push({ path, value });
  };
  for (const part of kSourcedParts) if (part in p) walk((p as unknown as Record<string, unknown>)[part], [part]);
  return out;
}

/** A leaf holding its neutral default needs no source: null, a fault probability of 0, an unchecked SELECT. */
function isPlaceholder(path: string[], value: unknown): boolean {
  if (value === null) return true;
  if (path[0] === 'faults' && value === 0) return true;
  return path.join('.') === 'select.selectByNameChecked' && value === false;
}

function checkSources(p: RawProfile, fail: Fail): void {
  const leaves = sourcedLeaves(p);
  const leafPaths = leaves.map((l) => l.path.join('.'));
  for (const { path, value } of leaves) {
    const key = path.join('.');
    if (!(key in p.sources) && !isPlaceholder(path, value)) {
      fail(path, 'has no source', `add "${key}: { source: …, note: … }" under sources; say "assumed: …" in the note when it is an assumption`);
    }
  }
  for (const key of Object.keys(p.sources)) {
    if (leafPaths.includes(key)) continue;
    const near = didYouMean(key, leafPaths);
    fail(['sources', key], `"${key}" names no field of this profile that takes a source`, near ?? `fields: ${leafPaths.join(', ')}`);
  }
}

function toProfile(raw: RawProfile, file: string): DeviceProfile {
  return {
    id: raw.id,
    name: raw.name,
    kind: raw.kind,
    modelled: raw.modelled,
    description: raw.description.trim(),
    interface: raw.interface,
    atr: raw.atr,
    apdu: { ...raw.apdu },
    latency: { baseMs: raw.latency.baseMs, perByteUs: raw.latency.perByteUs, perIns: { ...(raw.latency.perIns ?? {}) } },
    timeouts: { ...raw.timeouts },
    session: { ...raw.session },
    select: { aidAllowList: raw.select.aidAllowList === null ? null : [...raw.select.aidAllowList], selectByNameChecked: raw.select.selectByNameChecked },
    faults: { ...raw.faults },
    phone: raw.phone === undefined ? undefined : { ...raw.phone },
    sources: Object.fromEntries(Object.entries(raw.sources).map(([k, v]) => [k, { ...v }])),
    file,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading a profile

/** The transceive timeout an application runs with: the raised one if it raises it, else the default. */
export function effectiveTransceiveMs(profile: DeviceProfile): number | null {
  return profile.timeouts.appRaisesToMs ?? profile.timeouts.transceiveMs;
}

/** The sources whose note marks the value as an assumption. */
export function assumptions(profile: DeviceProfile): string[] {
  return Object.entries(profile.sources)
    .filter(([, s]) => /^assumed\b/i.test(s.note ?? ''))
    .map(([k]) => k);
}
