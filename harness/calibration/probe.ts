/**
 * `card probe`: runs the step table on the card in a reader and reports, per card option, what
 * the card does — with the transcript that shows it and a card-definition fragment that makes the
 * emulator do the same. The probe is versioned: a report says which sequence produced it, so two
 * reports are comparable only when their versions match.
 */
import { kCardOptionChoices } from '../../emulator/index.js';
import type { Reader } from '../readers/reader.js';
import { kProbePins, ProbeRefused, ProbeSession, ProbeStopped, type ProbePin, type ProbeSessionOptions, type Tries, type TranscriptEntry } from './probe-session.js';
import { kProbeSteps, type Measurement, type ProbeFacts, type ProbeStep } from './probe-steps.js';

/** Bump when a step changes what it sends or how it reads an answer. */
export const kProbeVersion = 1;

export type StepResult = Measurement & { question: string; compare?: 'behaviour' | 'content' };

export interface ProbeReport {
  probeVersion: number;
  reader: string;
  atr: string;
  time: string;
  pinsGiven: ProbePin[];
  allowPinTries: number | null;
  terminated: boolean;
  triesBefore: Tries | null;
  triesAfter: Tries | null;
  /** Tries the probe used on purpose (only with --allow-pin-tries). */
  triesUsed: Partial<Record<ProbePin, number>>;
  /** Per option of the card definition: the value the card showed, or why it was not measured. */
  options: Record<string, StepResult>;
  /** Facts with no option (or outside `options:`): FCI, EF sizes, the My Number EF's trailer. */
  informative: Record<string, StepResult>;
  /** YAML to paste into a card definition. */
  fragment: string;
  transcript: TranscriptEntry[];
  /** Set when the probe stopped early (exit 3): why. */
  stopped?: string;
}

export interface ProbeOptions extends ProbeSessionOptions {
  /** The card is a terminated (廃止) one: only the SELECT answer is measured. */
  terminated?: boolean;
  /** One line per step, for the terminal. */
  progress?: (line: string) => void;
  /** Tests replace the table; the CLI never does. */
  steps?: readonly ProbeStep[];
  now?: () => Date;
}

/** ProbeStopped with the report as far as it got, so that the transcript still reaches the lab. */
export class ProbeStoppedWithReport extends ProbeStopped {
  constructor(
    message: string,
    readonly report: ProbeReport,
  ) {
    super(message);
  }
}

const kOtherAps = ['kenhojo', 'kenkaku', 'juki'] as const;

function yamlScalar(value: unknown): string {
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  return `'${String(value).replace(/'/g, "''")}'`;
}

function comment(text: string): string {
  return text.replace(/\s+/g, ' ');
}

/** The `options:` (and `cardInfo:`) fragment of a card definition that answers as the probed card did. */
export function cardDefinitionFragment(report: Pick<ProbeReport, 'probeVersion' | 'reader' | 'atr' | 'time' | 'options' | 'informative'>): string {
  const lines = [`# From jpki-hil card probe (probe version ${report.probeVersion}) of the card in "${report.reader}", ${report.time}.`, `# The card's ATR was ${report.atr} (card.atr, if your clients look at it).`, 'options:'];
  for (const [key, result] of Object.entries(report.options)) {
    if (result.status === 'measured') lines.push(`  ${key}: ${yamlScalar(result.value)}`);
    else if (result.status === 'unmatched') lines.push(`  # ${key}: no value gives what the card did: ${comment(result.evidence)}`);
    else lines.push(`  # ${key}: not measured: ${comment(result.reason)}${result.flag ? ` (${result.flag})` : ''}`);
  }
  const myNumber = report.informative.myNumberFile;
  if (myNumber?.status === 'measured') {
    const { tagByte, trailer } = myNumber.value as { tagByte: string; trailer: string };
    lines.push('cardInfo:');
    if (tagByte === 'FF' || tagByte === 'DF') lines.push(`  myNumberTagByte: ${yamlScalar(tagByte)}`);
    else lines.push(`  # myNumberTagByte: the card has ${tagByte}, which a card definition cannot give`);
    if (trailer.length === 4) lines.push(`  myNumberTrailer: ${yamlScalar(trailer)}`);
    else lines.push(`  # myNumberTrailer: the card has ${trailer.length / 2} bytes (${trailer || 'none'}) after the My Number; a card definition gives exactly 2`);
  }
  return `${lines.join('\n')}\n`;
}

/** Validates a step's value against the option's choices: a value the emulator cannot take is unmatched. */
function asOptionResult(key: string, m: Measurement): Measurement {
  if (m.status !== 'measured') return m;
  const choices = (kCardOptionChoices as Record<string, readonly unknown[]>)[key];
  if (choices && !choices.includes(m.value)) return { status: 'unmatched', evidence: `${m.evidence} (${JSON.stringify(m.value)} is not one of ${choices.map((c) => JSON.stringify(c)).join(', ')})` };
  return m;
}

