import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assumptions,
  effectiveTransceiveMs,
  formatProfileError,
  kProfilesDir,
  listProfiles,
  loadProfile,
  profileIds,
  ProfileFileError,
  type ProfileError,
} from '../../../harness/profiles/profile.js';

const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-profiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A valid reader profile, as text, to break one line at a time. */
const kGood = readFileSync(join(kProfilesDir, 'readers', 'pn532-uart.yaml'), 'utf8');

/** Writes `text` as readers/<name>.yaml under a fresh profiles directory and returns the file. */
function write(text: string, name = 'pn532-uart', sub = 'readers'): { file: string; root: string } {
  const root = mkdtempSync(join(dir, 'p-'));
  mkdirSync(join(root, sub), { recursive: true });
  const file = join(root, sub, `${name}.yaml`);
  writeFileSync(file, text);
  return { file, root };
}

function replaceOnce(text: string, from: string, to: string): string {
  expect(text).toContain(from);
  return text.replace(from, to);
}

/** The line (1-based) where `needle` first appears in `text`. */
function lineOf(text: string, needle: string): number {
  return text.slice(0, text.indexOf(needle)).split('\n').length;
}

/** The errors of a file that must not load. */
function errorsOf(file: string): ProfileError[] {
  try {
    loadProfile(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileFileError);
    for (const err of (e as ProfileFileError).errors) expect(err.file).toBe(file);
    return (e as ProfileFileError).errors;
  }
  throw new Error(`${file} loaded, but it should not have`);
}

