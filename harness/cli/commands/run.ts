/**
 * `jpki-hil run`: selects scenarios (files, directories, a suite, --grep, a shard), runs them on the
 * chosen reader and writes the reports; `jpki-hil merge-reports` joins the JSON reports of a sharded
 * run into one set of reports. Exit status: 0 when every scenario passed (or was flaky), 1 when one
 * failed, 2 for bad arguments or scenario files, 130 when interrupted.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Argv } from 'yargs';
import { makeDirectories } from '../../../emulator/index.js';
import { HtmlReporter } from '../../../reports/html-reporter.js';
import { JsonReporter } from '../../../reports/json-reporter.js';
import { JUnitReporter } from '../../../reports/junit-reporter.js';
import { ListReporter } from '../../../reports/list-reporter.js';
import { mergeRunResults, readRunResultFile } from '../../../reports/merge.js';
import { ProgressReporter } from '../../../reports/progress-reporter.js';
import { ReporterMultiplexer, type Reporter } from '../../runner/reporter-api.js';
import { loadProfile, ProfileFileError, type DeviceProfile } from '../../profiles/profile.js';
import type { ReaderChoice } from '../../fixtures/card-slot.js';
import type { RunResult } from '../../runner/results.js';
import { runScenarios } from '../../runner/run.js';
import { formatScenarioError, loadScenarios, type Scenario } from '../../runner/scenario.js';
import type { OperatorAnswer } from '../../runner/steps.js';
import { isPortalFlaw, kPortalFlaws } from '../../portal/shared/flaws.js';
import { UserError } from '../errors.js';
import type { CommandContext } from '../command.js';
import { kPackageRoot, outDir } from '../paths.js';
import { kPortalDefectNames, type PortalDefectName } from '../../runner/world.js';

export const kReporterNames = ['list', 'junit', 'html', 'json'] as const;
type ReporterName = (typeof kReporterNames)[number];
export const kReportFiles = { junit: 'junit.xml', html: 'report.html', json: 'results.json' } as const;

export const kScenariosDir = join(kPackageRoot, 'scenarios');

export function suiteVersion(): string {
  const file = join(kScenariosDir, 'VERSION');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '0.0.0';
}

export function knownSuites(): string[] {
  return readdirSync(kScenariosDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'cards' && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

export function parseReader(text: string): ReaderChoice {
  if (text === 'emulator') return { kind: 'emulator' };
  if (text === 'pcsc') return { kind: 'pcsc' };
  if (text.startsWith('pcsc:') && text.length > 5) return { kind: 'pcsc', name: text.slice(5) };
  throw new UserError(`--reader "${text}" is not emulator, pcsc or pcsc:<reader name> (list readers with: jpki-hil readers)`, 2);
}

export function parseShard(text: string): { index: number; total: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const total = m ? Number(m[2]) : NaN;
  if (!m || total < 1 || index < 1 || index > total) throw new UserError(`--shard "${text}" is not i/n with 1 ≤ i ≤ n (e.g. --shard 1/2)`, 2);
  return { index, total };
}

export function parseReporters(text: string): ReporterName[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(kReporterNames as readonly string[]).includes(name)) throw new UserError(`--reporter "${name}" is unknown; choose from ${kReporterNames.join(', ')}`, 2);
  }
  if (names.length === 0) throw new UserError(`--reporter needs at least one of ${kReporterNames.join(', ')}`, 2);
  return [...new Set(names)] as ReporterName[];
}

interface Selection {
  paths: string[];
  suite?: string | undefined;
  grep?: string | undefined;
  shard?: string | undefined;
}

/** Loads and selects; a scenario file with errors stops the run before anything starts (exit 2). */
export function selectScenarios(sel: Selection): Scenario[] {
  const paths = [...sel.paths];
  if (sel.suite) {
    const dir = join(kScenariosDir, sel.suite);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`no suite "${sel.suite}"; the suites are: ${knownSuites().join(', ')}`, 2);
    paths.push(dir);
  }
  if (paths.length === 0) paths.push(kScenariosDir);
  for (const p of paths) if (!existsSync(p)) throw new UserError(`${p}: no such file or directory`, 2);
  const { scenarios, errors } = loadScenarios(paths);
  if (errors.length > 0) {
    throw new UserError(`${errors.length} problem${errors.length === 1 ? '' : 's'} in scenario files; nothing was run:\n${errors.map((e) => `  ${formatScenarioError(e)}`).join('\n')}`, 2);
  }
  let selected = scenarios;
  if (sel.grep) {
    let regex: RegExp;
    try {
      regex = new RegExp(sel.grep, 'i');
    } catch (e) {
      throw new UserError(`--grep "${sel.grep}" is not a regular expression: ${(e as Error).message}`, 2);
    }
    selected = selected.filter((s) => regex.test(s.id) || regex.test(s.title) || s.tags.some((t) => regex.test(t)));
  }
  if (sel.shard) {
    const { index, total } = parseShard(sel.shard);
    // Round robin over the loader's order (file paths, sorted): stable for a given set of files.
    selected = selected.filter((_, i) => i % total === index - 1);
  }
  return selected;
}

