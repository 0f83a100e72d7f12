/**
 * What the runner tells its reporters (design.md rule 9): plain data, JSON-serialisable, so that a
 * reporter needs nothing but these types — no card, reader or portal (the lint rules forbid
 * reports/ from importing them). Times are ISO 8601 strings, durations milliseconds.
 */
import type { StepKind } from './scenario.js';
import type { FailureClassification } from '../fixtures/failure.js';

/**
 * Who is at fault when something went wrong:
 * - `product`: the service or card under test misbehaved (an assertion failed) — JUnit `<failure>`;
 * - `harness`: this harness is wrong (a bug, a bad scenario) — JUnit `<error>`;
 * - `lab`: the lab let us down (reader gone, phone timeout, browser crash) — JUnit `<error>`.
 */
export type { FailureClassification };

export interface Failure {
  classification: FailureClassification;
  message: string;
  stack?: string | undefined;
}

/** One command–response pair seen on the wire while a step ran. */
export interface ApduRecord {
  /** When the command was sent, ISO 8601. */
  time: string;
  /** The command APDU in hex; the data of VERIFY and CHANGE REFERENCE DATA is masked (`**` per byte). */
  command: string;
  /** The response data in hex, without the status word. */
  response: string;
  /** The status word, four hex digits. */
  sw: string;
  /** The status word decoded, e.g. "normal processing" or "verification failed, 2 tries left". */
  meaning: string;
  /** Why an emulated card answered an error, when it said ("offset 4000 is past the end of the EF"). */
  detail?: string | undefined;
  durationMs: number;
}

export interface Attachment {
  name: string;
  path: string;
  contentType: string;
}

export interface RunInfo {
  suite?: string | undefined;
  suiteVersion: string;
  /** ISO 8601. */
  startedAt: string;
  /** The lab profile the run was matched against. */
  profile?: string | undefined;
  /** The reader (or emulated reader) the card sat in. */
  reader: string;
}

export interface ScenarioInfo {
  id: string;
  title: string;
  tags: string[];
  /** The scenario file. */
  file: string;
}

export interface StepInfo {
  /** 0-based position in the scenario's steps. */
  index: number;
  kind: StepKind;
  /** The step's name, or a description the runner made up from its fields. */
  name: string;
}

export type StepStatus = 'passed' | 'failed' | 'skipped';

export interface StepResult extends StepInfo {
  status: StepStatus;
  durationMs: number;
  error?: Failure | undefined;
  apdus?: ApduRecord[] | undefined;
  attachments?: Attachment[] | undefined;
}

/** `flaky`: failed at first, passed on a retry. */
export type ScenarioStatus = 'passed' | 'failed' | 'flaky' | 'skipped';

export interface ScenarioResult {
  scenario: ScenarioInfo;
  status: ScenarioStatus;
  /** How many times it ran (1 without retries; 0 when skipped). */
  attempts: number;
  durationMs: number;
  /** The steps of the last attempt. */
  steps: StepResult[];
  /** Why it failed outside any step (setup, timeout), or why it was skipped. */
  error?: Failure | undefined;
}

/** `interrupted`: the run was stopped before every scenario had run. */
export type RunStatus = 'passed' | 'failed' | 'interrupted';

export interface RunResult {
  info: RunInfo;
  scenarios: ScenarioResult[];
  durationMs: number;
  status: RunStatus;
}

/** Why a failed scenario failed: its own error, else its first failed step's, else a harness defect (it should have said). */
export function scenarioFailure(result: ScenarioResult): { failure: Failure; step?: StepResult | undefined } | undefined {
  if (result.status !== 'failed') return undefined;
  const step = result.steps.find((s) => s.status === 'failed');
  const failure = result.error ?? step?.error;
  if (failure) return { failure, step: result.error ? undefined : step };
  return { failure: { classification: 'harness', message: 'the scenario failed without saying why' }, step };
}

/** `step 2 pcLogin: log in with the card` — a step as people read it in a log. */
export function describeStep(step: StepInfo): string {
  return `step ${step.index + 1} ${step.kind}${step.name ? `: ${step.name}` : ''}`;
}
