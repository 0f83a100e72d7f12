import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunInfo, RunResult, ScenarioResult, ScenarioStatus } from '../../harness/runner/results.js';
import { JsonReporter } from '../../reports/json-reporter.js';
import { mergeRunResults, readRunResultFile } from '../../reports/merge.js';

const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const info: RunInfo = { suite: 'smoke', suiteVersion: '0.1.0', startedAt: '2026-11-23T07:00:00.000Z', profile: 'emulated', reader: 'vpcd 0' };

function result(file: string, id: string, status: ScenarioStatus): ScenarioResult {
  const failed = status === 'failed';
  return {
    scenario: { id, title: `${id} のシナリオ`, tags: [], file },
    status,
    attempts: status === 'skipped' ? 0 : status === 'flaky' ? 2 : 1,
    durationMs: 100,
    steps: [{ index: 0, kind: 'pcLogin', name: 'log in', status: failed ? 'failed' : 'passed', durationMs: 100, ...(failed ? { error: { classification: 'product', message: 'no menu' } } : {}) }],
  };
}

// What one unsharded run over scenarios/ lists, in the order loadScenarios walks the folder:
// each folder's entries by name, sub-folders where their names fall.
const single: ScenarioResult[] = [
  result('scenarios/cross-device/phone-login.yaml', 'phone-login', 'passed'),
  result('scenarios/cross-device/qr-sign.yaml', 'qr-sign', 'flaky'),
  result('scenarios/login.yaml', 'login', 'passed'),
  result('scenarios/Mynaportal/menu.yaml', 'menu', 'failed'),
  result('scenarios/sign/tax-form.yaml', 'tax-form', 'skipped'),
  result('scenarios/sign.yaml', 'sign', 'passed'),
];
const at = (i: number): ScenarioResult => single[i]!;

describe('mergeRunResults', () => {
  // Round-robin sharding, and the shards finish out of order.
  const shardA: RunResult = { info: { ...info, startedAt: '2026-11-23T07:00:02.000Z' }, scenarios: [at(1), at(3), at(5)], durationMs: 4000, status: 'failed' };
  const shardB: RunResult = { info: { ...info, reader: 'vpcd 1' }, scenarios: [at(4), at(0), at(2)], durationMs: 6500, status: 'passed' };

  it('gives the single-run order and statuses whichever shard ran what, in whichever order the parts come', () => {
    const merged = mergeRunResults([shardA, shardB]);
    expect(merged.scenarios).toEqual(single);
    expect(mergeRunResults([shardB, shardA]).scenarios).toEqual(single);
    expect(merged.scenarios.map((s) => s.status)).toEqual(['passed', 'flaky', 'passed', 'failed', 'skipped', 'passed']);
  });

  it('starts at the earliest start, lasts as long as the slowest shard, and keeps the first part’s info', () => {
    const merged = mergeRunResults([shardA, shardB]);
    expect(merged.info).toEqual({ ...info, startedAt: '2026-11-23T07:00:00.000Z' });
    expect(merged.durationMs).toBe(6500);
    expect(merged.status).toBe('failed');
  });

  it('is failed over interrupted over passed', () => {
    const passed = (...s: ScenarioResult[]): RunResult => ({ info, scenarios: s, durationMs: 1, status: 'passed' });
    const interrupted = (...s: ScenarioResult[]): RunResult => ({ info, scenarios: s, durationMs: 1, status: 'interrupted' });
    expect(mergeRunResults([passed(at(0)), passed(at(1))]).status).toBe('passed');
    expect(mergeRunResults([passed(at(0)), interrupted(at(1))]).status).toBe('interrupted');
    expect(mergeRunResults([interrupted(at(3)), passed(at(1))]).status).toBe('failed');
    expect(mergeRunResults([passed(at(0))])).toEqual(passed(at(0)));
  });

  it('refuses shards that overlap, naming the scenario', () => {
    const overlapping: RunResult = { ...shardB, scenarios: [at(2), { ...at(3), status: 'passed' }] };
    expect(() => mergeRunResults([shardA, overlapping])).toThrow('scenario "menu" is in part 1 and in part 2: the shards overlap');
    expect(() => mergeRunResults([])).toThrow(/no run results/);
  });
});

describe('readRunResultFile', () => {
  it('reads back what JsonReporter wrote, and merges it', async () => {
    const files = [join(dir, 'shard-1', 'run.json'), join(dir, 'shard-2', 'run.json')];
    const shards: RunResult[] = [
      { info, scenarios: [at(2), at(0)], durationMs: 10, status: 'passed' },
      { info, scenarios: [at(1)], durationMs: 20, status: 'passed' },
    ];
    await Promise.all(shards.map((r, i) => new JsonReporter({ outputFile: files[i]! }).onEnd(r)));
    const read = files.map(readRunResultFile);
    expect(read).toEqual(shards);
    expect(mergeRunResults(read).scenarios).toEqual([at(0), at(1), at(2)]);
  });

  it('names the file and what is wrong with it', () => {
    const write = (name: string, text: string): string => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const notJson = write('junit.xml', '<?xml version="1.0"?><testsuites/>');
    expect(() => readRunResultFile(notJson)).toThrow(new RegExp(`^${notJson} is not a jpki-hil JSON report: not JSON`));
    const vitest = write('vitest.json', JSON.stringify({ numPassedTests: 3, testResults: [] }));
    expect(() => readRunResultFile(vitest)).toThrow(`${vitest} is not a jpki-hil JSON report: "info" is missing or not an object`);
    const noStatus = write('no-status.json', JSON.stringify({ info, scenarios: [], durationMs: 1 }));
    expect(() => readRunResultFile(noStatus)).toThrow(`${noStatus} is not a jpki-hil JSON report: "status" is not one of passed, failed, interrupted`);
    const badScenario = write('bad-scenario.json', JSON.stringify({ info, scenarios: [at(0), { ...at(1), scenario: { title: 'x', tags: [], file: 'f' } }], durationMs: 1, status: 'passed' }));
    expect(() => readRunResultFile(badScenario)).toThrow(`${badScenario} is not a jpki-hil JSON report: "scenarios[1].scenario.id" is missing or not a string`);
    const array = write('array.json', '[]');
    expect(() => readRunResultFile(array)).toThrow(`${array} is not a jpki-hil JSON report: the top level is not an object`);
    expect(() => readRunResultFile(join(dir, 'absent.json'))).toThrow(/cannot read the jpki-hil JSON report .*absent\.json: ENOENT/);
  });
});