function makeReporters(names: ReporterName[], out: string, ctx: CommandContext, total: number): { reporter: ReporterMultiplexer; progress?: ProgressReporter | undefined } {
  const reporters: Reporter[] = [];
  const progress = process.stderr.isTTY && names.includes('list') ? new ProgressReporter(process.stderr, total) : undefined;
  for (const name of names) {
    if (name === 'list') {
      reporters.push(
        new ListReporter((line) => {
          progress?.clear();
          ctx.io.out(line);
        }),
      );
    } else if (name === 'junit') reporters.push(new JUnitReporter({ outputFile: join(out, kReportFiles.junit) }));
    else if (name === 'json') reporters.push(new JsonReporter({ outputFile: join(out, kReportFiles.json) }));
    else reporters.push(new HtmlReporter({ file: join(out, kReportFiles.html), title: 'jpki-hil run' }));
  }
  if (progress) reporters.push(progress);
  return { reporter: new ReporterMultiplexer(reporters, (m) => ctx.io.err(m)), progress };
}

function exitCodeOf(result: RunResult): number {
  if (result.status === 'interrupted') return 130;
  return result.status === 'failed' ? 1 : 0;
}

/** A path as a person would type it from here: relative below the working directory, else absolute. */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

function writtenReports(names: ReporterName[], out: string): string[] {
  return names.filter((n): n is Exclude<ReporterName, 'list'> => n !== 'list').map((n) => `${n}: ${shownPath(join(out, kReportFiles[n]))}`);
}

