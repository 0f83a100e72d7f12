/**
 * Certification: runs the scenarios that apply to a device (its profile says what it declares) with
 * the card read through that device's profile shim, and turns the run into a CertificationReport;
 * for several devices, into the compatibility matrix. Signing and rendering are sign.ts and html.ts.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Reporter } from '../runner/reporter-api.js';
import type { DeviceProfile } from '../profiles/profile.js';
import type { ReaderChoice } from '../fixtures/card-slot.js';
import { scenarioFailure, type RunResult, type ScenarioResult } from '../runner/results.js';
import type { RunResources} from '../runner/run.js';
import { describeReader, notApplicable, runScenarios } from '../runner/run.js';
import type { Scenario } from '../runner/scenario.js';
import { declaredCapabilities, type CertificationReport, type MatrixReport, type ScenarioVerdict } from './report.js';

export interface CertifyRunOptions {
  scenarios: readonly Scenario[];
  reader: ReaderChoice;
  suite: string;
  suiteVersion: string;
  harnessVersion: string;
  seed: number;
  workers: number;
  /** The run's own reports (list, JUnit, HTML, JSON) for this device go here. */
  outDir: string;
  reporter: Reporter;
  log: (line: string) => void;
  signal?: AbortSignal | undefined;
  /** The CA, cards and browser every device's run shares. */
  resources?: RunResources | undefined;
}

export function verdictOf(result: ScenarioResult, profile: DeviceProfile, scenario: Scenario | undefined): ScenarioVerdict {
  const base = { id: result.scenario.id, title: result.scenario.title, durationMs: result.durationMs };
  if (result.status === 'skipped') {
    const reason = (scenario && notApplicable(scenario, profile)) ?? result.error?.message ?? 'not run';
    return { ...base, verdict: 'not-applicable', reason };
  }
  if (result.status === 'passed' || result.status === 'flaky') return { ...base, verdict: 'pass', ...(result.status === 'flaky' ? { reason: `passed on attempt ${result.attempts}` } : {}) };
  const failed = scenarioFailure(result);
  return {
    ...base,
    verdict: 'fail',
    reason: failed ? firstLine(failed.failure.message) : 'failed',
    classification: failed?.failure.classification,
  };
}

export async function certifyDevice(profile: DeviceProfile, options: CertifyRunOptions): Promise<{ report: CertificationReport; run: RunResult }> {
  const run = await runScenarios({
    scenarios: options.scenarios,
    reader: options.reader,
    workers: options.workers,
    retries: 0,
    outDir: options.outDir,
    reporter: options.reporter,
    suite: options.suite,
    suiteVersion: options.suiteVersion,
    profile,
    seed: options.seed,
    signal: options.signal,
    log: options.log,
    resources: options.resources,
  });
  const byId = new Map(options.scenarios.map((s) => [s.id, s]));
  const results = run.scenarios.map((r) => verdictOf(r, profile, byId.get(r.scenario.id)));
  const count = (v: ScenarioVerdict['verdict']): number => results.filter((r) => r.verdict === v).length;
  const summary = { pass: count('pass'), fail: count('fail'), notApplicable: count('not-applicable') };
  const report: CertificationReport = {
    format: 'jpki-hil-certification/1',
    suite: options.suite,
    suiteVersion: options.suiteVersion,
    harnessVersion: options.harnessVersion,
    generatedAt: new Date().toISOString(),
    reader: describeReader(options.reader),
    seed: options.seed,
    device: {
      id: profile.id,
      name: profile.name,
      modelled: profile.modelled,
      description: profile.description,
      profileSha256: createHash('sha256').update(readFileSync(profile.file)).digest('hex'),
    },
    capabilities: declaredCapabilities(profile),
    results,
    summary,
    certified: summary.fail === 0 && summary.pass > 0 && run.status !== 'interrupted',
  };
  return { report, run };
}

export function buildMatrix(reports: readonly CertificationReport[], scenarios: readonly Scenario[], profiles: readonly DeviceProfile[]): MatrixReport {
  const first = reports[0];
  const kinds = new Map(profiles.map((p) => [p.id, p.kind]));
  return {
    format: 'jpki-hil-matrix/1',
    suite: first?.suite ?? '',
    suiteVersion: first?.suiteVersion ?? '',
    harnessVersion: first?.harnessVersion ?? '',
    generatedAt: new Date().toISOString(),
    reader: first?.reader ?? '',
    seed: first?.seed ?? 0,
    scenarios: scenarios.map((s) => ({ id: s.id, title: s.title })),
    devices: reports.map((r) => ({ id: r.device.id, name: r.device.name, kind: kinds.get(r.device.id) ?? r.capabilities.kind, modelled: r.device.modelled, certified: r.certified })),
    cells: Object.fromEntries(
      reports.map((r) => [r.device.id, Object.fromEntries(r.results.map((v) => [v.id, { verdict: v.verdict, ...(v.reason ? { reason: v.reason } : {}) }]))]),
    ),
  };
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}
