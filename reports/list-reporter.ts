/**
 * Plain lines for a CI log: one per scenario as it ends (✓ passed, ✗ failed, ~ flaky, - skipped,
 * with its time), the failing step and whose fault it was under a failure, and a summary at the end.
 */
import { describeStep, scenarioFailure, type RunInfo, type RunResult, type ScenarioResult } from '../harness/runner/results.js';
import type { Reporter } from '../harness/runner/reporter-api.js';

const kMarks: Record<ScenarioResult['status'], string> = { passed: '✓', failed: '✗', flaky: '~', skipped: '-' };

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export class ListReporter implements Reporter {
  constructor(private readonly write: (line: string) => void) {}

  onBegin(info: RunInfo): void {
    const profile = info.profile ? `, profile ${info.profile}` : '';
    this.write(`${info.suite ?? 'jpki-hil'} ${info.suiteVersion}: reader ${info.reader}${profile}`);
  }

  onScenarioEnd(result: ScenarioResult): void {
    const { scenario, status } = result;
    const head = `${kMarks[status]} ${scenario.id}: ${scenario.title}`;
    if (status === 'skipped') {
      this.write(`${head} (skipped${result.error ? `: ${result.error.message}` : ''})`);
      return;
    }
    const flaky = status === 'flaky' ? `, flaky: passed on attempt ${result.attempts}` : '';
    this.write(`${head} (${formatDuration(result.durationMs)}${flaky})`);
    const failed = scenarioFailure(result);
    if (failed) {
      const where = failed.step ? `${describeStep(failed.step)}: ` : '';
      this.write(`    ${where}[${failed.failure.classification}] ${firstLine(failed.failure.message)}`);
    }
  }

  onEnd(result: RunResult): void {
    const by = (status: ScenarioResult['status']): number => result.scenarios.filter((s) => s.status === status).length;
    const classes = { product: 0, harness: 0, lab: 0 };
    for (const s of result.scenarios) {
      const failed = scenarioFailure(s);
      if (failed) classes[failed.failure.classification]++;
    }
    const failedDetail = Object.entries(classes)
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${n} ${c}`)
      .join(', ');
    const parts = [`${by('passed')} passed`];
    if (by('flaky') > 0) parts.push(`${by('flaky')} flaky`);
    parts.push(`${by('failed')} failed${failedDetail ? ` (${failedDetail})` : ''}`);
    if (by('skipped') > 0) parts.push(`${by('skipped')} skipped`);
    const status = result.status === 'interrupted' ? ' — interrupted' : '';
    this.write(`${result.scenarios.length} scenarios: ${parts.join(', ')} in ${formatDuration(result.durationMs)}${status}`);
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}
