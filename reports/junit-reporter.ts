/**
 * JUnit XML for CI (design.md rule 9, style-anchors §11): one `<testsuite>` for the run, one
 * `<testcase>` per scenario. A product defect is a `<failure>`; a harness defect or lab problem is
 * an `<error>`, so that a red build says whose problem it is. Each test case carries one
 * `<system-out>` with the step log and the APDU trace. Written once, in onEnd; all escaping is done
 * by escapeXml. The format is described by reports/junit.xsd.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describeStep, scenarioFailure, type RunResult, type ScenarioResult, type StepResult } from '../harness/runner/results.js';
import { escapeXml } from '../common/markup.js';
import type { Reporter } from '../harness/runner/reporter-api.js';

export interface JUnitReporterOptions {
  /** Where to write the XML; parent directories are created. */
  outputFile: string;
}

export class JUnitReporter implements Reporter {
  constructor(private readonly options: JUnitReporterOptions) {}

  async onEnd(result: RunResult): Promise<void> {
    await mkdir(dirname(this.options.outputFile), { recursive: true });
    await writeFile(this.options.outputFile, renderJUnit(result), 'utf8');
  }
}

type Attributes = Record<string, string | number | undefined>;

function element(name: string, attributes: Attributes, body?: string): string {
  const attrs = Object.entries(attributes)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v), { attribute: true })}"`)
    .join('');
  return body === undefined ? `<${name}${attrs}/>` : `<${name}${attrs}>${body}</${name}>`;
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

function count(scenarios: readonly ScenarioResult[]): Counts {
  const counts: Counts = { tests: scenarios.length, failures: 0, errors: 0, skipped: 0 };
  for (const s of scenarios) {
    if (s.status === 'skipped') counts.skipped++;
    const failed = scenarioFailure(s);
    if (failed) {
      if (failed.failure.classification === 'product') counts.failures++;
      else counts.errors++;
    }
  }
  return counts;
}

export function renderJUnit(result: RunResult): string {
  const { info } = result;
  const name = info.suite ?? 'jpki-hil';
  const counts = count(result.scenarios);
  const timing = { time: seconds(result.durationMs), timestamp: info.startedAt };
  const properties = element(
    'properties',
    {},
    [
      ['suiteVersion', info.suiteVersion],
      ['reader', info.reader],
      ['profile', info.profile],
      ['runStatus', result.status],
    ]
      .filter((p): p is [string, string] => p[1] !== undefined)
      .map(([k, v]) => `\n      ${element('property', { name: k, value: v })}`)
      .join('') + '\n    ',
  );
  const cases = result.scenarios.map((s) => `\n    ${renderTestCase(s)}`).join('');
  const suite = element('testsuite', { name, ...counts, ...timing }, `\n    ${properties}${cases}\n  `);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${element('testsuites', { name, ...counts, ...timing }, `\n  ${suite}\n`)}\n`;
}

function renderTestCase(s: ScenarioResult): string {
  const parts: string[] = [];
  const failed = scenarioFailure(s);
  if (failed) {
    const { failure, step } = failed;
    const tag = failure.classification === 'product' ? 'failure' : 'error';
    const where = step ? `${describeStep(step)}: ` : '';
    const body = [`${where}${failure.message}`, failure.stack].filter((x) => x !== undefined && x !== '').join('\n');
    parts.push(element(tag, { message: `${where}${failure.message}`, type: failure.classification }, escapeXml(body)));
  } else if (s.status === 'skipped') {
    parts.push(element('skipped', { message: s.error?.message }));
  }
  const out = systemOut(s);
  if (out !== '') parts.push(element('system-out', {}, escapeXml(out)));
  const attrs = { classname: s.scenario.file, name: `${s.scenario.id}: ${s.scenario.title}`, time: seconds(s.durationMs) };
  return element('testcase', attrs, parts.length === 0 ? undefined : parts.map((p) => `\n      ${p}`).join('') + '\n    ');
}

const kStepMarks: Record<StepResult['status'], string> = { passed: '✓', failed: '✗', skipped: '-' };

/** The step log, with each step's APDU trace under it, and a note for a flaky pass. */
function systemOut(s: ScenarioResult): string {
  const lines: string[] = [];
  if (s.status === 'flaky') lines.push(`flaky: passed on attempt ${s.attempts} of ${s.attempts} after failing`);
  else if (s.attempts > 1) lines.push(`attempts: ${s.attempts}`);
  if (s.scenario.tags.length > 0) lines.push(`tags: ${s.scenario.tags.join(', ')}`);
  for (const step of s.steps) {
    const error = step.error ? ` [${step.error.classification}] ${step.error.message}` : '';
    lines.push(`${kStepMarks[step.status]} ${describeStep(step)} (${step.durationMs} ms)${error}`);
    for (const a of step.apdus ?? []) {
      lines.push(`    ${a.time} > ${a.command}`);
      lines.push(`    ${' '.repeat(a.time.length)} < ${a.response ? `${a.response} ` : ''}${a.sw} ${a.meaning}${a.detail ? ` (${a.detail})` : ''} (${a.durationMs} ms)`);
    }
    // The Jenkins JUnit attachments convention; other readers see a plain line.
    for (const att of step.attachments ?? []) lines.push(`    [[ATTACHMENT|${att.path}]] ${att.name} (${att.contentType})`);
  }
  return lines.join('\n');
}
