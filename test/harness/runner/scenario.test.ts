import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  formatScenarioError,
  kStepKinds,
  loadScenarioFile,
  loadScenarios,
  ScenarioFileError,
  type ScenarioError,
} from '../../../harness/runner/scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-scenarios-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function write(text: string, name = `s${++counter}.yaml`): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const header = (id: string): string => `id: ${id}\ntitle: A test scenario\ncard: adult\nportal: mynaportal\n`;

/** The errors of one file that must not load. */
function errorsOf(text: string): ScenarioError[] {
  const file = write(text);
  try {
    loadScenarioFile(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioFileError);
    for (const err of (e as ScenarioFileError).errors) expect(err.file).toBe(file);
    return (e as ScenarioFileError).errors;
  }
  throw new Error(`${file} loaded, but it should not have`);
}

describe('the example scenarios', () => {
  it('load from the scenarios folder without errors, skipping card definitions', () => {
    const { scenarios, errors } = loadScenarios(['scenarios']);
    expect(errors.map(formatScenarioError)).toEqual([]);
    const ids = scenarios.map((s) => s.id);
    expect(ids).toContain('mynaportal-first-login');
    expect(ids).toContain('smoke-login-wrong-pin');
    expect(ids.length).toBeGreaterThanOrEqual(30);
    expect(new Set(scenarios.map((s) => s.file.split(/[/\\]/).at(-2)))).toEqual(new Set(['certification', 'negative', 'seeds', 'smoke']));
  });

  it('type the first-login scenario, with defaults for what it does not require', () => {
    const s = loadScenarioFile('scenarios/seeds/mynaportal-first-login.yaml');
    expect(s.portal).toBe('mynaportal');
    expect(s.seed).toBe('002_e6711cfc8166a60d.txt');
    expect(s.cardFile).toMatch(/scenarios[/\\]cards[/\\]adult\.yaml$/);
    expect(s.requires).toEqual({ interface: 'any', extendedLength: false, phone: 'none', realHardware: false });
    expect(s.steps[0]).toEqual({ kind: 'open', path: '/login', line: 14 });
    expect(s.steps[2]).toMatchObject({ kind: 'pcLogin', expect: 'registration', name: 'log in with the card in the PC reader', line: 16 });
    expect(s.steps.filter((st) => st.kind === 'expectScreen').map((st) => (st.kind === 'expectScreen' ? st.id : ''))).toEqual(['L-01', 'B-01', 'B-02', 'B-03', 'A-02']);
  });

  it('keep template strings as written, for the runner to resolve', () => {
    const s = loadScenarioFile('scenarios/smoke/login.yaml');
    const logins = s.steps.filter((st) => st.kind === 'pcLogin');
    expect(logins.map((st) => (st.kind === 'pcLogin' ? st.pin : undefined))).toEqual(['9999', '${card.pins.auth}']);
    expect(s.steps[4]).toMatchObject({ kind: 'expectCard', pin: 'auth', triesLeft: 2, blocked: false });
  });
});

