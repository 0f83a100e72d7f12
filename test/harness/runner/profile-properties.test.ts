/**
 * Every property of a device profile matters: for each one, a scenario is run under a neutral
 * profile and under the same profile with only that property changed, and the outcome changes.
 * The scenarios' custom steps speak raw APDUs to `ctx.reader` — the card as the device delivers it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceProfile } from '../../../harness/profiles/profile.js';
import type { RunResult, ScenarioResult } from '../../../harness/runner/results.js';
import { RunResources, runScenarios } from '../../../harness/runner/run.js';
import { loadScenarios, type Scenario } from '../../../harness/runner/scenario.js';
import { tempDir } from '../../support/cards.js';

const dir = tempDir('jpki-hil-profile-properties-');
afterAll(() => dir.remove());

/** Generous in every respect: nothing here limits or slows anything. */
function neutral(change: (p: DeviceProfile) => void = () => undefined): DeviceProfile {
  const p: DeviceProfile = {
    id: 'neutral-test-device',
    name: 'Neutral test device',
    kind: 'reader',
    modelled: 'documentation',
    description: 'A device without limits, for tests.',
    interface: 'both',
    atr: 'contactless',
    apdu: { maxCommand: 65544, maxResponse: 65538, extendedLength: true, chaining: true, t0: 'transparent' },
    latency: { baseMs: 0, perByteUs: 0, perIns: {} },
    timeouts: { transceiveMs: null, appRaisesToMs: null },
    session: { timeLimitMs: null },
    select: { aidAllowList: null, selectByNameChecked: false },
    faults: { fieldDropProbability: 0, cardMoveProbability: 0 },
    sources: {},
    file: join(dir.path, 'neutral.yaml'),
  };
  change(p);
  return p;
}

const kSteps = `
const hex = (b) => Buffer.from(b).toString('hex').toUpperCase();
const bytes = (h) => Uint8Array.from(Buffer.from(h.replace(/\\s/g, ''), 'hex'));
async function send(ctx, connection, h, ok = ['9000']) {
  const r = await connection.transmit(bytes(h));
  const sw = hex(r.subarray(r.length - 2));
  if (!ok.includes(sw)) throw ctx.fail.product(h.slice(0, 8) + ' answered ' + sw);
  return r.subarray(0, r.length - 2);
}
async function session(ctx, use) {
  const c = await ctx.reader.connect();
  try { return await use(c); } finally { await c.disconnect('reset'); }
}
const JPKI = '00A4040C0AD392F000260100000001';
export function atrGuard(ctx) {
  const atr = hex(ctx.reader.atr());
  if (!atr.startsWith('3B888001')) throw ctx.fail.product('the reader presents ATR ' + atr + ', not the contactless JPKI ATR 3B888001…');
}
export async function sign(ctx) {
  await session(ctx, async (c) => {
    await send(ctx, c, JPKI);
    await send(ctx, c, '00A4020C020018');
    await send(ctx, c, '0020008004' + hex(Buffer.from(ctx.card.pins.auth)));
    await send(ctx, c, '00A4020C020017');
    const digestInfo = '3031300D060960864801650304020105000420' + '11'.repeat(32);
    const signature = await send(ctx, c, '802A008033' + digestInfo + '00');
    if (signature.length !== 256) throw ctx.fail.product('the signature has ' + signature.length + ' bytes');
  });
}
export async function readChunks(ctx) {
  await session(ctx, async (c) => {
    await send(ctx, c, JPKI);
    await send(ctx, c, '00A4020C02000A');
    const first = await send(ctx, c, '00B0000000');
    if (first.length !== 256) throw ctx.fail.product('a 256-byte chunk came back with ' + first.length);
  });
}
export async function readExtended(ctx) {
  await session(ctx, async (c) => {
    await send(ctx, c, JPKI);
    await send(ctx, c, '00A4020C02000A');
    const whole = await send(ctx, c, '00B00000000000', ['9000', '6282']);
    if (whole.length < 900) throw ctx.fail.product('one extended READ BINARY gave ' + whole.length + ' bytes');
  });
}
export async function chained(ctx) {
  await session(ctx, async (c) => {
    await send(ctx, c, JPKI);
    // The first part of a chained VERIFY: any answer of the card will do, what matters is that it gets there.
    await c.transmit(bytes('1020008002' + '3132'));
  });
}
export async function slowSession(ctx) {
  await session(ctx, async (c) => {
    await send(ctx, c, JPKI);
    await new Promise((r) => setTimeout(r, ctx.args.pauseMs));
    await send(ctx, c, JPKI);
  });
}
export async function selectCardInfo(ctx) {
  await session(ctx, (c) => send(ctx, c, '00A4040C0AD3921000310001010408'));
}
`;

