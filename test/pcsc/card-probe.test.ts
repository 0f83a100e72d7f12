/**
 * `jpki-hil card probe` and `card diff` through the real pcscd and vpcd, as a lab would run them
 * on a real card: the emulator served with the default options (slot 0) and with every option
 * flipped to another value (slot 1). The probe must recover exactly the options each card was
 * served with, diff must name exactly the options that differ, and the probe must keep its
 * promises about PINs — checked in the served card's own trace, not only in the probe's report.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCard, kCardOptionChoices, kDefaultCardOptions, serializeCardImage, type CardImage, type CardOptions } from '../../emulator/index.js';
import type { ProbeDiff } from '../../harness/calibration/probe-diff.js';
import type { ProbeReport } from '../../harness/calibration/probe.js';
import { issueFixture, tempDir, type IssuedFixture } from '../support/cards.js';
import { kBin, serveCard, type ServedFixture } from '../support/served-card.js';

const runFile = promisify(execFile);
const kReaderA = 'Virtual PCD 00 00';
const kReaderB = 'Virtual PCD 00 01';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [kBin, ...args], { timeout: 120_000, encoding: 'utf8', maxBuffer: 64 << 20 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const failed = e as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, out: failed.stdout ?? '', err: failed.stderr ?? '' };
  }
}

/** The first value of each option that is not its default: every option flipped at once. */
const kFlipped = Object.fromEntries(
  (Object.keys(kCardOptionChoices) as Array<keyof CardOptions>).map((key) => [key, (kCardOptionChoices[key] as readonly unknown[]).find((v) => v !== kDefaultCardOptions[key])]),
) as unknown as CardOptions;

/** What a probe of an active card can measure: every option but the terminated card's SELECT answer. */
function activeOptions(options: CardOptions): Record<string, unknown> {
  const { terminatedSelectSw: _t, ...rest } = options;
  return rest;
}

function measured(report: ProbeReport): Record<string, unknown> {
  return Object.fromEntries(Object.entries(report.options).flatMap(([k, r]) => (r.status === 'measured' ? [[k, r.value]] : [])));
}

/** Commands the served card received (from its trace) that were VERIFY with data: a PIN or a made-up value. */
function verifiesWithData(tracePath: string, fromLine: number): string[] {
  if (!existsSync(tracePath)) return [];
  const lines = readFileSync(tracePath, 'utf8').split('\n').filter(Boolean).slice(fromLine);
  return lines.map((l) => (JSON.parse(l) as { command: string }).command).filter((c) => c.slice(2, 4) === '20' && c.length > 8);
}

const traceLines = (path: string): number => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