/** SELECT of the JPKI AP: a My Number Card answers 9000; a terminated one an error on every AP. */
async function identify(session: ProbeSession, options: ProbeOptions, facts: ProbeFacts): Promise<void> {
  await session.begin('identify');
  const jpki = await session.selectAp('jpki');
  const name = session.reader.name;
  if (jpki.sw === 0x9000) {
    if (options.terminated) throw new ProbeRefused(`the card in reader "${name}" answered SELECT of the JPKI AP with 9000, so it is not terminated; probe it without --terminated`);
    facts.hasSignKey = (await session.selectEf(0x001a)).sw === 0x9000;
    return;
  }
  if (!options.terminated) {
    throw new ProbeRefused(
      `the card in reader "${name}" is not a My Number Card: SELECT of the JPKI AP answered ${jpki.swText}; insert a My Number Card (a terminated one: add --terminated)`,
    );
  }
  for (const ap of kOtherAps) {
    const other = await session.selectAp(ap);
    if (other.sw !== jpki.sw) {
      throw new ProbeRefused(`the card in reader "${name}" answered SELECT of the JPKI AP with ${jpki.swText} but of the ${ap} AP with ${other.swText}: not a terminated My Number Card`);
    }
  }
  facts.terminatedSw = jpki.swText;
}

export async function runProbe(reader: Reader, options: ProbeOptions): Promise<ProbeReport> {
  const steps = options.steps ?? kProbeSteps;
  const session = new ProbeSession(reader, options);
  const facts: ProbeFacts = {};
  const now = options.now ?? (() => new Date());
  const results: Array<{ step: ProbeStep; result: Measurement }> = [];
  let triesBefore: Tries | null = null;
  let triesAfter: Tries | null = null;
  const report = (stopped?: string): ProbeReport => {
    const optionResults: Record<string, StepResult> = {};
    const informative: Record<string, StepResult> = {};
    for (const key of Object.keys(kCardOptionChoices)) {
      const found = results.find((r) => r.step.kind === 'option' && r.step.id === key);
      const step = steps.find((s) => s.kind === 'option' && s.id === key);
      const result: Measurement = found?.result ?? { status: 'not measured', reason: step ? 'the probe stopped before this step' : `probe version ${kProbeVersion} has no step for this option` };
      optionResults[key] = { ...result, question: step?.question ?? '' };
    }
    for (const { step, result } of results) {
      if (step.kind === 'informative') informative[step.id] = { ...result, question: step.question, ...(step.compare ? { compare: step.compare } : {}) };
    }
    const partial = {
      probeVersion: kProbeVersion,
      reader: reader.name,
      atr: (informative.atr?.status === 'measured' ? (informative.atr.value as string) : undefined) ?? '',
      time: now().toISOString(),
      options: optionResults,
      informative,
    };
    return {
      ...partial,
      pinsGiven: (Object.keys(kProbePins) as ProbePin[]).filter((p) => session.pinGiven(p)),
      allowPinTries: options.allowPinTries ?? null,
      terminated: facts.terminatedSw !== undefined,
      triesBefore,
      triesAfter,
      triesUsed: { ...session.triesUsed },
      fragment: cardDefinitionFragment(partial),
      transcript: session.transcript,
      ...(stopped ? { stopped } : {}),
    };
  };
  try {
    await identify(session, options, facts);
    if (facts.terminatedSw === undefined) {
      triesBefore = await session.readTries('tries before');
      session.expected = { ...triesBefore };
    }
    const total = steps.length;
    for (const [index, step] of steps.entries()) {
      options.progress?.(`probe [${index + 1}/${total}] ${step.id}: ${step.question}`);
      let result: Measurement;
      if (facts.terminatedSw !== undefined && step.id !== 'terminatedSelectSw' && step.id !== 'atr') {
        result = { status: 'not measured', reason: 'the card is terminated: every AP refuses SELECT' };
      } else {
        await session.begin(step.id);
        result = await step.run(session, facts);
        if (step.kind === 'option') result = asOptionResult(step.id, result);
      }
      results.push({ step, result });
      if (step.touchesPins && facts.terminatedSw === undefined) triesAfter = await session.checkTries(step.id);
      else triesAfter = null;
    }
    // The counters after the last step, read once: the check after it may already have.
    if (facts.terminatedSw === undefined) triesAfter ??= await session.checkTries('the probe');
  } catch (e) {
    if (e instanceof ProbeStopped) throw new ProbeStoppedWithReport(e.message, report(e.message));
    throw e;
  } finally {
    await session.end();
  }
  return report();
}