/** Asks the person at the terminal; Enter means done, any text is a failure note. */
function terminalOperator(ctx: CommandContext, stopProgress: () => void) {
  return (prompt: string, signal: AbortSignal): Promise<OperatorAnswer> =>
    new Promise((resolveAnswer, reject) => {
      stopProgress();
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const onAbort = (): void => {
        rl.close();
        reject(new Error('nobody answered the operator prompt in time'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      rl.question(`\nOPERATOR: ${prompt}\n  press Enter when done, or type what went wrong and press Enter: `, (answer) => {
        signal.removeEventListener('abort', onAbort);
        rl.close();
        const note = answer.trim();
        resolveAnswer(note === '' || /^(y|yes|ok|done)$/i.test(note) ? { done: true } : { done: false, note });
      });
    });
}

interface RunArgs {
  paths: string[];
  suite?: string | undefined;
  grep?: string | undefined;
  reader: string;
  workers: number;
  retries: number;
  shard?: string | undefined;
  reporter: string;
  out: string;
  baseUrl?: string | undefined;
  stepTimeout?: number | undefined;
  list: boolean;
  verbose: boolean;
  profile?: string | undefined;
  seed?: number | undefined;
  portalFlaw?: string[] | undefined;
}

/** A profile by id or file, as a user error that lists the known ids when it is not found. */
export function profileArg(idOrFile: string): DeviceProfile {
  try {
    return loadProfile(idOrFile);
  } catch (e) {
    throw new UserError(e instanceof ProfileFileError ? e.message : (e as Error).message, 2);
  }
}

export async function runCommand(ctx: CommandContext, args: RunArgs): Promise<RunResult | undefined> {
  const reader = parseReader(args.reader);
  const names = parseReporters(args.reporter);
  const profile = args.profile === undefined ? undefined : profileArg(args.profile);
  if (args.seed !== undefined && !Number.isInteger(args.seed)) throw new UserError(`--seed must be a whole number, not ${args.seed}`, 2);
  if (!Number.isInteger(args.workers) || args.workers < 1) throw new UserError(`--workers must be a whole number ≥ 1, not ${args.workers}`, 2);
  if (!Number.isInteger(args.retries) || args.retries < 0) throw new UserError(`--retries must be a whole number ≥ 0, not ${args.retries}`, 2);
  for (const flaw of args.portalFlaw ?? []) {
    if (!isPortalFlaw(flaw) && !(kPortalDefectNames as readonly string[]).includes(flaw)) {
      throw new UserError(`--portal-flaw "${flaw}" is not a flaw the mock portals know; use one of: ${[...kPortalFlaws, ...kPortalDefectNames].join(', ')}`, 2);
    }
  }
  if (args.baseUrl !== undefined && !/^https?:\/\/[^/]+/.test(args.baseUrl)) throw new UserError(`--base-url "${args.baseUrl}" is not an http(s) URL`, 2);
  const scenarios = selectScenarios({ paths: args.paths, suite: args.suite, grep: args.grep, shard: args.shard });
  if (args.list) {
    for (const s of scenarios) ctx.io.out(`${s.id}\t${shownPath(s.file)}\t${s.title}`);
    return undefined;
  }
  if (scenarios.length === 0) throw new UserError('no scenario matches the selection (check the paths, --suite, --grep and --shard)');
  const out = resolve(args.out);
  makeDirectories(out);
  const logFile = join(out, 'run.log');
  writeFileSync(logFile, '');
  const { reporter, progress } = makeReporters(names, out, ctx, scenarios.length);
  const log = (line: string): void => {
    appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    if (args.verbose) {
      progress?.clear();
      ctx.io.err(line);
    }
  };
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    progress?.clear();
    ctx.io.err('stopping: the running scenarios end at their current step (Ctrl-C again to quit at once)');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  let result: RunResult;
  try {
    result = await runScenarios({
      scenarios,
      reader,
      workers: args.workers,
      retries: args.retries,
      outDir: out,
      reporter,
      suite: args.suite,
      suiteVersion: suiteVersion(),
      baseUrl: args.baseUrl,
      stepTimeoutMs: args.stepTimeout,
      operator: process.stdin.isTTY ? terminalOperator(ctx, () => progress?.clear()) : undefined,
      signal: stop.signal,
      log,
      profile,
      seed: args.seed,
      portalFlaws: args.portalFlaw?.filter((name) => isPortalFlaw(name)),
      portalDefects: args.portalFlaw?.filter((name): name is PortalDefectName => (kPortalDefectNames as readonly string[]).includes(name)),
    });
  } finally {
    process.off('SIGINT', onSignal);
  }
  for (const line of writtenReports(names, out)) ctx.io.out(line);
  ctx.io.out(`log: ${shownPath(logFile)}`);
  ctx.exitCode = exitCodeOf(result);
  return result;
}

/** A shard's JSON report: the file itself, or results.json inside a run's output directory. */
function reportFileOf(path: string): string {
  if (!existsSync(path)) throw new UserError(`${path}: no such file or directory`, 2);
  if (statSync(path).isDirectory()) {
    const file = join(path, kReportFiles.json);
    if (!existsSync(file)) throw new UserError(`${path} has no ${kReportFiles.json}: was the shard run with --reporter json?`, 2);
    return file;
  }
  return path;
}

export async function mergeReportsCommand(ctx: CommandContext, args: { inputs: string[]; reporter: string; out: string }): Promise<RunResult> {
  const names = parseReporters(args.reporter);
  if (args.inputs.length === 0) throw new UserError('name the JSON reports (or run output directories) of the shards to merge', 2);
  let merged: RunResult;
  try {
    merged = mergeRunResults(args.inputs.map((p) => readRunResultFile(reportFileOf(p))));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError((e as Error).message);
  }
  const out = resolve(args.out);
  makeDirectories(out);
  const { reporter } = makeReporters(names, out, ctx, merged.scenarios.length);
  reporter.onBegin(merged.info);
  for (const s of merged.scenarios) reporter.onScenarioEnd(s);
  await reporter.onEnd(merged);
  for (const line of writtenReports(names, out)) ctx.io.out(line);
  ctx.exitCode = exitCodeOf(merged);
  return merged;
}

export function registerRunCommands(parser: Argv, ctx: CommandContext): Argv {
  return parser
    .command(
      'run [paths..]',
      'Run scenarios: each with its own card, portal and browser context; writes list, JUnit, HTML and JSON reports',
      (y) =>
        y
          .positional('paths', { type: 'string', array: true, default: [], describe: 'Scenario files or directories (default: every suite under scenarios/)' })
          .option('suite', { type: 'string', describe: `A suite: a folder under scenarios/ (${knownSuites().join(', ')})` })
          .option('grep', { type: 'string', describe: 'Only scenarios whose id, title or a tag matches this regular expression (case-insensitive)' })
          .option('reader', { type: 'string', default: 'emulator', describe: 'emulator (in-process), pcsc (the card served through pcscd and vpcd), or pcsc:<reader name> (a reader as it is)' })
          .option('workers', { type: 'number', default: 2, describe: 'Scenarios run at the same time (pcsc: at most 2, one per vpcd slot)' })
          .option('retries', { type: 'number', default: 0, describe: 'Run a failed scenario again up to N times; one that then passes is reported flaky' })
          .option('shard', { type: 'string', describe: 'Run only shard i of n (i/n), e.g. 1/2; join the shards with merge-reports' })
          .option('reporter', { type: 'string', default: kReporterNames.join(','), describe: `Comma-separated: ${kReporterNames.join(', ')}` })
          .option('out', { type: 'string', default: outDir('run'), defaultDescription: 'out/run', describe: 'Where reports, screenshots and traces go' })
          .option('base-url', { type: 'string', describe: 'The site under test for portal: external scenarios (your staging site)' })
          .option('step-timeout', { type: 'number', describe: 'Default time limit per step in ms (15000); a step\'s own timeoutMs wins' })
          .option('profile', { type: 'string', describe: 'Read the card through this device: a profile id (firmware-profiles/) or a profile file; scenarios that do not apply to it are skipped with the reason' })
          .option('seed', { type: 'number', describe: "Seed for the profile's fault odds (field drop, card moved), to repeat a run exactly (default 1)" })
          .option('portal-flaw', {
            type: 'string',
            array: true,
            alias: 'portal-defect',
            describe: `Build the mock portals with this mistake on purpose, to see the negative scenario written for it fail as a product defect (never for a real run): ${[...kPortalFlaws, ...kPortalDefectNames].join(', ')}`,
          })
          .option('list', { type: 'boolean', default: false, describe: 'Print the selected scenarios and exit' })
          .option('verbose', { type: 'boolean', default: false, describe: 'Print the run log (agents, phone, portal events) on stderr as well as to <out>/run.log' })
          .example('$0 run --suite seeds', 'the seed guides\' flows on the in-process emulator')
          .example('$0 run --suite smoke --reader pcsc', 'the smoke suite with the card served through pcscd and vpcd')
          .example('$0 run scenarios --shard 1/2 --out out/shard1', 'half of everything; merge with: jpki-hil merge-reports out/shard1 out/shard2'),
      async (args) => {
        await runCommand(ctx, {
          paths: (args.paths as string[] | undefined) ?? [],
          suite: args.suite,
          grep: args.grep,
          reader: args.reader,
          workers: args.workers,
          retries: args.retries,
          shard: args.shard,
          reporter: args.reporter,
          out: args.out,
          baseUrl: args['base-url'],
          stepTimeout: args['step-timeout'],
          list: args.list,
          verbose: args.verbose,
          profile: args.profile,
          seed: args.seed,
          portalFlaw: args['portal-flaw'],
        });
      },
    )
    .command(
      'merge-reports <inputs..>',
      'Join the JSON reports of a sharded run (files, or run output directories) into one set of reports',
      (y) =>
        y
          .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'results.json files or the shards\' --out directories' })
          .option('reporter', { type: 'string', default: kReporterNames.join(','), describe: `Comma-separated: ${kReporterNames.join(', ')}` })
          .option('out', { type: 'string', default: outDir('merged'), defaultDescription: 'out/merged', describe: 'Where the merged reports go' })
          .example('$0 merge-reports out/shard1 out/shard2', 'one JUnit, HTML and JSON report for both shards'),
      async (args) => {
        await mergeReportsCommand(ctx, { inputs: args.inputs as string[], reporter: args.reporter, out: args.out });
      },
    );
}