describe('the shipped profiles', () => {
  const profiles = listProfiles();
  const byId = new Map(profiles.map((p) => [p.id, p]));

  it('all load, one per file, at least ten', () => {
    const files = ['readers', 'phones'].flatMap((sub) => readdirSync(join(kProfilesDir, sub)).filter((n) => n.endsWith('.yaml')));
    expect(profiles).toHaveLength(files.length);
    expect(profiles.length).toBeGreaterThanOrEqual(10);
    expect(profileIds()).toEqual(profiles.map((p) => p.id));
  });

  it('include the required devices', () => {
    for (const id of [
      'generic-ccid-contact', 'sony-rc-s380', 'sony-rc-s300', 'acs-acr1252u', 'identiv-scr3310', 'pn532-uart',
      'iphone-core-nfc', 'android-short-apdu', 'android-extended-apdu', 'android-slow-card',
    ]) expect(byId.has(id), id).toBe(true);
  });

  it('say in the file and in the data that they are modelled from documentation', () => {
    for (const p of profiles) {
      expect(p.modelled, p.id).toBe('documentation');
      expect(readFileSync(p.file, 'utf8').split('\n')[0], p.id).toMatch(/^# Modelled from documentation/);
    }
  });

  it('sit in the folder of their kind, phones with a phone section', () => {
    for (const p of profiles) {
      expect(basename(join(p.file, '..')), p.id).toBe(p.kind === 'reader' ? 'readers' : 'phones');
      expect(p.phone !== undefined, p.id).toBe(p.kind === 'phone');
    }
  });

  it('mark assumptions as such', () => {
    // Every shipped profile has some; a profile without any would be suspicious.
    for (const p of profiles) expect(assumptions(p).length, p.id).toBeGreaterThan(0);
    expect(assumptions(byId.get('sony-rc-s380')!)).toContain('apdu.extendedLength');
  });

  it('let the iPhone select the JPKI AP and the card-info APs by name, and nothing else', () => {
    const iphone = byId.get('iphone-core-nfc')!;
    expect(iphone.select.aidAllowList).toContain('D392F000260100000001');
    expect(iphone.select.aidAllowList).toEqual(expect.arrayContaining(['D3921000310001010408', 'D3921000310001010402', 'D3921000310001010100']));
    expect(iphone.select.selectByNameChecked).toBe(true);
    expect(iphone.session.timeLimitMs).toBe(60_000);
    expect(iphone.apdu.extendedLength).toBe(true);
    expect(iphone.phone).toEqual({ os: 'ios', osVersion: '13+' });
  });

  it('cap the PN532 at 255 bytes, without extended length', () => {
    const pn532 = byId.get('pn532-uart')!;
    expect(pn532.apdu.maxCommand).toBeLessThanOrEqual(255);
    expect(pn532.apdu.maxResponse).toBeLessThanOrEqual(255);
    expect(pn532.apdu.extendedLength).toBe(false);
  });

  it('model the Android ISO-DEP limits and timeouts', () => {
    const short = byId.get('android-short-apdu')!;
    expect(short.apdu).toMatchObject({ maxCommand: 261, extendedLength: false });
    expect(short.timeouts).toEqual({ transceiveMs: 618, appRaisesToMs: 5000 });
    expect(effectiveTransceiveMs(short)).toBe(5000);
    expect(byId.get('android-extended-apdu')!.apdu).toMatchObject({ maxCommand: 65279, extendedLength: true });
    const slow = byId.get('android-slow-card')!;
    expect(slow.timeouts).toEqual({ transceiveMs: 618, appRaisesToMs: null });
    expect(effectiveTransceiveMs(slow)).toBe(618);
    expect(slow.latency.perIns['2A']).toBeGreaterThan(618);
  });

  it('surface T=0 procedure bytes on the SCR3310 only', () => {
    expect(profiles.filter((p) => p.apdu.t0 === 'surface').map((p) => p.id)).toEqual(['identiv-scr3310']);
  });

  it('load by id and by path alike', () => {
    const byPath = loadProfile(join(kProfilesDir, 'phones', 'iphone-core-nfc.yaml'));
    expect(loadProfile('iphone-core-nfc')).toEqual(byPath);
    expect(loadProfile('sony-rc-s380').latency.perIns).toEqual({});
  });
});

describe('a profile that does not load', () => {
  it('an unknown id lists the known ids, with did-you-mean', () => {
    let err: ProfileError | undefined;
    try {
      loadProfile('sony-rcs380');
    } catch (e) {
      expect(e).toBeInstanceOf(ProfileFileError);
      err = (e as ProfileFileError).errors[0];
    }
    expect(err).toMatchObject({ file: kProfilesDir, line: 1, field: 'id', message: expect.stringContaining('no profile "sony-rcs380"') });
    expect(err!.hint).toMatch(/^did you mean "sony-rc-s380"\?; known profiles: .*iphone-core-nfc/);
  });

  it('a wrong type names file, line and field', () => {
    const text = replaceOnce(kGood, 'maxCommand: 255', 'maxCommand: lots');
    const { file } = write(text);
    const errors = errorsOf(file);
    expect(errors).toEqual([expect.objectContaining({ line: lineOf(text, 'maxCommand'), field: 'apdu.maxCommand', message: 'must be an integer, not a string' })]);
    expect(formatProfileError(errors[0]!)).toBe(`${file}:${lineOf(text, 'maxCommand')}: apdu.maxCommand: must be an integer, not a string`);
  });

  it('an unknown field says which one was meant', () => {
    const text = replaceOnce(kGood, '  chaining: true\n', '  chaining: true\n  extendedLenght: true\n');
    const { file } = write(text);
    const errors = errorsOf(file);
    expect(errors).toEqual([expect.objectContaining({ line: lineOf(text, 'extendedLenght'), field: 'apdu.extendedLenght', message: 'unknown field "extendedLenght"' })]);
    expect(errors[0]!.hint).toMatch(/^did you mean "extendedLength"\?; known: maxCommand, maxResponse/);
  });

  it('a value without a source', () => {
    const text = kGood.replace(/ {2}apdu\.maxCommand:\n(?: {4}.*\n)+/, '');
    expect(text).not.toContain('apdu.maxCommand:');
    const { file } = write(text);
    const errors = errorsOf(file);
    expect(errors).toEqual([expect.objectContaining({ line: lineOf(text, 'maxCommand: 255'), field: 'apdu.maxCommand', message: 'has no source' })]);
    expect(formatProfileError(errors[0]!)).toContain('apdu.maxCommand: has no source');
    expect(errors[0]!.hint).toContain('assumed: …');
  });

  it('a value at its neutral default needs no source, a non-default one does', () => {
    const { file } = write(replaceOnce(kGood, 'fieldDropProbability: 0\n', 'fieldDropProbability: 0.1\n'));
    expect(errorsOf(file)).toEqual([expect.objectContaining({ field: 'faults.fieldDropProbability', message: 'has no source' })]);
  });

  it('a source for a field that does not exist', () => {
    const text = replaceOnce(kGood, '  apdu.maxResponse:\n', '  apdu.maxResponce:\n');
    const { file } = write(text);
    const errors = errorsOf(file);
    expect(errors).toEqual([
      expect.objectContaining({ line: lineOf(text, 'maxResponse: 255'), field: 'apdu.maxResponse', message: 'has no source' }),
      expect.objectContaining({ line: lineOf(text, 'apdu.maxResponce:'), field: 'sources.apdu.maxResponce', hint: 'did you mean "apdu.maxResponse"?' }),
    ]);
  });

  it('a source that is neither an address nor a reference section', () => {
    const text = replaceOnce(kGood, 'source: https://github.com/microg/GmsCore/issues/1809', 'source: the internet');
    const { file } = write(text);
    expect(errorsOf(file)).toEqual([expect.objectContaining({ line: lineOf(text, 'source: the internet'), field: 'sources.apdu.maxCommand.source', hint: expect.stringContaining('https://') })]);
  });

  it('limits beyond short APDUs without extended length', () => {
    const text = replaceOnce(kGood, 'maxResponse: 255', 'maxResponse: 4096');
    const { file } = write(text);
    expect(errorsOf(file)).toEqual([expect.objectContaining({ line: lineOf(text, 'maxResponse: 4096'), field: 'apdu.maxResponse', message: expect.stringContaining('needs extended length') })]);
  });

  it('an id that differs from the file name', () => {
    const { file } = write(kGood, 'pn533-uart');
    expect(errorsOf(file)).toEqual([expect.objectContaining({ line: lineOf(kGood, 'id:'), field: 'id', message: expect.stringContaining('differs from the file name') })]);
  });

  it('a reader under phones/, and a phone without its phone section', () => {
    const { file } = write(kGood, 'pn532-uart', 'phones');
    expect(errorsOf(file)).toEqual([expect.objectContaining({ field: 'kind', message: 'a profile under phones/ is of kind phone, not reader' })]);
    const phone = write(replaceOnce(kGood, 'kind: reader', 'kind: phone'), 'pn532-uart', 'phones');
    // A whole-file problem points at the first line of the mapping, after the header comments.
    expect(errorsOf(phone.file)).toEqual([expect.objectContaining({ line: lineOf(kGood, 'id:'), field: '(root)', message: 'missing required field "phone"' })]);
  });

  it('parts that contradict each other', () => {
    const text = replaceOnce(
      replaceOnce(replaceOnce(kGood, 'atr: contactless', 'atr: contact'), 'transceiveMs: null', 'transceiveMs: 618'),
      'appRaisesToMs: null',
      'appRaisesToMs: 300',
    ).replace('sources:\n', 'phone: { os: android, osVersion: "9+" }\nsources:\n');
    const { file } = write(text);
    expect(errorsOf(file).map((e) => [e.line, e.field])).toEqual([
      [lineOf(text, 'phone:'), 'phone'],
      [lineOf(text, 'atr:'), 'atr'],
      [lineOf(text, 'appRaisesToMs'), 'timeouts.appRaisesToMs'],
      [lineOf(text, 'transceiveMs'), 'timeouts.transceiveMs'],
      [lineOf(text, 'appRaisesToMs'), 'timeouts.appRaisesToMs'],
      [lineOf(text, 'os: android'), 'phone.os'],
      [lineOf(text, 'os: android'), 'phone.osVersion'],
    ]);
  });

  it('an INS that is not upper-case hex', () => {
    const text = replaceOnce(kGood, '  perByteUs: 181\n', '  perByteUs: 181\n  perIns: { 2a: 800 }\n');
    const { file } = write(text);
    expect(errorsOf(file)).toEqual([expect.objectContaining({ line: lineOf(text, 'perIns'), field: 'latency.perIns.2a', message: '"2a" does not match ^[0-9A-F]{2}$' })]);
  });

  it('a YAML syntax error, and a missing file', () => {
    const { file } = write(`${kGood}\nfaults: [\n`);
    expect(errorsOf(file)[0]).toMatchObject({ field: '(syntax)' });
    expect(errorsOf(join(dir, 'absent.yaml'))).toEqual([expect.objectContaining({ line: 1, field: '(file)', message: 'cannot read: ENOENT' })]);
  });

  it('listProfiles reports every bad file of a folder at once', () => {
    const { root } = write(replaceOnce(kGood, 'maxCommand: 255', 'maxCommand: -1'));
    writeFileSync(join(root, 'readers', 'other.yaml'), replaceOnce(kGood, 'id: pn532-uart', 'id: other-reader'));
    try {
      listProfiles({ profilesDir: root });
      throw new Error('listProfiles should have thrown');
    } catch (e) {
      expect(e).toBeInstanceOf(ProfileFileError);
      expect((e as ProfileFileError).errors.map((x) => [basename(x.file), x.field])).toEqual([
        ['other.yaml', 'id'],
        ['pn532-uart.yaml', 'apdu.maxCommand'],
      ]);
    }
  });
});
