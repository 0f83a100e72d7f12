/**
 * `jpki-hil card probe` and `card diff`: measure what the card in a reader does where the emulator
 * has an option (docs/calibration.md), and compare two cards — two readers, or a reader and a card
 * image — option by option and APDU by APDU.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { createMemoryCard, pinFormatProblem, readCardImage, type CardImage } from '../../../emulator/index.js';
import { diffProbes, describeResult, formatDiff } from '../../calibration/probe-diff.js';
import { ProbeRefused, ProbeStopped, type ProbePin } from '../../calibration/probe-session.js';
import { ProbeStoppedWithReport, runProbe, type ProbeOptions, type ProbeReport } from '../../calibration/probe.js';
import { InProcessReader } from '../../readers/in-process-reader.js';
import { PcscReaderProvider } from '../../readers/pcsc-reader.js';
import { ReaderError, type Reader, type ReaderProvider } from '../../readers/reader.js';
import { UserError } from '../errors.js';
import type { CommandContext } from '../command.js';

/** Exit status when a try counter moved that the probe did not move (or a given PIN was wrong). */
export const kExitProbeStopped = 3;

interface PinArgs {
  'kenhojo-pin'?: string;
  'auth-pin'?: string;
  'sign-pin'?: string;
  'allow-pin-tries'?: number;
  terminated?: boolean;
}

const kPinArgs: ReadonlyArray<[ProbePin, keyof PinArgs]> = [
  ['kenhojo', 'kenhojo-pin'],
  ['auth', 'auth-pin'],
  ['sign', 'sign-pin'],
];

/** Checked before the card sees anything: a typo must not cost a try. */
function probeOptions(args: PinArgs): ProbeSessionArgs {
  const pins: Partial<Record<ProbePin, string>> = {};
  for (const [pin, flag] of kPinArgs) {
    const raw = args[flag];
    if (raw === undefined) continue;
    const value = pin === 'sign' ? String(raw).toUpperCase() : String(raw);
    const problem = pinFormatProblem(pin, value);
    if (problem) throw new UserError(`--${flag}: ${problem}; nothing was sent to the card`, 2);
    pins[pin] = value;
  }
  const tries = args['allow-pin-tries'];
  if (tries !== undefined && (!Number.isInteger(tries) || tries < 0)) throw new UserError(`--allow-pin-tries ${tries}: give a whole number of tries, 0 or more`, 2);
  return { pins, allowPinTries: tries, terminated: args.terminated ?? false };
}

type ProbeSessionArgs = Pick<ProbeOptions, 'pins' | 'allowPinTries' | 'terminated'>;

function readerError(e: unknown): unknown {
  if (e instanceof ReaderError || e instanceof ProbeRefused) return new UserError(e.message, 2);
  if (e instanceof ProbeStopped) return new UserError(e.message, kExitProbeStopped);
  return e;
}

function writeReport(path: string, report: ProbeReport): string {
  const out = resolve(path);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  return out;
}

/** Opens the named reader and waits briefly for a card: an empty reader is a one-line error. */
async function openReader(provider: ReaderProvider, name: string): Promise<Reader> {
  const reader = await provider.open(name);
  if (!reader.cardPresent()) {
    await reader.close();
    throw new ReaderError('NO_CARD', `no card in reader "${reader.name}"; insert a My Number Card (or serve one: jpki-hil card serve --card <card.json> --slot <n>)`);
  }
  return reader;
}

async function probeReader(provider: ReaderProvider, name: string, options: ProbeOptions): Promise<ProbeReport> {
  const reader = await openReader(provider, name);
  try {
    return await runProbe(reader, options);
  } finally {
    await reader.close();
  }
}

/** A card image probed in memory: nothing is written back, so the probe costs the image nothing. */
async function probeImage(path: string, options: ProbeOptions): Promise<ProbeReport> {
  let image: CardImage;
  try {
    image = readCardImage(path);
  } catch (e) {
    throw new UserError(`--card ${path}: ${(e as Error).message}`, 2);
  }
  // The image's own PINs stand in for the ones given for the reader, so both run the same steps.
  const pins: Partial<Record<ProbePin, string>> = {};
  for (const pin of Object.keys(options.pins) as ProbePin[]) pins[pin] = image.pins[pin].value;
  const reader = new InProcessReader(`card image ${path}`, createMemoryCard(image, { logger: { error: () => undefined } }));
  try {
    return await runProbe(reader, { ...options, pins });
  } finally {
    await reader.close();
  }
}

function formatReport(report: ProbeReport): string {
  const tries = (t: ProbeReport['triesBefore']): string =>
    t
      ? Object.entries(t)
          .map(([pin, n]) => `${pin} ${n ?? 'none'}`)
          .join(', ')
      : 'not read';
  const used = Object.entries(report.triesUsed);
  const lines = [
    `probe version ${report.probeVersion} of the card in "${report.reader}" (ATR ${report.atr})`,
    `tries left before: ${tries(report.triesBefore)}`,
    `tries left after:  ${tries(report.triesAfter)}`,
    `tries used by the probe: ${used.length === 0 ? 'none' : used.map(([pin, n]) => `${pin} ${n}`).join(', ')}`,
    'options:',
  ];
  const width = Math.max(...Object.keys(report.options).map((k) => k.length), ...Object.keys(report.informative).map((k) => k.length));
  for (const [key, result] of Object.entries(report.options)) {
    const detail = result.status === 'measured' ? result.evidence : result.status === 'unmatched' ? result.evidence : result.reason;
    lines.push(`  ${key.padEnd(width)}  ${describeResult(result)}  — ${detail}`);
  }
  lines.push('informative:');
  for (const [key, result] of Object.entries(report.informative)) lines.push(`  ${key.padEnd(width)}  ${describeResult(result)}`);
  lines.push('card definition fragment:', report.fragment.trimEnd());
  return lines.join('\n');
}

