/** The whole RunResult as JSON, written on onEnd: for dashboards and for comparing runs. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunResult } from '../harness/runner/results.js';
import type { Reporter } from '../harness/runner/reporter-api.js';

export interface JsonReporterOptions {
  /** Where to write the JSON; parent directories are created. */
  outputFile: string;
}

export class JsonReporter implements Reporter {
  constructor(private readonly options: JsonReporterOptions) {}

  async onEnd(result: RunResult): Promise<void> {
    await mkdir(dirname(this.options.outputFile), { recursive: true });
    await writeFile(this.options.outputFile, `${JSON.stringify(result, null, 2)}\n`, 'utf8');
  }
}