// Each test runs the CLI several times and serves cards: generous on a loaded machine.
describe('card probe and card diff through pcscd and vpcd (slots 0 and 1)', { timeout: 180_000 }, () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let kenhojoPin: string;
  let authPin: string;
  /** The PINs every measuring run gives: the card-info PIN, and the auth PIN for the case-3 signature. */
  const pinArgs = (): string[] => ['--kenhojo-pin', kenhojoPin, '--auth-pin', authPin];
  let flippedImage: CardImage;
  let served: ServedFixture[] = [];
  const path = (name: string): string => join(dir.path, name);

  function write(name: string, options: CardOptions, change?: (i: CardImage) => void, from: CardImage = fixture.image): string {
    const image = structuredClone(from);
    image.options = { ...options };
    change?.(image);
    writeFileSync(path(name), serializeCardImage(image));
    return path(name);
  }

  async function serve(name: string, slot: number): Promise<ServedFixture> {
    const card = await serveCard(path(name), { slot, trace: path(`${name}.trace.jsonl`) });
    served.push(card);
    return card;
  }

  async function stop(card: ServedFixture): Promise<void> {
    await card.stop();
    served = served.filter((c) => c !== card);
  }

  beforeAll(async () => {
    // A long address (> 127 bytes of basic-4 content) so that the TLV length form shows.
    fixture = await issueFixture(dir.path, 'adult', (d) => ({ ...d, identity: { ...d.identity, address: '北海道札幌市中央区北一条西二丁目三番地四号札幌中央合同庁舎別館十五階南側会議室前廊下' } }));
    kenhojoPin = fixture.definition.pins.kenhojo;
    authPin = fixture.definition.pins.auth;
    // The TLV length form is written into the EFs at issuance: the flipped card is issued with it.
    flippedImage = (await issueCard(fixture.ca, { ...fixture.definition, options: kFlipped })).image;
    write('defaults.json', { ...kDefaultCardOptions });
    write('flipped.json', kFlipped, undefined, flippedImage);
    await serve('defaults.json', 0);
    await serve('flipped.json', 1);
  });
  afterAll(async () => {
    for (const card of served) await card.stop();
    dir.remove();
  });

  it('without PINs: exit 0, no VERIFY with data reaches the card, the counters are unchanged, PIN options name their flags', async () => {
    const before = traceLines(path('defaults.json.trace.jsonl'));
    const r = await cli(['card', 'probe', '--reader', kReaderA, '--out', path('no-pins.json')]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^probe \[1\/\d+\] terminatedSelectSw: /m);
    expect(r.err).toContain(`wrote ${path('no-pins.json')}`);
    expect(verifiesWithData(path('defaults.json.trace.jsonl'), before)).toEqual([]);
    const report = JSON.parse(readFileSync(path('no-pins.json'), 'utf8')) as ProbeReport;
    expect(report.probeVersion).toBe(1);
    expect(report.triesAfter).toEqual(report.triesBefore);
    expect(report.triesBefore).toEqual({ kenhojo: 3, auth: 3, sign: 5, juki: 3 });
    expect(report.options.statusQueryWhenVerified).toMatchObject({ status: 'not measured', flag: expect.stringContaining('--kenhojo-pin') });
    expect(report.options.blockedPinSw).toMatchObject({ status: 'not measured', flag: '--allow-pin-tries 3' });
    expect(r.out).toMatch(/^ {2}blockedPinSw +not measured \(--allow-pin-tries 3\)/m);
    expect(r.out).toContain('card definition fragment:\n# From jpki-hil card probe (probe version 1)');
  });

  it('with the card-info PIN: tries left the same before and after, and the PIN masked everywhere in the report', async () => {
    const before = traceLines(path('defaults.json.trace.jsonl'));
    const r = await cli(['card', 'probe', '--reader', kReaderA, '--kenhojo-pin', kenhojoPin, '--json']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as ProbeReport;
    expect(report.triesAfter).toEqual(report.triesBefore);
    expect(report.triesUsed).toEqual({});
    const sent = verifiesWithData(path('defaults.json.trace.jsonl'), before);
    expect(sent.length).toBeGreaterThan(0);
    // Every VERIFY with data the card saw was the lab's PIN (4 bytes), none made up.
    expect(sent.every((c) => c.length === 18)).toBe(true);
    expect(r.out).not.toContain(Buffer.from(kenhojoPin).toString('hex').toUpperCase());
    expect(report.transcript.filter((t) => t.command?.startsWith('0020008004')).every((t) => t.command === '0020008004********')).toBe(true);
  });

  it('round trip: the probe recovers exactly the default options, and every flipped one', async () => {
    for (const [reader, options] of [
      [kReaderA, kDefaultCardOptions],
      [kReaderB, kFlipped],
    ] as const) {
      const r = await cli(['card', 'probe', '--reader', reader, ...pinArgs(), '--allow-pin-tries', '3', '--json']);
      expect(r.code, r.err).toBe(0);
      const report = JSON.parse(r.out) as ProbeReport;
      expect(measured(report), reader).toEqual(activeOptions(options));
      expect(report.triesUsed, reader).toEqual({ juki: 3 });
      expect(report.triesAfter?.kenhojo, reader).toBe(report.triesBefore?.kenhojo);
    }
  });

  it('diff between the two served cards names exactly the flipped options and exits 1', async () => {
    const r = await cli(['card', 'diff', '--reader', kReaderA, '--reader', kReaderB, ...pinArgs(), '--allow-pin-tries', '0', '--json']);
    expect(r.code, r.err).toBe(1);
    const { diff } = JSON.parse(r.out) as { diff: ProbeDiff };
    expect(diff.options.map((d) => d.id).sort()).toEqual(Object.keys(activeOptions(kFlipped)).sort());
    expect(diff.apdus.length).toBeGreaterThan(0);
    const text = await cli(['card', 'diff', '--reader', kReaderA, '--reader', kReaderB, ...pinArgs(), '--allow-pin-tries', '0']);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/^options that differ \(\d+\):$/m);
    expect(text.out).toMatch(/^ {2}readPastEnd\n {4}A "6B00"\n {4}B "9000"$/m);
    expect(text.out).toMatch(/^APDUs that differ/m);
  });

  it('diff of two cards served with the same options exits 0, and so does a reader against its card image', async () => {
    const flipped = served.find((c) => c.slot === 1)!;
    await stop(flipped);
    copyFileSync(path('defaults.json'), path('same.json'));
    await serve('same.json', 1);
    const r = await cli(['card', 'diff', '--reader', kReaderA, '--reader', kReaderB, ...pinArgs(), '--allow-pin-tries', '0']);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(r.out).toMatch(/^options: the same$/m);
    expect(r.out.trimEnd()).toMatch(/the cards answer the same$/);
    const image = await cli(['card', 'diff', '--reader', kReaderA, '--card', path('same.json'), ...pinArgs(), '--allow-pin-tries', '0']);
    expect(image.code, `${image.out}\n${image.err}`).toBe(0);
  });

  it('exit 2 with one line for an absent reader, an empty one, and a card that is not a My Number Card; --terminated measures a terminated one', async () => {
    const absent = await cli(['card', 'probe', '--reader', 'No Such Reader']);
    expect(absent.code).toBe(2);
    expect(absent.err.trim()).toMatch(/^jpki-hil: no reader named "No Such Reader" \(or uniquely containing it\); the readers are: .*"Virtual PCD 00 00"/);
    expect(absent.err.trim().split('\n')).toHaveLength(1);

    const slot1 = served.find((c) => c.slot === 1)!;
    await slot1.control('POST', '/remove');
    const empty = await cli(['card', 'probe', '--reader', kReaderB]);
    expect(empty.code).toBe(2);
    expect(empty.err.trim()).toMatch(/^jpki-hil: no card in reader "Virtual PCD 00 01"; insert a My Number Card/);
    await stop(slot1);

    write('terminated.json', kFlipped, (i) => (i.lifecycle = 'terminated'), flippedImage);
    await serve('terminated.json', 1);
    const refused = await cli(['card', 'probe', '--reader', kReaderB]);
    expect(refused.code).toBe(2);
    expect(refused.err.trim()).toMatch(/^jpki-hil: the card in reader "Virtual PCD 00 01" is not a My Number Card: SELECT of the JPKI AP answered 6A82; .*--terminated/);
    const terminated = await cli(['card', 'probe', '--reader', kReaderB, '--terminated', '--json']);
    expect(terminated.code, terminated.err).toBe(0);
    expect(measured(JSON.parse(terminated.out) as ProbeReport)).toEqual({ terminatedSelectSw: kFlipped.terminatedSelectSw });
  });
});
