/**
 * `jpki-hil certify`: certifies a reader or phone against the certification suite through its
 * profile, and writes the report signed by the test CA; with --all-profiles, every shipped profile
 * and the compatibility matrix.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { initCa, makeDirectories, reportSigner, reportSignerCaFile } from '../../../emulator/index.js';
import { ListReporter } from '../../../reports/list-reporter.js';
import { JsonReporter } from '../../../reports/json-reporter.js';
import { JUnitReporter } from '../../../reports/junit-reporter.js';
import { HtmlReporter } from '../../../reports/html-reporter.js';
import { ReporterMultiplexer, type Reporter } from '../../runner/reporter-api.js';
import { buildMatrix, certifyDevice } from '../../certification/certify.js';
import { RunResources } from '../../runner/run.js';
import { renderCertificationHtml, renderMatrixHtml } from '../../certification/html.js';
import type { CertificationReport } from '../../certification/report.js';
import { signDetached } from '../../certification/sign.js';
import { kPackageRoot } from '../../package-root.js';
import { listProfiles, ProfileFileError, type DeviceProfile } from '../../profiles/profile.js';
import { UserError } from '../errors.js';
import type { CommandContext } from '../command.js';
import { defaultCaDir, outDir } from '../paths.js';
import { kReportFiles, parseReader, profileArg, selectScenarios, shownPath, suiteVersion } from './run.js';

const kSuite = 'certification';

function harnessVersion(): string {
  return (JSON.parse(readFileSync(join(kPackageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

interface CertifyArgs {
  paths: string[];
  profile?: string | undefined;
  allProfiles: boolean;
  reader: string;
  out: string;
  ca: string;
  seed: number;
  workers: number;
  verbose: boolean;
}

/** Writes certification.json, its detached signature and the HTML page into `dir`; returns the paths. */
function writeCertification(dir: string, report: CertificationReport, signer: ReturnType<typeof reportSigner>, caFile: string): { json: string; p7s: string; html: string } {
  makeDirectories(dir);
  const json = join(dir, 'certification.json');
  const p7s = `${json}.p7s`;
  const html = join(dir, 'certification.html');
  const content = Buffer.from(`${JSON.stringify(report, null, 2)}\n`, 'utf8');
  writeFileSync(json, content);
  writeFileSync(p7s, signDetached(content, signer));
  const verifyCommand = `openssl cms -verify -binary -inform DER -in ${shownPath(p7s)} -content ${shownPath(json)} -CAfile ${shownPath(caFile)} -out /dev/null`;
  writeFileSync(html, renderCertificationHtml(report, { signatureFile: 'certification.json.p7s', verifyCommand }));
  return { json, p7s, html };
}

