/**
 * The live line on a terminal: how far the run is and what each running scenario is doing, redrawn
 * in place on stderr. Only for terminals — in CI the list reporter's plain lines say everything.
 * It clears its line before anybody else writes (`clear()`), so that lines never mix.
 */
import type { RunInfo, RunResult, ScenarioInfo, ScenarioResult, StepInfo } from '../harness/runner/results.js';
import type { Reporter } from '../harness/runner/reporter-api.js';

export class ProgressReporter implements Reporter {
  private _total = 0;
  private _done = 0;
  private _failed = 0;
  private readonly _running = new Map<string, string>();
  private _shown = false;

  constructor(
    private readonly _stream: { write(text: string): unknown; columns?: number | undefined },
    total: number,
  ) {
    this._total = total;
  }

  onBegin(_info: RunInfo): void {
    this._draw();
  }

  onScenarioBegin(scenario: ScenarioInfo): void {
    this._running.set(scenario.id, 'starting');
    this._draw();
  }

  onStepBegin(scenario: ScenarioInfo, step: StepInfo): void {
    this._running.set(scenario.id, `step ${step.index + 1} ${step.kind}`);
    this._draw();
  }

  onScenarioEnd(result: ScenarioResult): void {
    this._running.delete(result.scenario.id);
    this._done++;
    if (result.status === 'failed') this._failed++;
    this._draw();
  }

  onEnd(_result: RunResult): void {
    this.clear();
  }

  /** Erases the live line (call before writing other lines to the same terminal). */
  clear(): void {
    if (!this._shown) return;
    this._stream.write('\r\x1b[K');
    this._shown = false;
  }

  private _draw(): void {
    const running = [...this._running].map(([id, what]) => `${id} (${what})`).join(', ');
    const failed = this._failed > 0 ? `, ${this._failed} failed` : '';
    let line = `[${this._done}/${this._total}${failed}] ${running}`;
    const width = Math.max(20, (this._stream.columns ?? 100) - 1);
    if (line.length > width) line = `${line.slice(0, width - 1)}…`;
    this._stream.write(`\r\x1b[K${line}`);
    this._shown = true;
  }
}