function writeScenarios(): Scenario[] {
  const folder = join(dir.path, 'scenarios');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'steps.js'), kSteps);
  const make = (id: string, step: string, extra = ''): void =>
    writeFileSync(join(folder, `${id}.yaml`), `id: ${id}\ntitle: ${id}\ncard: adult\nportal: mypage\n${extra}steps:\n  - custom: { module: ./steps.js, export: ${step} }\n`);
  make('atr-guard', 'atrGuard');
  make('contact-only', 'readChunks', 'requires:\n  interface: contact\n');
  make('sign', 'sign');
  make('read-chunks', 'readChunks');
  make('read-extended', 'readExtended');
  make('chained', 'chained');
  make('select-card-info', 'selectCardInfo');
  writeFileSync(
    join(folder, 'slow-session.yaml'),
    'id: slow-session\ntitle: slow-session\ncard: adult\nportal: mypage\nsteps:\n  - custom: { module: ./steps.js, export: slowSession, with: { pauseMs: 400 } }\n',
  );
  const { scenarios, errors } = loadScenarios([folder]);
  expect(errors).toEqual([]);
  return scenarios;
}

let scenarios: Scenario[];
// One CA, one issued card and one browser for every run here.
let resources: RunResources;
beforeAll(() => {
  scenarios = writeScenarios();
  resources = RunResources.create();
});
afterAll(() => resources.close());

async function outcome(id: string, profile: DeviceProfile): Promise<ScenarioResult> {
  const scenario = scenarios.find((s) => s.id === id)!;
  const result: RunResult = await runScenarios({
    scenarios: [scenario],
    reader: { kind: 'emulator' },
    workers: 1,
    retries: 0,
    outDir: join(dir.path, 'out', `${id}-${Math.random().toString(36).slice(2)}`),
    reporter: {},
    suiteVersion: 'test',
    profile,
    log: () => undefined,
    trace: false,
    resources,
  });
  return result.scenarios[0]!;
}

const failure = (r: ScenarioResult): string => (r.error ?? r.steps.find((s) => s.status === 'failed')?.error)?.message ?? '';

/** Runs the scenario under the neutral profile and under the changed one; returns both results. */
async function compare(id: string, change: (p: DeviceProfile) => void, base: (p: DeviceProfile) => void = () => undefined): Promise<[ScenarioResult, ScenarioResult]> {
  return Promise.all([outcome(id, neutral(base)), outcome(id, neutral((p) => (base(p), change(p))))]);
}

