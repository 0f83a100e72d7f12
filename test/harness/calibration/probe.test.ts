/**
 * The probe's measurement logic on the in-process emulator: every option of the card has a step,
 * every value of every option is recovered, the fragment copies the card, and the safety rules
 * hold (no made-up PIN without --allow-pin-tries, a wrong PIN or a counter moved behind the
 * probe's back stops it, PINs never appear in the transcript).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createMemoryCard, issueCard, kCardOptionChoices, kDefaultCardOptions, parseCardDefinition, type CardImage, type CardOptions } from '../../../emulator/index.js';
import { ascii, toHex } from '../../../iso7816/bytes.js';
import { diffProbes } from '../../../harness/calibration/probe-diff.js';
import { ProbeRefused } from '../../../harness/calibration/probe-session.js';
import { kProbeSteps } from '../../../harness/calibration/probe-steps.js';
import { ProbeStoppedWithReport, runProbe, type ProbeOptions, type ProbeReport } from '../../../harness/calibration/probe.js';
import { InProcessReader } from '../../../harness/readers/in-process-reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../../support/cards.js';

type OptionKey = keyof CardOptions;

/** Over 127 bytes of basic-4 content, so that the TLV length form shows. */
const kLongAddress = '北海道札幌市中央区北一条西二丁目三番地四号札幌中央合同庁舎別館十五階南側会議室前廊下';

function withOptions(image: CardImage, options: Partial<CardOptions>, change?: (i: CardImage) => void): CardImage {
  const copy = structuredClone(image);
  copy.options = { ...copy.options, ...options };
  change?.(copy);
  return copy;
}

function readerFor(image: CardImage): InProcessReader {
  return new InProcessReader('in-process', createMemoryCard(image, { logger: { error: () => undefined } }));
}

const probe = (image: CardImage, options: Partial<ProbeOptions> = {}): Promise<ProbeReport> => runProbe(readerFor(image), { pins: {}, allowPinTries: undefined, ...options });

function measuredOptions(report: ProbeReport): Record<string, unknown> {
  return Object.fromEntries(Object.entries(report.options).flatMap(([k, r]) => (r.status === 'measured' ? [[k, r.value]] : [])));
}

/** VERIFY commands that carried data, i.e. a PIN or a made-up value. */
const pinSends = (report: ProbeReport): string[] => report.transcript.filter((t) => t.command?.startsWith('002000') && t.command.length > 8).map((t) => t.command!);