export async function certifyCommand(ctx: CommandContext, args: CertifyArgs): Promise<void> {
  if (!args.profile === !args.allProfiles) throw new UserError('name the device with --profile <id or file>, or certify every shipped profile with --all-profiles', 2);
  if (!Number.isInteger(args.seed)) throw new UserError(`--seed must be a whole number, not ${args.seed}`, 2);
  if (!Number.isInteger(args.workers) || args.workers < 1) throw new UserError(`--workers must be a whole number ≥ 1, not ${args.workers}`, 2);
  const reader = parseReader(args.reader);
  let profiles: DeviceProfile[];
  if (args.profile) profiles = [profileArg(args.profile)];
  else {
    try {
      profiles = listProfiles();
    } catch (e) {
      throw new UserError(e instanceof ProfileFileError ? e.message : (e as Error).message);
    }
  }
  const scenarios = selectScenarios({ paths: args.paths, suite: args.paths.length === 0 ? kSuite : undefined });
  if (scenarios.length === 0) throw new UserError('no certification scenarios selected');
  const ca = initCa(resolve(args.ca));
  const signer = reportSigner(ca);
  const caFile = reportSignerCaFile(ca);
  const out = resolve(args.out);
  makeDirectories(out);
  const version = suiteVersion();
  ctx.io.out(`certification suite ${version}: ${scenarios.length} scenarios, ${profiles.length} device${profiles.length === 1 ? '' : 's'}, reader ${args.reader}`);
  const reports: CertificationReport[] = [];
  let troubled = false;
  const resources = RunResources.create();
  try {
  for (const profile of profiles) {
    const dir = args.allProfiles ? join(out, profile.id) : out;
    const runDir = join(dir, 'run');
    const reporters: Reporter[] = [
      new JsonReporter({ outputFile: join(runDir, kReportFiles.json) }),
      new JUnitReporter({ outputFile: join(runDir, kReportFiles.junit) }),
      new HtmlReporter({ file: join(runDir, kReportFiles.html), title: `jpki-hil certification: ${profile.name}` }),
    ];
    if (args.verbose || !args.allProfiles) reporters.push(new ListReporter((line) => ctx.io.out(`  ${line}`)));
    const { report } = await certifyDevice(profile, {
      scenarios,
      reader,
      suite: kSuite,
      suiteVersion: version,
      harnessVersion: harnessVersion(),
      seed: args.seed,
      workers: args.workers,
      outDir: runDir,
      reporter: new ReporterMultiplexer(reporters, (m) => ctx.io.err(m)),
      log: (line) => {
        if (args.verbose) ctx.io.err(`${profile.id}: ${line}`);
      },
      resources,
    });
    reports.push(report);
    const files = writeCertification(dir, report, signer, caFile);
    const { pass, fail, notApplicable } = report.summary;
    ctx.io.out(`${report.certified ? '✓' : '✗'} ${profile.id}: ${report.certified ? 'certified' : 'not certified'} — ${pass} pass, ${fail} fail, ${notApplicable} not applicable (${shownPath(files.html)})`);
    if (report.results.some((r) => r.verdict === 'fail' && r.classification !== 'product')) troubled = true;
  }
  } finally {
    await resources.close();
  }
  if (args.allProfiles) {
    const matrix = buildMatrix(reports, scenarios, profiles);
    writeFileSync(join(out, 'matrix.json'), `${JSON.stringify(matrix, null, 2)}\n`);
    writeFileSync(join(out, 'matrix.html'), renderMatrixHtml(matrix));
    ctx.io.out(`matrix: ${shownPath(join(out, 'matrix.html'))} (${shownPath(join(out, 'matrix.json'))})`);
    // A device failing scenarios is the matrix's content; the harness or the lab failing is not.
    if (troubled) ctx.io.err('some cells failed because of the harness or the lab, not the device: see the run reports under each device');
    ctx.exitCode = troubled ? 1 : 0;
  } else {
    ctx.io.out(`signature: ${shownPath(join(out, 'certification.json.p7s'))} — verify with the test CA's ${shownPath(caFile)}`);
    ctx.exitCode = reports[0]!.certified ? 0 : 1;
  }
}

export function registerCertifyCommand(parser: Argv, ctx: CommandContext): Argv {
  return parser.command(
    'certify [paths..]',
    'Certify a reader or phone through its profile: run the certification suite, write a report signed by the test CA',
    (y) =>
      y
        .positional('paths', { type: 'string', array: true, default: [], describe: 'Scenario files or directories (default: scenarios/certification)' })
        .option('profile', { type: 'string', describe: 'The device: a profile id (jpki-hil certify --all-profiles lists them all) or a profile file' })
        .option('all-profiles', { type: 'boolean', default: false, describe: 'Certify every shipped profile and write the compatibility matrix (matrix.html, matrix.json)' })
        .option('reader', { type: 'string', default: 'emulator', describe: 'Where the card sits: emulator, pcsc, or pcsc:<reader name>' })
        .option('out', { type: 'string', default: outDir('certification'), defaultDescription: 'out/certification', describe: 'Where the reports go' })
        .option('ca', { type: 'string', default: defaultCaDir(), defaultDescription: 'out/ca', describe: 'The test CA that signs the report (created when missing)' })
        .option('seed', { type: 'number', default: 1, describe: "Seed for the profiles' fault odds: the same seed repeats a certification exactly" })
        .option('workers', { type: 'number', default: 2, describe: 'Scenarios run at the same time' })
        .option('verbose', { type: 'boolean', default: false, describe: 'Print every scenario and the run log' })
        .example('$0 certify --profile pn532-uart', 'certify the PN532-class reader; exit 0 when certified')
        .example('$0 certify --profile ./my-reader.yaml --reader "pcsc:My Reader"', 'a device of your own, through a real reader')
        .example('$0 certify --all-profiles', 'every shipped profile and the compatibility matrix'),
    async (args) => {
      await certifyCommand(ctx, {
        paths: (args.paths as string[] | undefined) ?? [],
        profile: args.profile,
        allProfiles: args['all-profiles'],
        reader: args.reader,
        out: args.out,
        ca: args.ca,
        seed: args.seed,
        workers: args.workers,
        verbose: args.verbose,
      });
    },
  );
}
