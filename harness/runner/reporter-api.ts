/**
 * The reporter API, the one seam between the runner and reports/. Reporters are passive observers
 * of a run (design.md rule 9): the runner calls them, they never steer it. Every method is optional. The runner talks to one ReporterMultiplexer, which fans each
 * event out to every reporter and isolates them: a reporter that throws is logged and the run,
 * and the other reporters, go on.
 */
import type { RunInfo, RunResult, ScenarioInfo, ScenarioResult, StepInfo, StepResult } from './results.js';

export interface Reporter {
  onBegin?(info: RunInfo): void;
  /** Once per attempt: a retried scenario begins again. */
  onScenarioBegin?(scenario: ScenarioInfo): void;
  onStepBegin?(scenario: ScenarioInfo, step: StepInfo): void;
  onStepEnd?(scenario: ScenarioInfo, step: StepResult): void;
  /** Once per scenario, after its last attempt. */
  onScenarioEnd?(result: ScenarioResult): void;
  /** Where reporters do their heavy work (writing files); the runner waits for it. */
  onEnd?(result: RunResult): Promise<void> | void;
}

export type ReporterLog = (message: string) => void;

type EventName = keyof Reporter;

export class ReporterMultiplexer implements Reporter {
  constructor(
    private readonly reporters: readonly Reporter[],
    private readonly log: ReporterLog = (message) => console.error(message),
  ) {}

  onBegin(info: RunInfo): void {
    this.each('onBegin', (r) => r.onBegin?.(info));
  }

  onScenarioBegin(scenario: ScenarioInfo): void {
    this.each('onScenarioBegin', (r) => r.onScenarioBegin?.(scenario));
  }

  onStepBegin(scenario: ScenarioInfo, step: StepInfo): void {
    this.each('onStepBegin', (r) => r.onStepBegin?.(scenario, step));
  }

  onStepEnd(scenario: ScenarioInfo, step: StepResult): void {
    this.each('onStepEnd', (r) => r.onStepEnd?.(scenario, step));
  }

  onScenarioEnd(result: ScenarioResult): void {
    this.each('onScenarioEnd', (r) => r.onScenarioEnd?.(result));
  }

  /** Waits for every reporter, together; never rejects. */
  async onEnd(result: RunResult): Promise<void> {
    await Promise.all(
      this.reporters.map(async (r, i) => {
        try {
          await r.onEnd?.(result);
        } catch (e) {
          this.report('onEnd', r, i, e);
        }
      }),
    );
  }

  private each(event: EventName, call: (r: Reporter) => void): void {
    this.reporters.forEach((r, i) => {
      try {
        call(r);
      } catch (e) {
        this.report(event, r, i, e);
      }
    });
  }

  private report(event: EventName, reporter: Reporter, index: number, e: unknown): void {
    const name = reporter.constructor?.name && reporter.constructor.name !== 'Object' ? reporter.constructor.name : `reporter #${index + 1}`;
    const detail = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    try {
      this.log(`${name} failed in ${event}: ${detail}`);
    } catch {
      // A log that throws must not stop the run either.
    }
  }
}