describe('card probe on the in-process emulator', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let pins: { kenhojo: string; auth: string; sign: string };
  const full = (): Partial<ProbeOptions> => ({ pins: { kenhojo: pins.kenhojo, auth: pins.auth }, allowPinTries: 3 });

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult', (d) => ({ ...d, identity: { ...d.identity, address: kLongAddress } }));
    pins = { kenhojo: fixture.definition.pins.kenhojo, auth: fixture.definition.pins.auth, sign: fixture.definition.pins.sign };
  });
  afterAll(() => dir.remove());

  it('has exactly one step for every option of the card (a new option without a step fails here)', () => {
    const optionSteps = kProbeSteps.filter((s) => s.kind === 'option').map((s) => s.id);
    expect([...optionSteps].sort()).toEqual(Object.keys(kCardOptionChoices).sort());
    expect(new Set(kProbeSteps.map((s) => s.id)).size).toBe(kProbeSteps.length);
  });

  it('recovers the defaults, with the card-info PIN and a budget of 3 tries (spent on the 住基 PIN only)', async () => {
    const report = await probe(fixture.image, full());
    const { terminatedSelectSw: _terminated, ...expected } = kDefaultCardOptions;
    expect(measuredOptions(report)).toEqual(expected);
    expect(report.options.terminatedSelectSw).toMatchObject({ status: 'not measured', flag: expect.stringContaining('--terminated') });
    expect(report.triesUsed).toEqual({ juki: 3 });
    expect(report.triesBefore).toEqual({ kenhojo: 3, auth: 3, sign: 5, juki: 3 });
    expect(report.triesAfter).toEqual({ kenhojo: 3, auth: 3, sign: 5, juki: 0 });
    expect(report.informative.myNumberFile?.status === 'measured' && report.informative.myNumberFile.value).toEqual({ tagByte: 'FF', trailer: '0000', size: 17 });
    expect(report.informative.fciOnSelect?.status === 'measured' && report.informative.fciOnSelect.value).toEqual({ sw: '9000', data: '6F0C840AD392F000260100000001' });
    const sizes = report.informative.efSizes?.status === 'measured' ? (report.informative.efSizes.value as Record<string, unknown>) : {};
    expect(sizes['jpki 0006 (token)']).toBe(32);
    expect(sizes['jpki 000A (auth certificate)']).toBe(Buffer.from(fixture.image.applets.jpki.files['000A']!, 'base64').length);
  });

  const alternatives = (Object.keys(kCardOptionChoices) as OptionKey[]).flatMap((key) =>
    (kCardOptionChoices[key] as readonly unknown[]).filter((v) => v !== kDefaultCardOptions[key]).map((value) => [key, value] as const),
  );
  it.each(alternatives)('recovers %s = %s, and no other option moves', async (key, value) => {
    const terminated = key === 'terminatedSelectSw';
    // The TLV length form is written into the EFs when the card is issued.
    const base = key === 'tlvLongLength' ? (await issueCard(fixture.ca, { ...fixture.definition, options: { tlvLongLength: value as CardOptions['tlvLongLength'] } })).image : fixture.image;
    const image = withOptions(base, { [key]: value }, terminated ? (i) => (i.lifecycle = 'terminated') : undefined);
    const report = await probe(image, { ...full(), terminated });
    if (terminated) {
      expect(measuredOptions(report)).toEqual({ terminatedSelectSw: value });
      expect(report.terminated).toBe(true);
      return;
    }
    const { terminatedSelectSw: _t, ...defaults } = kDefaultCardOptions;
    expect(measuredOptions(report)).toEqual({ ...defaults, [key]: value });
  });

  it('with no PIN and no budget: no VERIFY with data, the same tries after, and each PIN option names the flag that measures it', async () => {
    const report = await probe(fixture.image);
    expect(pinSends(report)).toEqual([]);
    expect(report.triesAfter).toEqual(report.triesBefore);
    expect(report.triesUsed).toEqual({});
    expect(report.options.statusQueryWhenVerified).toMatchObject({ status: 'not measured', flag: '--kenhojo-pin (or --auth-pin, --sign-pin)' });
    expect(report.options.securityOnApSwitch).toMatchObject({ status: 'not measured', flag: '--kenhojo-pin (or --auth-pin, --sign-pin)' });
    expect(report.options.blockedPinSw).toMatchObject({ status: 'not measured', flag: '--allow-pin-tries 3' });
    expect(report.informative.myNumberFile).toMatchObject({ status: 'not measured', flag: '--kenhojo-pin' });
    // What needs neither is measured all the same.
    const withoutPin = ['readPastEnd', 'signWithoutPinSw', 'kenhojoCertificateNeedsPin', 'getChallenge', 'shortLe'] as const;
    expect(measuredOptions(report)).toEqual(Object.fromEntries(withoutPin.map((k) => [k, kDefaultCardOptions[k]])));
    expect(report.options.signWithoutLe).toMatchObject({ status: 'not measured', flag: '--auth-pin (or --sign-pin)' });
    expect(report.options.tlvLongLength).toMatchObject({ status: 'not measured', flag: '--kenhojo-pin' });
    expect(report.fragment).toContain("# blockedPinSw: not measured: needs a blocked PIN: blocking the 住基 PIN uses its 3 tries");
  });

  it('with PINs: each is sent only as given, masked in the transcript, and no counter ends lower', async () => {
    const report = await probe(fixture.image, { pins: { auth: pins.auth, sign: pins.sign } });
    expect(pinSends(report).length).toBeGreaterThan(0);
    expect(pinSends(report).every((c) => /^0020008004\*{8}$|^0020008008\*{16}$/.test(c))).toBe(true);
    const json = JSON.stringify(report);
    for (const pin of [pins.auth, pins.sign]) expect(json).not.toContain(toHex(ascii(pin)));
    expect(report.triesAfter).toEqual(report.triesBefore);
    expect(report.options.securityOnApSwitch).toMatchObject({ status: 'measured', value: 'clear', evidence: expect.stringContaining('VERIFY auth') });
    expect(report.options.blockedPinSw?.status).toBe('not measured');
  });

  it('a budget smaller than the 住基 PIN\'s tries spends none of them', async () => {
    const report = await probe(fixture.image, { pins: {}, allowPinTries: 2 });
    expect(pinSends(report)).toEqual([]);
    expect(report.triesUsed).toEqual({});
    expect(report.options.blockedPinSw).toMatchObject({ status: 'not measured', flag: '--allow-pin-tries 3' });
  });

  it('a PIN already blocked is measured with no try and no budget when its value is given', async () => {
    const image = withOptions(fixture.image, { blockedPinSw: '63C0' }, (i) => (i.pins.kenhojo.remaining = 0));
    const report = await probe(image, { pins: { kenhojo: pins.kenhojo, auth: pins.auth } });
    expect(report.options.blockedPinSw).toMatchObject({ status: 'measured', value: '63C0' });
    expect(report.triesUsed).toEqual({});
    expect(report.triesAfter).toEqual(report.triesBefore);
    // The blocked card-info PIN is not used for the other steps: the auth PIN is.
    expect(report.options.statusQueryWhenVerified).toMatchObject({ status: 'measured', evidence: expect.stringContaining('authentication PIN') });
  });

  it('a wrong PIN given stops the probe at once (exit 3) with the transcript so far, after one try', async () => {
    const reader = readerFor(fixture.image);
    const stopped = await runProbe(reader, { pins: { kenhojo: pins.kenhojo === '9999' ? '9998' : '9999' }, allowPinTries: undefined }).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(ProbeStoppedWithReport);
    const report = (stopped as ProbeStoppedWithReport).report;
    expect(report.stopped).toMatch(/rejected the card-info .* --kenhojo-pin \(63C2: 2 tries left\); the probe stopped/);
    expect(pinSends(report)).toHaveLength(1);
    expect(report.transcript.at(-1)?.sw).toBe('63C2');
    expect(reader.card?.store.image.pins.kenhojo.remaining).toBe(2);
  });

  it('a counter that moves behind the probe\'s back stops it', async () => {
    const reader = readerFor(fixture.image);
    const meddling = {
      id: 'meddling',
      kind: 'informative' as const,
      question: 'another program sends a wrong auth PIN meanwhile',
      touchesPins: true,
      async run() {
        const card = reader.card!;
        card.transmit(Uint8Array.from(Buffer.from('00A4040C0AD392F000260100000001', 'hex')));
        card.transmit(Uint8Array.from(Buffer.from('00A4020C020018', 'hex')));
        card.transmit(Uint8Array.from(Buffer.from('002000800430303030', 'hex')));
        return { status: 'measured' as const, value: null, evidence: '' };
      },
    };
    const stopped = await runProbe(reader, { pins: {}, allowPinTries: undefined, steps: [meddling] }).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(ProbeStoppedWithReport);
    expect((stopped as Error).message).toMatch(/authentication PIN's tries left went from 3 to 2 during "meddling", which the probe did not do/);
  });

  it('refuses a card that is not a My Number Card, and a terminated one without --terminated', async () => {
    const terminated = withOptions(fixture.image, {}, (i) => (i.lifecycle = 'terminated'));
    await expect(probe(terminated)).rejects.toThrow(ProbeRefused);
    await expect(probe(terminated)).rejects.toThrow(/is not a My Number Card: SELECT of the JPKI AP answered 6A81; .*--terminated/);
    await expect(probe(fixture.image, { terminated: true })).rejects.toThrow(/it is not terminated/);
  });

  it('the fragment, pasted into a card definition, issues a card that probes the same', async () => {
    const flipped = withOptions(fixture.image, { readPastEnd: '9000', signWithoutPinSw: '6985', securityOnApSwitch: 'keep', statusQueryWhenVerified: '9000' });
    const report = await probe(flipped, full());
    const fragment = parseYaml(report.fragment) as { options: Record<string, unknown>; cardInfo: Record<string, unknown> };
    expect(fragment.options).toEqual(measuredOptions(report));
    const definition = parseCardDefinition({ id: 'copy', identity: { address: kLongAddress }, options: fragment.options, cardInfo: fragment.cardInfo }, 'copy', (field, problem) => {
      throw new Error(`${field}: ${problem}`);
    });
    const { image } = await issueCard(fixture.ca, definition);
    const again = await probe(image, { pins: { kenhojo: definition.pins.kenhojo, auth: definition.pins.auth }, allowPinTries: 3 });
    expect(measuredOptions(again)).toEqual(measuredOptions(report));
    expect(diffProbes(report, again).options).toEqual([]);
  });

  it('diff reports exactly the options that differ, and nothing for two copies of one card', async () => {
    const a = await probe(fixture.image, full());
    const b = await probe(withOptions(fixture.image, { readPastEnd: '9000', kenhojoCertificateNeedsPin: !kDefaultCardOptions.kenhojoCertificateNeedsPin }), full());
    const diff = diffProbes(a, b);
    expect(diff.options.map((d) => d.id).sort()).toEqual(['kenhojoCertificateNeedsPin', 'readPastEnd']);
    expect(diff.differ).toBe(true);
    expect(diff.apdus.some((d) => d.step === 'readPastEnd' && d.a?.sw === '6B00' && d.b?.sw === '9000')).toBe(true);
    const same = diffProbes(a, await probe(fixture.image, full()));
    expect(same).toMatchObject({ differ: false, options: [], informative: [], apdus: [] });
  });
});
