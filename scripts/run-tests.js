// Runs the vitest suite and closes with one plain "N passed, N failed" line that CI reads.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';

mkdirSync('out', { recursive: true });
const report = 'out/vitest-results.json';
const result = spawnSync(
  'npx',
  ['--no-install', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
let summary;
try {
  summary = JSON.parse(readFileSync(report, 'utf8'));
} catch {
  console.error('run-tests: vitest wrote no results; see the output above');
  process.exit(result.status || 1);
}
const passed = summary.numPassedTests ?? 0;
// A failed test counts once (vitest also counts its file and describe blocks as failed suites); a
// file that failed with no failed test (it did not load, a hook threw) counts as one more.
const brokenFiles = (summary.testResults ?? []).filter(
  (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
).length;
const failed = (summary.numFailedTests ?? 0) + brokenFiles;
const skipped = (summary.numPendingTests ?? 0) + (summary.numTodoTests ?? 0);
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(result.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
