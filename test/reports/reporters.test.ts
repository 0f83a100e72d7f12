import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunInfo, RunResult, ScenarioInfo, ScenarioResult, StepResult } from '../../harness/runner/results.js';
import { JsonReporter } from '../../reports/json-reporter.js';
import { escapeXml } from '../../common/markup.js';
import { JUnitReporter } from '../../reports/junit-reporter.js';
import { ListReporter } from '../../reports/list-reporter.js';
import { ReporterMultiplexer, type Reporter } from '../../harness/runner/reporter-api.js';

const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-reports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const kSchema = resolve('reports/junit.xsd');

// ---------------------------------------------------------------------------------------------
// A synthetic run: one scenario of each outcome

const info: RunInfo = { suite: 'smoke', suiteVersion: '0.1.0', startedAt: '2026-11-23T07:00:00.000Z', profile: 'emulated', reader: 'vpcd 0' };

function scenario(id: string, title = `the ${id} one`): ScenarioInfo {
  return { id, title, tags: ['smoke'], file: `scenarios/${id}.yaml` };
}

const passedStep = (index: number): StepResult => ({
  index,
  kind: 'pcLogin',
  name: 'log in',
  status: 'passed',
  durationMs: 120,
  apdus: [
    { time: '2026-11-23T07:00:01.000Z', command: '00A4040C0AD3921000310001010408', response: '', sw: '9000', meaning: 'normal processing', durationMs: 4 },
    { time: '2026-11-23T07:00:01.010Z', command: '0020008004313233', response: '', sw: '63C2', meaning: 'verification failed, 2 tries left', durationMs: 9 },
  ],
  attachments: [{ name: 'screen', path: 'out/shot.png', contentType: 'image/png' }],
});

const failedStep = (index: number, classification: 'product' | 'harness' | 'lab', message: string): StepResult => ({
  index,
  kind: 'expectText',
  name: 'sees the menu',
  status: 'failed',
  durationMs: 30,
  error: { classification, message, stack: `Error: ${message}\n    at somewhere` },
});

const skippedStep = (index: number): StepResult => ({ index, kind: 'click', name: 'next', status: 'skipped', durationMs: 0 });

// A title and a message with markup, quotes, a C0 control and a lone surrogate: escaped or dropped.
const kNastyTitle = `<b> & "quoted" 'x'\u0001`;
const kNastyMessage = `expected <menu> & got "error"\u0007\uD800 here`;

const results: ScenarioResult[] = [
  { scenario: scenario('login-ok'), status: 'passed', attempts: 1, durationMs: 1500, steps: [passedStep(0)] },
  { scenario: scenario('menu-broken', kNastyTitle), status: 'failed', attempts: 1, durationMs: 800, steps: [passedStep(0), failedStep(1, 'product', kNastyMessage), skippedStep(2)] },
  { scenario: scenario('custom-bug'), status: 'failed', attempts: 1, durationMs: 200, steps: [failedStep(0, 'harness', 'TypeError: x is undefined')] },
  { scenario: scenario('reader-gone'), status: 'failed', attempts: 1, durationMs: 50, steps: [], error: { classification: 'lab', message: 'reader vpcd 0 disappeared' } },
  { scenario: scenario('needs-phone'), status: 'skipped', attempts: 0, durationMs: 0, steps: [], error: { classification: 'lab', message: 'no phone in profile emulated' } },
  { scenario: scenario('sometimes'), status: 'flaky', attempts: 2, durationMs: 3000, steps: [passedStep(0)] },
];

const run: RunResult = { info, scenarios: results, durationMs: 5550, status: 'failed' };

/** Feeds the run's events to a reporter, the way the runner will. */
async function feed(reporter: Reporter): Promise<void> {
  reporter.onBegin?.(info);
  for (const r of results) {
    reporter.onScenarioBegin?.(r.scenario);
    for (const step of r.steps) {
      reporter.onStepBegin?.(r.scenario, { index: step.index, kind: step.kind, name: step.name });
      reporter.onStepEnd?.(r.scenario, step);
    }
    reporter.onScenarioEnd?.(r);
  }
  await reporter.onEnd?.(run);
}

// ---------------------------------------------------------------------------------------------