describe('every step kind', () => {
  it('is accepted and typed, readOutbox and ${saved.…} included', () => {
    const file = write(`${header('all-kinds')}requires: { phone: android, realHardware: true, interface: contactless, extendedLength: true }
steps:
  - open: { path: / }
  - click: { text: ログイン }
  - fill: { testId: input-email1, value: a@example.jp }
  - expectText: { pattern: "^残り\\\\d回" }
  - expectScreen: { id: AP-01 }
  - pcLogin: { pin: '\${card.pins.auth}', expect: menu }
  - phoneScanQr:
  - phoneLogin: {}
  - phoneSign: { password: '\${card.pins.sign}', consent: true }
  - enterPin: { pin: sign, value: WRONG1, expectTriesLeft: 4 }
  - card: { action: tear, ins: 2A, when: after }
  - expectCard: { pin: sign, blocked: false }
  - readOutbox: { kind: sms, to: '09000000000', saveAs: code }
  - fill: { testId: input-code, value: '\${saved.code}' }
  - waitForEvent: { event: login.completed, timeoutMs: 5000 }
  - operator: { prompt: Hold the card to the phone, timeoutMs: 60000 }
  - command: { run: [adb, shell, am, start, -d, 'jpki-hil://sign'], expectExit: 0, name: open deep link }
  - custom: { module: jpki-hil-lab-steps, export: resetReader, with: { slot: 1 } }
`);
    const s = loadScenarioFile(file);
    expect(new Set(s.steps.map((st) => st.kind))).toEqual(new Set(kStepKinds));
    expect(s.steps.find((st) => st.kind === 'phoneScanQr')).toEqual({ kind: 'phoneScanQr', line: 13 });
    expect(s.steps.find((st) => st.kind === 'readOutbox')).toEqual({ kind: 'readOutbox', outbox: 'sms', to: '09000000000', saveAs: 'code', line: 19 });
    expect(s.steps[13]).toMatchObject({ kind: 'fill', value: '${saved.code}' });
    expect(s.steps[16]).toMatchObject({ kind: 'command', run: ['adb', 'shell', 'am', 'start', '-d', 'jpki-hil://sign'], name: 'open deep link' });
    expect(s.requires).toEqual({ interface: 'contactless', extendedLength: true, phone: 'android', realHardware: true });
  });

  it('the schema and the loader name the same kinds', () => {
    const schema = JSON.parse(readFileSync('harness/runner/scenario-schema.json', 'utf8')) as { $defs: Record<string, unknown> };
    for (const kind of kStepKinds) expect(schema.$defs[kind], kind).toBeDefined();
    expect(kStepKinds).toHaveLength(17);
  });
});