async function probeCommand(ctx: CommandContext, args: PinArgs & { reader: string; out?: string; json: boolean }, openProvider: () => ReaderProvider): Promise<void> {
  const options: ProbeOptions = { ...probeOptions(args), progress: (line) => ctx.io.err(line) };
  const provider = openProvider();
  let report: ProbeReport;
  try {
    report = await probeReader(provider, args.reader, options);
  } catch (e) {
    if (e instanceof ProbeStoppedWithReport && args.out) ctx.io.err(`wrote the transcript so far to ${writeReport(args.out, e.report)}`);
    throw readerError(e);
  } finally {
    await provider.close();
  }
  if (args.out) ctx.io.err(`wrote ${writeReport(args.out, report)}`);
  ctx.io.out(args.json ? JSON.stringify(report) : formatReport(report));
}

async function diffCommand(ctx: CommandContext, args: PinArgs & { reader: string[]; card?: string; json: boolean }, openProvider: () => ReaderProvider): Promise<void> {
  const readers = args.reader;
  if (readers.length + (args.card ? 1 : 0) !== 2) throw new UserError('card diff compares two cards: give --reader A --reader B, or --reader A --card <image>', 2);
  const base = probeOptions(args);
  const provider = openProvider();
  let a: ProbeReport;
  let b: ProbeReport;
  try {
    a = await probeReader(provider, readers[0]!, { ...base, progress: (line) => ctx.io.err(`A ${line}`) });
    b = args.card
      ? await probeImage(args.card, { ...base, progress: (line) => ctx.io.err(`B ${line}`) })
      : await probeReader(provider, readers[1]!, { ...base, progress: (line) => ctx.io.err(`B ${line}`) });
  } catch (e) {
    throw readerError(e);
  } finally {
    await provider.close();
  }
  const diff = diffProbes(a, b);
  ctx.io.out(args.json ? JSON.stringify({ a, b, diff }) : formatDiff(diff, a.reader, b.reader));
  ctx.exitCode = diff.differ ? 1 : 0;
}

function pinOptions<T>(y: Argv<T>): Argv<T & PinArgs> {
  return y
    .option('kenhojo-pin', { type: 'string', describe: 'Card-info PIN: measures the options that need a verified PIN (uses no try; a wrong one stops the probe)' })
    .option('auth-pin', { type: 'string', describe: 'Authentication PIN: measures the case-3 signature, and the PIN steps when no card-info PIN is given' })
    .option('sign-pin', { type: 'string', describe: 'Signing password, used where neither of the others is given' })
    .option('allow-pin-tries', { type: 'number', describe: 'Let the probe use up to N tries (it blocks the 住基 PIN to learn the blocked-PIN answer)' })
    .option('terminated', { type: 'boolean', default: false, describe: 'The card is a terminated (廃止) one: measure only its answer to SELECT' }) as unknown as Argv<T & PinArgs>;
}

export function registerProbeCommands(card: Argv, ctx: CommandContext, openProvider: () => ReaderProvider = () => new PcscReaderProvider()): Argv {
  return card
    .command(
      'probe',
      "Measure, on the card in a reader, each behaviour the emulator has an option for; print a card-definition fragment that copies it",
      (y) =>
        pinOptions(
          y
            .option('reader', { type: 'string', demandOption: true, describe: 'PC/SC reader name, or a unique part of it' })
            .option('out', { type: 'string', describe: 'Write the report (transcript with PINs masked, values, fragment) as JSON' })
            .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON instead of text' }),
        )
          .example('$0 card probe --reader "ACS ACR1252" --out probe.json', 'every option that needs no PIN and no try')
          .example('$0 card probe --reader "ACS" --kenhojo-pin 1234 --out probe.json', 'also the options that need a verified PIN (no try used)'),
      (args) => probeCommand(ctx, args as never, openProvider),
    )
    .command(
      'diff',
      'Run the probe on two cards and print what differs, option by option and APDU by APDU (exit 1 when they differ)',
      (y) =>
        pinOptions(
          y
            .option('reader', { type: 'string', array: true, default: [] as string[], describe: 'A reader (give two, or one with --card)' })
            .option('card', { type: 'string', describe: 'A card image to compare with (probed in memory; its own PINs are used)' })
            .option('json', { type: 'boolean', default: false, describe: 'Print both reports and the diff as JSON' }),
        )
          .example('$0 card diff --reader "ACS" --card out/cards/adult.json', 'a real card against an emulated one')
          .example('$0 card diff --reader "00 00" --reader "00 01"', 'the cards served in vpcd slots 0 and 1'),
      (args) => diffCommand(ctx, args as never, openProvider),
    );
}

