/**
 * Sharded runs: each shard writes its own JSON report (reports/json-reporter.ts), and these are
 * merged into one RunResult that the other reporters (JUnit, HTML) can render as if one run had
 * run everything.
 */
import { readFileSync } from 'node:fs';
import type { RunResult, RunStatus, ScenarioResult, ScenarioStatus } from '../harness/runner/results.js';

/**
 * One run out of its shards.
 *
 * - Scenarios: the union, ordered by scenario file, then id. The order is a function of the
 *   scenarios alone, never of which shard ran what or of the order the parts are given in. Files
 *   are compared folder by folder, each name with localeCompare, which is the order in which
 *   loadScenarios walks a folder of scenario files, so a merged run lists scenarios as a single run
 *   over the same folder would.
 * - A scenario id in more than one part is an error: the shards overlapped, and silently keeping
 *   one result would hide a scenario that ran twice, perhaps with different outcomes.
 * - Info: that of the first part (suite, version, reader, profile), except `startedAt`, which is
 *   the earliest of all parts.
 * - Duration: the longest part's, not the sum: shards run in parallel, so the run took as long as
 *   its slowest shard (near enough; shards that start late are not accounted for).
 * - Status: `failed` if any scenario failed or any part says it failed; else `interrupted` if
 *   any part was interrupted (some scenarios never ran, so the run cannot be called passed);
 *   else `passed`.
 */
export function mergeRunResults(parts: RunResult[]): RunResult {
  const first = parts[0];
  if (!first) throw new Error('mergeRunResults: no run results to merge');

  const shardOf = new Map<string, number>();
  const scenarios: ScenarioResult[] = [];
  parts.forEach((part, shard) => {
    for (const s of part.scenarios) {
      const other = shardOf.get(s.scenario.id);
      if (other !== undefined) {
        throw new Error(`scenario "${s.scenario.id}" is in part ${other + 1} and in part ${shard + 1}: the shards overlap`);
      }
      shardOf.set(s.scenario.id, shard);
      scenarios.push(s);
    }
  });
  scenarios.sort(compareScenarios);

  const startedAt = parts.map((p) => p.info.startedAt).reduce((a, b) => (startTime(b) < startTime(a) ? b : a));
  const failed = parts.some((p) => p.status === 'failed') || scenarios.some((s) => s.status === 'failed');
  const status: RunStatus = failed ? 'failed' : parts.some((p) => p.status === 'interrupted') ? 'interrupted' : 'passed';
  return {
    info: { ...first.info, startedAt },
    scenarios,
    durationMs: Math.max(...parts.map((p) => p.durationMs)),
    status,
  };
}

/** An ISO time as milliseconds; a time that does not parse sorts last rather than winning. */
function startTime(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function compareScenarios(a: ScenarioResult, b: ScenarioResult): number {
  return compareFiles(a.scenario.file, b.scenario.file) || compareText(a.scenario.id, b.scenario.id);
}

/** Folder by folder, as a depth-first walk that sorts each folder's entries by name visits them. */
function compareFiles(a: string, b: string): number {
  const as = a.split(/[\\/]/);
  const bs = b.split(/[\\/]/);
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const c = compareText(as[i]!, bs[i]!);
    if (c !== 0) return c;
  }
  return as.length - bs.length;
}

/** localeCompare, with code-unit order to break its ties, so that distinct names never compare equal. */
function compareText(a: string, b: string): number {
  return a.localeCompare(b) || (a < b ? -1 : a > b ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// Reading a shard's report

const kRunStatuses: readonly RunStatus[] = ['passed', 'failed', 'interrupted'];
const kScenarioStatuses: readonly ScenarioStatus[] = ['passed', 'failed', 'flaky', 'skipped'];

/**
 * A JSON report written by JsonReporter (the RunResult as it is), checked enough that a wrong file
 * fails here, naming the file and what is missing, rather than later deep inside a reporter.
 */
export function readRunResultFile(path: string): RunResult {
  const notReport = (what: string): Error => new Error(`${path} is not a jpki-hil JSON report: ${what}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the jpki-hil JSON report ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw notReport(`not JSON (${(e as Error).message})`);
  }
  const problem = runResultProblem(data);
  if (problem) throw notReport(problem);
  return data as RunResult;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The first thing wrong with the shape, as a path and what it should be; undefined when it looks like a RunResult. */
function runResultProblem(data: unknown): string | undefined {
  if (!isObject(data)) return 'the top level is not an object';
  const { info, scenarios } = data;
  if (!isObject(info)) return '"info" is missing or not an object';
  for (const key of ['suiteVersion', 'startedAt', 'reader'] as const) {
    if (typeof info[key] !== 'string') return `"info.${key}" is missing or not a string`;
  }
  if (typeof data.durationMs !== 'number') return '"durationMs" is missing or not a number';
  if (!kRunStatuses.includes(data.status as RunStatus)) return `"status" is not one of ${kRunStatuses.join(', ')}`;
  if (!Array.isArray(scenarios)) return '"scenarios" is missing or not an array';
  for (const [i, s] of scenarios.entries()) {
    const at = `"scenarios[${i}]`;
    if (!isObject(s)) return `${at}" is not an object`;
    if (!isObject(s.scenario)) return `${at}.scenario" is missing or not an object`;
    for (const key of ['id', 'title', 'file'] as const) {
      if (typeof s.scenario[key] !== 'string') return `${at}.scenario.${key}" is missing or not a string`;
    }
    if (!Array.isArray(s.scenario.tags)) return `${at}.scenario.tags" is missing or not an array`;
    if (!kScenarioStatuses.includes(s.status as ScenarioStatus)) return `${at}.status" is not one of ${kScenarioStatuses.join(', ')}`;
    if (typeof s.attempts !== 'number') return `${at}.attempts" is missing or not a number`;
    if (typeof s.durationMs !== 'number') return `${at}.durationMs" is missing or not a number`;
    if (!Array.isArray(s.steps)) return `${at}.steps" is missing or not an array`;
  }
  return undefined;
}