describe('each profile property changes the outcome of a scenario', () => {
  it('interface: a contact-only scenario does not apply to a contactless-only device', async () => {
    const [before, after] = await compare('contact-only', (p) => (p.interface = 'contactless'));
    expect(before.status).toBe('passed');
    expect(after.status).toBe('skipped');
    expect(after.error?.message).toMatch(/needs a contact interface; .* is contactless only/);
  });

  it('atr: an app that checks for the contactless ATR fails on a device presenting the contact ATR', async () => {
    const [before, after] = await compare('atr-guard', (p) => (p.atr = 'contact'));
    expect(before.status).toBe('passed');
    expect(after.status).toBe('failed');
    expect(failure(after)).toMatch(/presents ATR 3B/);
  });

  it('apdu.maxCommand: the 57-byte signature command does not fit a 50-byte command limit', async () => {
    const [before, after] = await compare('sign', (p) => (p.apdu.maxCommand = 50));
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/DEVICE_LIMIT: .*a command of 57 bytes exceeds the device's 50/);
  });

  it('apdu.maxResponse: a 256-byte chunk does not fit a 200-byte response limit', async () => {
    const [before, after] = await compare('read-chunks', (p) => (p.apdu.maxResponse = 200));
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/DEVICE_LIMIT: .*a response of 258 bytes exceeds the device's 200/);
  });

  it('apdu.extendedLength: one extended READ BINARY of the certificate fails without extended length', async () => {
    const [before, after] = await compare('read-extended', (p) => (p.apdu.extendedLength = false));
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/DEVICE_LIMIT: .*extended-length APDU .* is not supported/);
  });

  it('apdu.chaining: a chained command does not reach the card without chaining', async () => {
    const [before, after] = await compare('chained', (p) => (p.apdu.chaining = false));
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/DEVICE_LIMIT: .*command chaining .* is not supported/);
  });

  it('apdu.t0: surfaced 61xx breaks an app that does not send GET RESPONSE', async () => {
    const [before, after] = await compare('sign', (p) => (p.apdu.t0 = 'surface'));
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/802A0080 answered 6100/);
  });

  const slowTimeout = (p: DeviceProfile): void => {
    p.timeouts.transceiveMs = 300;
  };

  it('latency.perIns: 500 ms more on signing outlasts a 300 ms timeout', async () => {
    const [before, after] = await compare('sign', (p) => (p.latency.perIns = { '2A': 500 }), slowTimeout);
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/no answer to INS 2A within the 300 ms transceive timeout/);
  });

  it('latency.baseMs: 500 ms per exchange outlasts a 300 ms timeout', async () => {
    const [before, after] = await compare('sign', (p) => (p.latency.baseMs = 500), slowTimeout);
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/within the 300 ms transceive timeout/);
  });

  it('latency.perByteUs: 3 ms a byte outlasts a 300 ms timeout on the 258-byte signature answer', async () => {
    const [before, after] = await compare('sign', (p) => (p.latency.perByteUs = 3000), slowTimeout);
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/within the 300 ms transceive timeout/);
  });

  const slowSigning = (p: DeviceProfile): void => {
    p.latency.perIns = { '2A': 400 };
  };

  it('timeouts.transceiveMs: a 400 ms signature passes without a timeout and fails with 200 ms', async () => {
    const [before, after] = await compare('sign', (p) => (p.timeouts.transceiveMs = 200), slowSigning);
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/no answer to INS 2A within the 200 ms transceive timeout \(the app keeps the default\)/);
  });

  it('timeouts.appRaisesToMs: an app that raises the 200 ms default to 2000 ms survives a 400 ms signature', async () => {
    const [before, after] = await compare('sign', (p) => (p.timeouts.appRaisesToMs = 2000), (p) => (slowSigning(p), (p.timeouts.transceiveMs = 200)));
    expect(before.status).toBe('failed');
    expect(after.status).toBe('passed');
  });

  it('session.timeLimitMs: a session of 400 ms outlives a 200 ms session limit', async () => {
    const [before, after] = await compare('slow-session', (p) => (p.session.timeLimitMs = 200));
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/DEVICE_LIMIT: .*the session ended: the device allows 200 ms per session/);
  });

  it('select.aidAllowList: an AID left out of the list cannot be selected by name', async () => {
    const list = (p: DeviceProfile): void => {
      p.select = { aidAllowList: ['D392F000260100000001', 'D3921000310001010408'], selectByNameChecked: true };
    };
    const [before, after] = await compare('select-card-info', (p) => (p.select.aidAllowList = ['D392F000260100000001']), list);
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/SELECT of AID D3921000310001010408 by name is refused: the app did not declare it/);
  });

  it('select.selectByNameChecked: the same undeclared AID passes when the device does not check', async () => {
    const [before, after] = await compare('select-card-info', (p) => (p.select.selectByNameChecked = false), (p) => {
      p.select = { aidAllowList: ['D392F000260100000001'], selectByNameChecked: true };
    });
    expect(before.status).toBe('failed');
    expect(after.status).toBe('passed');
  });

  it('faults.fieldDropProbability: a field that always drops loses the card', async () => {
    const [before, after] = await compare('read-chunks', (p) => (p.faults.fieldDropProbability = 1));
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/CARD_REMOVED: .*the field dropped during the exchange/);
  });

  it('faults.cardMoveProbability: a card that always moves after the PIN fails the signature', async () => {
    const [before, after] = await compare('sign', (p) => (p.faults.cardMoveProbability = 1));
    expect(before.status).toBe('passed');
    expect(failure(after)).toMatch(/CARD_REMOVED: .*the card moved between PIN entry and signing/);
  });
});