describe('errors name the file, the line and the field', () => {
  it('an unknown step kind, with the known kinds and a near miss', () => {
    const [err, ...rest] = errorsOf(`${header('unknown-kind')}steps:\n  - open: { path: / }\n  - clik: { testId: submit }\n`);
    expect(rest).toEqual([]);
    expect(err).toMatchObject({ line: 7, field: 'steps[1].clik', message: 'unknown step kind "clik"' });
    expect(err!.hint).toContain('did you mean "click"?');
    expect(err!.hint).toContain('expectScreen');
    expect(formatScenarioError(err!)).toMatch(/s\d+\.yaml:7: steps\[1\]\.clik: unknown step kind "clik" \(did you mean "click"\?; known step kinds: open, click, /);
  });

  it('a missing required field', () => {
    const errors = errorsOf(`${header('missing-field')}steps:\n  - open: { path: / }\n\n  - fill:\n      testId: input-email1\n`);
    expect(errors).toEqual([expect.objectContaining({ line: 8, field: 'steps[1].fill', message: 'missing required field "value"' })]);
  });

  it('a missing top-level field points at the top of the file', () => {
    const errors = errorsOf(`id: no-portal\ntitle: t\ncard: adult\nsteps:\n  - open: { path: / }\n`);
    expect(errors).toEqual([expect.objectContaining({ line: 1, field: '(root)', message: 'missing required field "portal"' })]);
  });

  it('a wrong type, with a hint to quote a PIN written as a number', () => {
    const errors = errorsOf(`${header('wrong-type')}steps:\n  - enterPin:\n      pin: auth\n      value: 1234\n      expectTriesLeft: two\n`);
    expect(errors).toEqual([
      expect.objectContaining({ line: 8, field: 'steps[0].enterPin.value', message: 'must be a string, not an integer', hint: "quote it: '1234'" }),
      expect.objectContaining({ line: 9, field: 'steps[0].enterPin.expectTriesLeft', message: 'must be an integer from 0 to 15, not a string' }),
    ]);
  });

  it('a swap of two letters is a near miss', () => {
    const errors = errorsOf(`${header('swapped')}steps:\n  - opne: { path: / }\n`);
    expect(errors[0]!.hint).toMatch(/^did you mean "open"\?/);
  });

  it('a value outside an enumeration, with a near miss', () => {
    const errors = errorsOf(`${header('bad-enum')}steps:\n  - card: { action: remvoe }\n`);
    expect(errors).toEqual([expect.objectContaining({ line: 6, field: 'steps[0].card.action', hint: 'did you mean "remove"?' })]);
  });

  it('an id that is not kebab-case', () => {
    const errors = errorsOf(`id: First_Login\ntitle: t\ncard: adult\nportal: mynaportal\nsteps:\n  - open: { path: / }\n`);
    expect(errors).toEqual([expect.objectContaining({ line: 1, field: 'id', message: '"First_Login" does not match ^[a-z0-9]+(-[a-z0-9]+)*$' })]);
    expect(errors[0]!.hint).toContain('kebab-case');
  });

  it('an unknown card definition, with the known cards', () => {
    const errors = errorsOf(`id: unknown-card\ntitle: t\nportal: mynaportal\ncard: adlt\nsteps:\n  - open: { path: / }\n`);
    expect(errors).toEqual([expect.objectContaining({ line: 4, field: 'card', message: expect.stringContaining('no card definition "adlt"') })]);
    expect(errors[0]!.hint).toMatch(/did you mean "adult"\?; known cards: .*blocked-auth-pin/);
  });

  it('an unknown card is reported along with schema errors', () => {
    const errors = errorsOf(`id: Two_Problems\ntitle: t\nportal: mynaportal\ncard: nobody\nsteps:\n  - open: { path: / }\n`);
    expect(errors.map((e) => [e.line, e.field])).toEqual([
      [1, 'id'],
      [4, 'card'],
    ]);
  });

  it('a card given as a path is resolved from the scenario file', () => {
    writeFileSync(join(dir, 'local-card.yaml'), 'description: a local card\n');
    const ok = loadScenarioFile(write(`id: local-card-ok\ntitle: t\nportal: citizen\ncard: ./local-card.yaml\nsteps:\n  - open: { path: / }\n`));
    expect(ok.cardFile).toBe(join(dir, 'local-card.yaml'));
    const errors = errorsOf(`id: local-card-missing\ntitle: t\nportal: citizen\ncard: ./nowhere.yaml\nsteps:\n  - open: { path: / }\n`);
    expect(errors).toEqual([expect.objectContaining({ line: 4, field: 'card', message: expect.stringContaining('card definition file not found') })]);
  });

  it('a duplicate id across files names both files', () => {
    const sub = mkdtempSync(join(dir, 'dup-'));
    writeFileSync(join(sub, 'a.yaml'), `${header('same-id')}steps:\n  - open: { path: / }\n`);
    writeFileSync(join(sub, 'b.yaml'), `# the same id again\n${header('same-id')}steps:\n  - open: { path: /login }\n`);
    const { scenarios, errors } = loadScenarios([sub]);
    expect(scenarios.map((s) => s.file)).toEqual([join(sub, 'a.yaml')]);
    expect(errors).toEqual([
      expect.objectContaining({ file: join(sub, 'b.yaml'), line: 2, field: 'id', message: `duplicate scenario id "same-id": also used by ${join(sub, 'a.yaml')}` }),
    ]);
  });

  it('a YAML syntax error, and the other files still load', () => {
    const sub = mkdtempSync(join(dir, 'syntax-'));
    writeFileSync(join(sub, 'good.yaml'), `${header('good-one')}steps:\n  - open: { path: / }\n`);
    writeFileSync(join(sub, 'broken.yaml'), `${header('broken-one')}steps:\n  - open: { path: / \n  - click: { testId: x }\n`);
    const { scenarios, errors } = loadScenarios([sub]);
    expect(scenarios.map((s) => s.id)).toEqual(['good-one']);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ file: join(sub, 'broken.yaml'), field: '(syntax)' });
    expect(errors[0]!.line).toBe(7);
    expect(errors[0]!.message).not.toMatch(/at line/);
  });

  it('a duplicate key in a mapping is a syntax error on its line', () => {
    const errors = errorsOf(`${header('dup-key')}title: again\nsteps:\n  - open: { path: / }\n`);
    expect(errors[0]).toMatchObject({ line: 5, field: '(syntax)' });
  });

  it('a step with two kinds, and a step with none', () => {
    const errors = errorsOf(`${header('two-kinds')}steps:\n  - open: { path: / }\n    click: { testId: x }\n  - {}\n`);
    expect(errors).toEqual([
      expect.objectContaining({ line: 6, field: 'steps[0]', message: 'has 2 keys (open, click); at most 1 allowed' }),
      expect.objectContaining({ line: 8, field: 'steps[1]', message: 'a step needs a kind' }),
    ]);
  });

  it('click needs exactly one of testId and text', () => {
    const errors = errorsOf(`${header('click-both')}steps:\n  - click: { testId: a, text: b }\n  - click: { name: nothing }\n`);
    expect(errors).toEqual([
      expect.objectContaining({ line: 6, field: 'steps[0].click', message: 'give only one of: testId, text' }),
      expect.objectContaining({ line: 7, field: 'steps[1].click', message: 'needs one of: testId, text' }),
    ]);
  });

  it('an unknown field inside a step, with a near miss', () => {
    const errors = errorsOf(`${header('unknown-field')}steps:\n  - fill: { testid: a, value: b }\n`);
    expect(errors.map((e) => [e.line, e.field, e.message])).toEqual([
      [6, 'steps[0].fill.testid', 'unknown field "testid"'],
      [6, 'steps[0].fill', 'missing required field "testId"'],
    ]);
    expect(errors[0]!.hint).toMatch(/^did you mean "testId"\?/);
  });

  it('${saved.…} before it is saved, and an unknown card reference', () => {
    const errors = errorsOf(
      `${header('bad-refs')}steps:\n  - fill: { testId: code, value: '\${saved.code}' }\n  - readOutbox: { kind: email, saveAs: code }\n  - fill: { testId: code, value: '\${saved.code}' }\n  - enterPin: { pin: auth, value: '\${card.pins.auht}' }\n  - fill: { testId: x, value: '\${env.HOME}' }\n`,
    );
    expect(errors.map((e) => [e.line, e.field])).toEqual([
      [6, 'steps[0].fill.value'],
      [9, 'steps[3].enterPin.value'],
      [10, 'steps[4].fill.value'],
    ]);
    expect(errors[0]!.message).toBe('${saved.code} is not saved by an earlier step');
    expect(errors[1]!.hint).toMatch(/^did you mean "card\.pins\.auth"\?/);
    expect(errors[2]!.message).toBe('unknown reference ${env.HOME}');
  });

  it('phone steps need the scenario to require a phone (rule 10)', () => {
    const errors = errorsOf(`${header('phone-undeclared')}steps:\n  - open: { path: /login }\n  - phoneScanQr:\n`);
    expect(errors).toEqual([expect.objectContaining({ line: 7, field: 'steps[1].phoneScanQr', hint: 'set requires.phone to any, ios or android' })]);
  });

  it('an invalid regular expression in expectText', () => {
    const errors = errorsOf(`${header('bad-regexp')}steps:\n  - expectText: { pattern: '残り(' }\n`);
    expect(errors).toEqual([expect.objectContaining({ line: 6, field: 'steps[0].expectText.pattern', message: expect.stringContaining('not a valid regular expression') })]);
  });

  it('a file that cannot be read', () => {
    const { errors } = loadScenarios([join(dir, 'absent.yaml')]);
    expect(errors).toEqual([expect.objectContaining({ file: join(dir, 'absent.yaml'), line: 1, field: '(file)', message: 'cannot read: ENOENT' })]);
  });
});