function xmllint(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('xmllint', args, { encoding: 'utf8' });
  if (r.error) {
    throw new Error(`xmllint is needed to check the JUnit report (${r.error.message}); install it with: apt-get install libxml2-utils`);
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function xpath(file: string, expression: string): string {
  const r = xmllint(['--xpath', expression, file]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('JUnitReporter', () => {
  const file = join(dir, 'nested', 'junit.xml');
  beforeAll(() => feed(new JUnitReporter({ outputFile: file })));

  it('writes XML that validates against reports/junit.xsd', () => {
    const r = xmllint(['--noout', '--schema', kSchema, file]);
    expect(r.status, r.stderr).toBe(0);
  });

  it('counts one suite of six tests: 1 failure (product), 2 errors (harness, lab), 1 skipped', () => {
    expect(xpath(file, 'count(/testsuites/testsuite)')).toBe('1');
    for (const el of ['/testsuites', '/testsuites/testsuite']) {
      expect(xpath(file, `string(${el}/@name)`)).toBe('smoke');
      expect(xpath(file, `string(${el}/@tests)`)).toBe('6');
      expect(xpath(file, `string(${el}/@failures)`)).toBe('1');
      expect(xpath(file, `string(${el}/@errors)`)).toBe('2');
      expect(xpath(file, `string(${el}/@skipped)`)).toBe('1');
      expect(xpath(file, `string(${el}/@time)`)).toBe('5.550');
    }
    expect(xpath(file, 'count(//testcase)')).toBe('6');
    expect(xpath(file, 'count(//testcase/failure)')).toBe('1');
    expect(xpath(file, 'count(//testcase/error)')).toBe('2');
    expect(xpath(file, 'count(//testcase/skipped)')).toBe('1');
    expect(xpath(file, 'string(//property[@name="reader"]/@value)')).toBe('vpcd 0');
  });

  it('names each test case by file and "id: title", and puts each outcome where it belongs', () => {
    const tc = (id: string): string => `//testcase[starts-with(@name, "${id}: ")]`;
    expect(xpath(file, `string(${tc('login-ok')}/@classname)`)).toBe('scenarios/login-ok.yaml');
    expect(xpath(file, `string(${tc('login-ok')}/@time)`)).toBe('1.500');
    expect(xpath(file, `count(${tc('login-ok')}/*[self::failure or self::error or self::skipped])`)).toBe('0');
    expect(xpath(file, `string(${tc('menu-broken')}/failure/@type)`)).toBe('product');
    expect(xpath(file, `string(${tc('custom-bug')}/error/@type)`)).toBe('harness');
    expect(xpath(file, `string(${tc('reader-gone')}/error/@type)`)).toBe('lab');
    expect(xpath(file, `string(${tc('reader-gone')}/error/@message)`)).toBe('reader vpcd 0 disappeared');
    expect(xpath(file, `string(${tc('needs-phone')}/skipped/@message)`)).toBe('no phone in profile emulated');
    expect(xpath(file, `count(${tc('sometimes')}/*[self::failure or self::error or self::skipped])`)).toBe('0');
    expect(xpath(file, `string(${tc('sometimes')}/system-out)`)).toContain('flaky: passed on attempt 2');
  });

  it('escapes markup and drops characters XML 1.0 forbids', () => {
    expect(xpath(file, 'string(//testcase[starts-with(@name, "menu-broken")]/@name)')).toBe(`menu-broken: <b> & "quoted" 'x'`);
    expect(xpath(file, 'string(//failure/@message)')).toBe('step 2 expectText: sees the menu: expected <menu> & got "error" here');
    expect(escapeXml('a\u0000b\uFFFEc\u{1F600}')).toBe('abc\u{1F600}');
    expect(escapeXml('x\ny', { attribute: true })).toBe('x&#10;y');
    expect(escapeXml('x\ny')).toBe('x\ny');
  });

  it('puts the step log and the APDU trace with decoded status words in system-out', () => {
    const out = xpath(file, 'string(//testcase[starts-with(@name, "menu-broken")]/system-out)');
    expect(out).toContain('✓ step 1 pcLogin: log in (120 ms)');
    expect(out).toContain('> 00A4040C0AD3921000310001010408');
    expect(out).toContain('< 63C2 verification failed, 2 tries left (9 ms)');
    expect(out).toContain('✗ step 2 expectText: sees the menu (30 ms) [product] expected <menu>');
    expect(out).toContain('- step 3 click: next (0 ms)');
    expect(out).toContain('[[ATTACHMENT|out/shot.png]]');
    expect(xpath(file, 'count(//testcase[starts-with(@name, "menu-broken")]/system-out)')).toBe('1');
  });
});

describe('JsonReporter', () => {
  it('writes the whole RunResult, which reads back equal', async () => {
    const file = join(dir, 'json', 'run.json');
    await feed(new JsonReporter({ outputFile: file }));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(run);
  });
});

describe('ListReporter', () => {
  it('writes one line per scenario, the failing step and whose fault, and a summary', async () => {
    const lines: string[] = [];
    await feed(new ListReporter((line) => lines.push(line)));
    expect(lines).toEqual([
      'smoke 0.1.0: reader vpcd 0, profile emulated',
      '✓ login-ok: the login-ok one (1.5s)',
      `✗ menu-broken: ${kNastyTitle} (800ms)`,
      `    step 2 expectText: sees the menu: [product] ${kNastyMessage}`,
      '✗ custom-bug: the custom-bug one (200ms)',
      '    step 1 expectText: sees the menu: [harness] TypeError: x is undefined',
      '✗ reader-gone: the reader-gone one (50ms)',
      '    [lab] reader vpcd 0 disappeared',
      '- needs-phone: the needs-phone one (skipped: no phone in profile emulated)',
      '~ sometimes: the sometimes one (3.0s, flaky: passed on attempt 2)',
      '6 scenarios: 1 passed, 1 flaky, 3 failed (1 product, 1 harness, 1 lab), 1 skipped in 5.5s',
    ]);
  });
});

describe('ReporterMultiplexer', () => {
  it('goes on past a reporter that throws in every method, and logs each throw', async () => {
    const thrower: Reporter = {
      onBegin: () => { throw new Error('boom in onBegin'); },
      onScenarioBegin: () => { throw new Error('boom in onScenarioBegin'); },
      onStepBegin: () => { throw new Error('boom in onStepBegin'); },
      onStepEnd: () => { throw new Error('boom in onStepEnd'); },
      onScenarioEnd: () => { throw new Error('boom in onScenarioEnd'); },
      onEnd: async () => { throw new Error('boom in onEnd'); },
    };
    const calls: string[] = [];
    const recorder: Reporter = {
      onBegin: () => void calls.push('begin'),
      onScenarioBegin: (s) => void calls.push(`scenario ${s.id}`),
      onStepBegin: (_s, step) => void calls.push(`step begin ${step.index}`),
      onStepEnd: (_s, step) => void calls.push(`step end ${step.index}`),
      onScenarioEnd: (r) => void calls.push(`end ${r.scenario.id} ${r.status}`),
      onEnd: async (r) => void calls.push(`run ${r.status}`),
    };
    const lines: string[] = [];
    const log: string[] = [];
    const jsonFile = join(dir, 'mux', 'run.json');
    const mux = new ReporterMultiplexer([thrower, recorder, {}, new ListReporter((l) => lines.push(l)), new JsonReporter({ outputFile: jsonFile })], (m) => log.push(m));

    await expect(feed(mux)).resolves.toBeUndefined();

    const steps = results.reduce((n, r) => n + r.steps.length, 0);
    expect(calls[0]).toBe('begin');
    expect(calls.filter((c) => c.startsWith('scenario '))).toHaveLength(results.length);
    expect(calls.filter((c) => c.startsWith('step end '))).toHaveLength(steps);
    expect(calls.at(-1)).toBe('run failed');
    expect(lines).toHaveLength(11);
    expect(JSON.parse(readFileSync(jsonFile, 'utf8'))).toEqual(run);

    expect(log).toHaveLength(2 + 2 * results.length + 2 * steps);
    for (const event of ['onBegin', 'onScenarioBegin', 'onStepBegin', 'onStepEnd', 'onScenarioEnd', 'onEnd']) {
      expect(log.some((m) => m.startsWith(`reporter #1 failed in ${event}: `) && m.includes(`boom in ${event}`))).toBe(true);
    }
  });

  it('survives a non-Error throw, a synchronous throw in onEnd and a log that throws', async () => {
    const log: string[] = [];
    const mux = new ReporterMultiplexer([{ onBegin: () => { throw 'just a string'; }, onEnd: () => { throw new Error('sync'); } }], (m) => log.push(m));
    mux.onBegin(info);
    await mux.onEnd(run);
    expect(log).toEqual(['reporter #1 failed in onBegin: just a string', expect.stringContaining('reporter #1 failed in onEnd: Error: sync')]);

    const angry = new ReporterMultiplexer([{ onBegin: () => { throw new Error('x'); } }], () => { throw new Error('log is broken'); });
    expect(() => angry.onBegin(info)).not.toThrow();
  });
});
