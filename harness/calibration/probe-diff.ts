/**
 * `card diff`: two probe reports side by side, option by option and APDU by APDU. Two cards differ
 * when an option both measured has different values (or one card does something no option value
 * gives), or when an informative behaviour differs. What is each card's own data (certificates,
 * tries left, random bytes, the ATR) is shown but never makes two cards "different".
 */
import type { ProbeReport, StepResult } from './probe.js';
import type { TranscriptEntry } from './probe-session.js';

export interface ValueDifference {
  id: string;
  a: string;
  b: string;
}

export interface ApduDifference {
  step: string;
  /** 1-based position of the exchange within the step. */
  index: number;
  a?: TranscriptEntry;
  b?: TranscriptEntry;
}

export interface ProbeDiff {
  differ: boolean;
  options: ValueDifference[];
  /** Options that one card or both did not measure: not compared. */
  notCompared: ValueDifference[];
  informative: ValueDifference[];
  /** Differences in each card's own data: shown, not counted. */
  content: ValueDifference[];
  apdus: ApduDifference[];
  versionMismatch?: string;
}

export function describeResult(result: StepResult | undefined): string {
  if (!result) return 'absent';
  if (result.status === 'measured') return JSON.stringify(result.value);
  if (result.status === 'unmatched') return `unmatched: ${result.evidence}`;
  return `not measured${result.flag ? ` (${result.flag})` : ''}`;
}

/** A comparable form: what the card did, without the words of the evidence for measured values. */
function key(result: StepResult | undefined): string {
  if (!result) return 'absent';
  if (result.status === 'measured') return `m:${JSON.stringify(result.value)}`;
  if (result.status === 'unmatched') return `u:${result.evidence}`;
  return 'n';
}

function apduEntries(transcript: readonly TranscriptEntry[]): Map<string, TranscriptEntry[]> {
  const byStep = new Map<string, TranscriptEntry[]>();
  for (const entry of transcript) {
    if (entry.kind !== 'apdu' || entry.step.startsWith('tries ')) continue;
    const list = byStep.get(entry.step) ?? [];
    list.push(entry);
    byStep.set(entry.step, list);
  }
  return byStep;
}

function sameExchange(a: TranscriptEntry, b: TranscriptEntry): boolean {
  if (a.command !== b.command || a.sw !== b.sw) return false;
  // Certificates, signatures, random bytes and counters are each card's own: only their presence counts.
  if (a.cardSpecific || b.cardSpecific) return (a.response === '') === (b.response === '');
  return a.response === b.response;
}

export function diffProbes(a: ProbeReport, b: ProbeReport): ProbeDiff {
  const options: ValueDifference[] = [];
  const notCompared: ValueDifference[] = [];
  for (const id of new Set([...Object.keys(a.options), ...Object.keys(b.options)])) {
    const ra = a.options[id];
    const rb = b.options[id];
    const entry = { id, a: describeResult(ra), b: describeResult(rb) };
    if (ra?.status === 'not measured' || rb?.status === 'not measured' || !ra || !rb) {
      if (key(ra) !== key(rb) || ra?.status === 'not measured') notCompared.push(entry);
      continue;
    }
    if (key(ra) !== key(rb)) options.push(entry);
  }
  const informative: ValueDifference[] = [];
  const content: ValueDifference[] = [];
  for (const id of new Set([...Object.keys(a.informative), ...Object.keys(b.informative)])) {
    const ra = a.informative[id];
    const rb = b.informative[id];
    if (!ra || !rb || ra.status === 'not measured' || rb.status === 'not measured' || key(ra) === key(rb)) continue;
    const entry = { id, a: describeResult(ra), b: describeResult(rb) };
    (ra.compare === 'content' ? content : informative).push(entry);
  }
  const apdus: ApduDifference[] = [];
  const stepsA = apduEntries(a.transcript);
  const stepsB = apduEntries(b.transcript);
  for (const step of new Set([...stepsA.keys(), ...stepsB.keys()])) {
    const ea = stepsA.get(step) ?? [];
    const eb = stepsB.get(step) ?? [];
    for (let i = 0; i < Math.max(ea.length, eb.length); i++) {
      const xa = ea[i];
      const xb = eb[i];
      if (xa && xb && sameExchange(xa, xb)) continue;
      apdus.push({ step, index: i + 1, ...(xa ? { a: xa } : {}), ...(xb ? { b: xb } : {}) });
    }
  }
  const versionMismatch = a.probeVersion !== b.probeVersion ? `probe versions differ (${a.probeVersion} and ${b.probeVersion}): the sequences are not the same` : undefined;
  return {
    differ: options.length > 0 || informative.length > 0 || versionMismatch !== undefined,
    options,
    notCompared,
    informative,
    content,
    apdus,
    ...(versionMismatch ? { versionMismatch } : {}),
  };
}

function exchange(entry: TranscriptEntry | undefined): string {
  if (!entry) return '(no exchange)';
  return `> ${entry.command}  < ${entry.response ? `${entry.cardSpecific ? `${entry.response.length / 2} bytes` : entry.response} ` : ''}${entry.sw}`;
}

export function formatDiff(diff: ProbeDiff, nameA: string, nameB: string): string {
  const lines = [`A: ${nameA}`, `B: ${nameB}`];
  if (diff.versionMismatch) lines.push(diff.versionMismatch);
  lines.push(diff.options.length === 0 ? 'options: the same' : `options that differ (${diff.options.length}):`);
  for (const d of diff.options) lines.push(`  ${d.id}`, `    A ${d.a}`, `    B ${d.b}`);
  if (diff.informative.length > 0) {
    lines.push(`behaviour outside the options that differs (${diff.informative.length}):`);
    for (const d of diff.informative) lines.push(`  ${d.id}`, `    A ${d.a}`, `    B ${d.b}`);
  }
  if (diff.notCompared.length > 0) lines.push(`not compared (not measured on one card or both): ${diff.notCompared.map((d) => d.id).join(', ')}`);
  if (diff.content.length > 0) lines.push(`each card's own data (not a difference in behaviour): ${diff.content.map((d) => d.id).join(', ')}`);
  if (diff.apdus.length > 0) {
    lines.push(`APDUs that differ (${diff.apdus.length}):`);
    let step = '';
    for (const d of diff.apdus) {
      if (d.step !== step) lines.push(`  ${d.step}:`);
      step = d.step;
      lines.push(`    #${d.index} A ${exchange(d.a)}`, `       B ${exchange(d.b)}`);
    }
  }
  lines.push(diff.differ ? 'the cards differ' : 'the cards answer the same');
  return lines.join('\n');
}
