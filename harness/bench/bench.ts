/**
 * The signing-throughput benchmark: APDU round trips and signatures per second through the card's
 * APDU path in-process (on 1 to N worker threads), through pcscd and vpcd with and without the
 * quickack round-trip fix, through the NFC bridge over a paced serial line at 115200 and 921600
 * baud, and whole IC-card logins per second at the mock portal with K cards, next to
 * `openssl speed rsa2048` measured in the same run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CardImage } from '../../emulator/index.js';
import { kQuickackHost, quickackRouteActive } from '../readers/pcsc-environment.js';
import { issueThrowawayCard } from '../readers/throwaway-card.js';
import { withServedVpcdCard } from '../readers/vpcd-round-trip.js';
import { apduRate, epochMs, signRate, type Rate } from './apdu-loops.js';
import { measureNciBridge, nciBridgeUnavailable } from './nci-bridge.js';
import { opensslGenpkeyRate, opensslSpeed } from './openssl-speed.js';
import { measureIssuance, measurePortalLogins } from './portal-logins.js';
import { loadKeyPool } from './key-pool.js';
import { kPackageRoot } from '../package-root.js';
import { cpuMicrosPerApdu, measureServedProcess, servedProcessUnavailable, type LoopFigures } from './served-process.js';
import type { SignWorkerInput, SignWorkerMessage } from './sign-worker.js';
import { nextMessage } from './worker-messages.js';

export interface Figure {
  value: number | null;
  reason?: string;
}

/** The figures of one baud rate through the NFC bridge. */
export interface NciFigures {
  apduPerSec: Figure;
  signPerSec: Figure;
  apduMedianMs: Figure;
}

export interface BenchResult {
  date: string;
  node: string;
  /** Worker threads (and openssl processes) of the multi figures: the machine's cores. */
  workers: number;
  openssl: { single: Figure; multi: Figure };
  inprocess: {
    apduPerSec: Figure;
    signPerSec: Figure;
    single: Figure;
    multi: Figure;
    /** Signatures/s with each number of worker threads measured: 1..N when N ≤ 4, else 1 and N. */
    byWorkers: { workers: number; signPerSec: Figure }[];
  };
  pcsc: { apduPerSec: Figure; signPerSec: Figure; apduMedianMs: Figure };
  pcscWithoutFix: { apduPerSec: Figure; signPerSec: Figure; apduMedianMs: Figure };
  /**
   * `card serve` in its own process and a neutral C client on libpcsclite in another, through
   * pcscd and vpcd with the quickack route, next to the reference vicc (ATR, then 9000 to every
   * APDU) in vpcd's other slot, the client taking turns on them in rounds, with `openssl speed`
   * (1 process) between the rounds as the signatures' anchor (served-process.ts). `signPerSec`
   * counts 80 2A on the key selected once; `selectSignPerSec` SELECT + 80 2A pairs, as a client
   * that selects the key for every digest signs. The `pcsc` figures above are the card served
   * from the bench's own process. Absent from results made before it existed.
   */
  servedProcess?: {
    referenceApduPerSec: Figure;
    referenceMedianMs: Figure;
    apduPerSec: Figure;
    apduMedianMs: Figure;
    signPerSec: Figure;
    signMedianMs?: Figure;
    selectSignPerSec?: Figure;
    opensslSignPerSec?: Figure;
    /**
     * CPU time (µs, every thread of the process) per APDU round trip of the reference vicc and
     * of `card serve`, from /proc/<pid>/task/<tid>/schedstat over their loops: how lean each
     * one's per-APDU path is, apart from what pcscd and the client cost.
     */
    referenceCpuUsPerApdu?: Figure;
    apduCpuUsPerApdu?: Figure;
    /**
     * The same against the reference written in plain Node (native/min-vicc.mjs), in the reference's
     * slot after the Python one, with `card serve`'s figures from the rounds beside it: what Node's
     * event loop costs by itself, apart from the card's path.
     */
    nodeReferenceApduPerSec?: Figure;
    nodeReferenceCpuUsPerApdu?: Figure;
    apduPerSecBesideNode?: Figure;
    apduCpuUsPerApduBesideNode?: Figure;
    rounds?: number;
  };
  /** Each figure ÷ its anchor from the same run (null when either is missing). */
  ratios?: Record<string, number | null>;
  /**
   * Through `card serve --nci` and a pty pair to the controller simulator, the line paced at each
   * baud rate (nci-bridge.ts). Absent from results made before the bridge existed.
   */
  nci?: { baud115200: NciFigures; baud921600: NciFigures };
  /**
   * Complete IC-card logins at the mock portal over HTTP, K concurrent clients with one card each,
   * registered cards only (portal-logins.ts); latency of one whole login, GET /login to the menu.
   */
  portal: {
    cards: number;
    loginsPerSec: Figure;
    p50Ms: Figure;
    p95Ms: Figure;
    p99Ms: Figure;
    logins: number | null;
    seconds: number | null;
    /** Where a login's time goes: mean ms per login of each step, as the clients saw it. */
    phasesMs?: Record<string, number>;
    /**
     * The logins' anchor: `openssl speed rsa2048` (1 process) right before and right after the
     * logins, their mean. Absent from results made before it existed (their anchor: openssl.single).
     */
    opensslSignPerSec?: Figure;
  };
  /**
   * Card issuance with fresh keys (two RSA-2048 key pairs a card) on every core, next to
   * `openssl genpkey` RSA-2048 on as many lanes. Absent from results made before it existed.
   */
  issuance?: { cardsPerSec: Figure; keysPerSec: Figure; opensslKeysPerSec: Figure };
  /**
   * Portal logins as the population of cards grows (`--cards 4,16,…`), the same number of
   * clients at each size, cards from the key pool; resident memory of the process after the
   * warm-up and that divided by the cards. Empty when one size was asked for.
   */
  population?: {
    cards: number;
    clients: number;
    loginsPerSec: Figure;
    p50Ms: Figure;
    p99Ms: Figure;
    issueSeconds: Figure;
    rssBytes: Figure;
    rssPerCardBytes: Figure;
  }[];
}

/**
 * The figures as `--json` writes them: every figure a number, or `null` with the reason next to it
 * in its group's `reason` (e.g. `pcsc.signPerSec: null, pcsc.reason: "pcscd is not running"`), so
 * that `openssl.single`, `portal.p95Ms` and the rest read as plain numbers.
 */
export function benchJson(result: BenchResult): Record<string, unknown> {
  const flatten = (value: unknown): { json: unknown; reasons: string[] } => {
    if (isFigure(value)) return { json: value.value, reasons: value.value === null && value.reason ? [value.reason] : [] };
    if (Array.isArray(value)) {
      const items = value.map(flatten);
      return { json: items.map((i) => i.json), reasons: items.flatMap((i) => i.reasons) };
    }
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      const reasons: string[] = [];
      for (const [key, v] of Object.entries(value)) {
        const f = flatten(v);
        out[key] = f.json;
        reasons.push(...f.reasons);
      }
      const unique = [...new Set(reasons)];
      if (unique.length > 0) out.reason = unique.join('; ');
      return { json: out, reasons: [] };
    }
    return { json: value, reasons: [] };
  };
  return flatten(result).json as Record<string, unknown>;
}

function isFigure(v: unknown): v is Figure {
  return v !== null && typeof v === 'object' && 'value' in v && Object.keys(v).every((k) => k === 'value' || k === 'reason');
}

export interface BenchOptions {
  /** Seconds each measurement may take at most. */
  seconds: number;
  /** Worker threads for the multi figures (default: the machine's cores). */
  workers: number;
  pcsc: boolean;
  /** Measure through the NFC bridge (false: `nci` figures are null, skipped; default true). */
  nci?: boolean;
  /** Measure portal logins (false: `portal` figures are null, skipped). */
  portal: boolean;
  /** Emulated cards, and concurrent clients, of the portal measurement. */
  cards: number;
  /** More population sizes: portal logins with each number of cards, `clients` clients each time. */
  population?: number[];
  /** Concurrent clients of the population runs (default 4, at most the cards). */
  clients?: number;
  /** Throw the key pool away and generate it again. */
  freshKeys?: boolean;
  /** Measure card issuance against openssl genpkey (default true). */
  issuance?: boolean;
  progress: (line: string) => void;
}

/**
 * Signatures per second of `workers` threads signing at once, each with its own copy of the card.
 * Every worker starts, verifies and warms up first; then all of them get one shared window, and
 * the figure is the signatures of all workers over that window (to the last one's end), so
 * start-up is outside the measurement and no worker signs alone at either end.
 */
async function workerSignRate(image: CardImage, pin: string, workers: number, seconds: number): Promise<number> {
  const script = new URL('./sign-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(script))) throw new Error(`${fileURLToPath(script)} is missing: build with npm run setup`);
  const threads = Array.from({ length: workers }, () => new Worker(script, { workerData: { image, pin, warmup: 20 } satisfies SignWorkerInput }));
  try {
    await Promise.all(threads.map((worker) => nextMessage<SignWorkerMessage, 'ready'>(worker, 'ready')));
    const startMs = epochMs() + 20;
    const endMs = startMs + seconds * 1000;
    const done = threads.map((worker) => nextMessage<SignWorkerMessage, 'done'>(worker, 'done'));
    for (const worker of threads) worker.postMessage({ kind: 'window', startMs, endMs } satisfies SignWorkerMessage);
    const results = await Promise.all(done);
    const count = results.reduce((sum, r) => sum + r.count, 0);
    const lastEnd = Math.max(...results.map((r) => r.lastEndMs));
    return count / ((lastEnd - startMs) / 1000);
  } finally {
    await Promise.all(threads.map((worker) => worker.terminate()));
  }
}

const figure = (value: number): Figure => ({ value: Math.round(value * 100) / 100 });
const missing = (reason: string): Figure => ({ value: null, reason });

async function pcscFigures(image: CardImage, pin: string, host: string, options: BenchOptions, slow: boolean): Promise<{ apdu: Rate; sign: Rate }> {
  return withServedVpcdCard(image, { host }, async (channel) => {
    const apdu = await apduRate(channel, { count: slow ? 60 : 20_000, maxSeconds: options.seconds });
    const sign = await signRate(channel, pin, { count: slow ? 10 : 5_000, maxSeconds: options.seconds });
    return { apdu, sign };
  });
}

/** The worker counts of the curve: every count up to 4, beyond that only 1 and N (each costs `seconds`). */
export function workerCounts(workers: number): number[] {
  return workers <= 4 ? Array.from({ length: workers }, (_, i) => i + 1) : [1, workers];
}

async function measurePcsc(result: BenchResult, image: CardImage, pin: string, options: BenchOptions): Promise<void> {
  const say = options.progress;
  if (!options.pcsc) {
    const reason = 'skipped (--no-pcsc)';
    result.pcsc = { apduPerSec: missing(reason), signPerSec: missing(reason), apduMedianMs: missing(reason) };
    result.pcscWithoutFix = { ...result.pcsc };
    return;
  }
  if (quickackRouteActive()) {
    say('through pcscd and vpcd, with the quickack route');
    try {
      const { apdu, sign } = await pcscFigures(image, pin, kQuickackHost, options, false);
      result.pcsc = { apduPerSec: figure(apdu.perSec), signPerSec: figure(sign.perSec), apduMedianMs: figure(apdu.medianMs) };
    } catch (e) {
      const reason = `PC/SC path unavailable: ${(e as Error).message}`;
      result.pcsc = { apduPerSec: missing(reason), signPerSec: missing(reason), apduMedianMs: missing(reason) };
    }
  } else {
    const reason = 'no quickack route (run jpki-hil doctor)';
    result.pcsc = { apduPerSec: missing(reason), signPerSec: missing(reason), apduMedianMs: missing(reason) };
  }
  result.servedProcess = await servedProcessFigures(image, pin, options);
  say('through pcscd and vpcd, without the fix (every APDU stalls; a short sample)');
  try {
    const { apdu, sign } = await pcscFigures(image, pin, '127.0.0.1', options, true);
    result.pcscWithoutFix = { apduPerSec: figure(apdu.perSec), signPerSec: figure(sign.perSec), apduMedianMs: figure(apdu.medianMs) };
  } catch (e) {
    const reason = `PC/SC path unavailable: ${(e as Error).message}`;
    result.pcscWithoutFix = { apduPerSec: missing(reason), signPerSec: missing(reason), apduMedianMs: missing(reason) };
  }
}

async function servedProcessFigures(image: CardImage, pin: string, options: BenchOptions): Promise<NonNullable<BenchResult['servedProcess']>> {
  const none = (reason: string): NonNullable<BenchResult['servedProcess']> => ({
    referenceApduPerSec: missing(reason),
    referenceMedianMs: missing(reason),
    apduPerSec: missing(reason),
    apduMedianMs: missing(reason),
    signPerSec: missing(reason),
    signMedianMs: missing(reason),
    selectSignPerSec: missing(reason),
    opensslSignPerSec: missing(reason),
    referenceCpuUsPerApdu: missing(reason),
    apduCpuUsPerApdu: missing(reason),
    nodeReferenceApduPerSec: missing(reason),
    nodeReferenceCpuUsPerApdu: missing(reason),
    apduPerSecBesideNode: missing(reason),
    apduCpuUsPerApduBesideNode: missing(reason),
  });
  if (!quickackRouteActive()) return none('no quickack route (run jpki-hil doctor)');
  const unavailable = servedProcessUnavailable();
  if (unavailable) return none(unavailable);
  try {
    const f = await measureServedProcess({ image, pin, seconds: options.seconds, host: kQuickackHost, progress: options.progress });
    return {
      referenceApduPerSec: figure(f.reference.perSec),
      referenceMedianMs: figure(f.reference.medianMs),
      apduPerSec: figure(f.servedApdu.perSec),
      apduMedianMs: figure(f.servedApdu.medianMs),
      signPerSec: figure(f.servedSign.perSec),
      signMedianMs: figure(f.servedSign.medianMs),
      selectSignPerSec: figure(f.servedSelectSign.perSec),
      opensslSignPerSec: figure(f.opensslSignPerSec),
      referenceCpuUsPerApdu: cpuFigure(f.reference),
      apduCpuUsPerApdu: cpuFigure(f.servedApdu),
      nodeReferenceApduPerSec: figure(f.nodeReference.perSec),
      nodeReferenceCpuUsPerApdu: cpuFigure(f.nodeReference),
      apduPerSecBesideNode: figure(f.servedApduBesideNode.perSec),
      apduCpuUsPerApduBesideNode: cpuFigure(f.servedApduBesideNode),
      rounds: f.rounds,
    };
  } catch (e) {
    return none(`card serve in its own process: ${(e as Error).message.split('\n')[0]}`);
  }
}

function cpuFigure(loop: LoopFigures): Figure {
  const us = cpuMicrosPerApdu(loop);
  return us === undefined ? missing('no /proc/<pid>/task/*/schedstat to read CPU time from') : figure(Math.round(us * 100) / 100);
}

/** Every figure that has a goal, divided by its anchor from the same run. */
export function benchRatios(r: BenchResult): Record<string, number | null> {
  const div = (a: Figure | undefined, b: Figure | undefined): number | null =>
    a?.value === null || a?.value === undefined || b?.value === null || b?.value === undefined || b.value === 0 ? null : Math.round((a.value / b.value) * 1000) / 1000;
  return {
    inprocessSignVsOpenssl: div(r.inprocess.signPerSec, r.openssl.single),
    workersSignVsOpensslMulti: div(r.inprocess.multi, r.openssl.multi),
    pcscSignVsOpenssl: div(r.pcsc.signPerSec, r.openssl.single),
    servedProcessApduVsReferenceVicc: div(r.servedProcess?.apduPerSec, r.servedProcess?.referenceApduPerSec),
    // Lower CPU is leaner: the reference's CPU per APDU ÷ card serve's, so that 1.0 is "as lean" and more is better.
    servedProcessApduCpuVsReferenceVicc: div(r.servedProcess?.referenceCpuUsPerApdu, r.servedProcess?.apduCpuUsPerApdu),
    servedProcessApduVsNodeVicc: div(r.servedProcess?.apduPerSecBesideNode, r.servedProcess?.nodeReferenceApduPerSec),
    servedProcessApduCpuVsNodeVicc: div(r.servedProcess?.nodeReferenceCpuUsPerApdu, r.servedProcess?.apduCpuUsPerApduBesideNode),
    // The served card's anchor is the openssl measured between its rounds (older results: the run's).
    servedProcessSignVsOpenssl: div(r.servedProcess?.signPerSec, r.servedProcess?.opensslSignPerSec ?? r.openssl.single),
    servedProcessSelectSignVsOpenssl: div(r.servedProcess?.selectSignPerSec, r.servedProcess?.opensslSignPerSec ?? r.openssl.single),
    issuanceKeysVsOpensslGenpkey: div(r.issuance?.keysPerSec, r.issuance?.opensslKeysPerSec),
    ...Object.fromEntries((r.population ?? []).map((p) => [`population${p.cards}LoginsVsFirst`, div(p.loginsPerSec, r.population?.[0]?.loginsPerSec)])),
    portalLoginsVsOpenssl: div(r.portal.loginsPerSec, r.portal.opensslSignPerSec ?? r.openssl.single),
  };
}

async function measureNci(result: BenchResult, image: CardImage, pin: string, options: BenchOptions): Promise<void> {
  const unmeasured = (reason: string): NonNullable<BenchResult['nci']> => {
    const figures = { apduPerSec: missing(reason), signPerSec: missing(reason), apduMedianMs: missing(reason) };
    return { baud115200: figures, baud921600: { ...figures } };
  };
  if (options.nci === false) {
    result.nci = unmeasured('skipped (--no-nci)');
    return;
  }
  const unavailable = await nciBridgeUnavailable();
  if (unavailable) {
    result.nci = unmeasured(unavailable);
    return;
  }
  try {
    const rates = await measureNciBridge(image, pin, { seconds: options.seconds, bauds: [115_200, 921_600], progress: options.progress });
    const at = (baud: number): NciFigures => {
      const r = rates.find((x) => x.baud === baud)!;
      return { apduPerSec: figure(r.apdu.perSec), signPerSec: figure(r.sign.perSec), apduMedianMs: figure(r.apdu.medianMs) };
    };
    result.nci = { baud115200: at(115_200), baud921600: at(921_600) };
  } catch (e) {
    result.nci = unmeasured(`NCI bridge unavailable: ${(e as Error).message.split('\n')[0]}`);
  }
}

async function measureIssuanceFigures(result: BenchResult, options: BenchOptions): Promise<void> {
  if (options.issuance === false) return;
  const lanes = options.workers;
  options.progress(`issuance: cards with fresh keys on ${lanes} lanes, then openssl genpkey on ${lanes} (${options.seconds} s each)`);
  try {
    const ours = await measureIssuance({ seconds: options.seconds, lanes });
    const theirs = await opensslGenpkeyRate({ seconds: options.seconds, processes: lanes });
    result.issuance = { cardsPerSec: figure(ours.cardsPerSec), keysPerSec: figure(ours.keysPerSec), opensslKeysPerSec: figure(theirs.keysPerSec) };
  } catch (e) {
    const reason = `issuance: ${(e as Error).message.split('\n')[0]}`;
    result.issuance = { cardsPerSec: missing(reason), keysPerSec: missing(reason), opensslKeysPerSec: missing(reason) };
  }
}

async function measurePopulation(result: BenchResult, options: BenchOptions): Promise<void> {
  result.population = [];
  const sizes = options.population ?? [];
  if (sizes.length === 0 || !options.portal) return;
  const pool = await loadKeyPool(join(kPackageRoot, 'out', 'bench', 'key-pool.pem'), 2 * Math.max(...sizes), { fresh: options.freshKeys ?? false, progress: options.progress });
  for (const cards of sizes) {
    const clients = Math.min(options.clients ?? 4, cards);
    try {
      const rate = await measurePortalLogins({ cards, clients, seconds: options.seconds, progress: options.progress, cardKey: pool.source() });
      result.population.push({
        cards,
        clients,
        loginsPerSec: rate.count > 0 ? figure(rate.perSec) : missing(`no login completed within ${options.seconds} s`),
        p50Ms: rate.count > 0 ? figure(rate.p50Ms) : missing('no login'),
        p99Ms: rate.count > 0 ? figure(rate.p99Ms) : missing('no login'),
        issueSeconds: figure(rate.issueSeconds),
        rssBytes: figure(rate.rssBytes),
        rssPerCardBytes: figure(rate.rssBytes / cards),
      });
    } catch (e) {
      const reason = `population of ${cards}: ${(e as Error).message.split('\n')[0]}`;
      result.population.push({
        cards,
        clients,
        loginsPerSec: missing(reason),
        p50Ms: missing(reason),
        p99Ms: missing(reason),
        issueSeconds: missing(reason),
        rssBytes: missing(reason),
        rssPerCardBytes: missing(reason),
      });
    }
  }
}

async function measurePortal(result: BenchResult, options: BenchOptions): Promise<void> {
  const unmeasured = (reason: string): BenchResult['portal'] => ({
    cards: options.cards,
    loginsPerSec: missing(reason),
    p50Ms: missing(reason),
    p95Ms: missing(reason),
    p99Ms: missing(reason),
    logins: null,
    seconds: null,
  });
  if (!options.portal) {
    result.portal = unmeasured('skipped (--no-portal)');
    return;
  }
  try {
    const rate = await measurePortalLogins({ cards: options.cards, seconds: options.seconds, progress: options.progress });
    if (rate.count === 0) {
      result.portal = unmeasured(`no login completed within ${options.seconds} s`);
      return;
    }
    result.portal = {
      cards: rate.cards,
      loginsPerSec: figure(rate.perSec),
      p50Ms: figure(rate.p50Ms),
      p95Ms: figure(rate.p95Ms),
      p99Ms: figure(rate.p99Ms),
      logins: rate.count,
      seconds: Math.round(rate.seconds * 100) / 100,
      phasesMs: rate.phasesMs,
    };
  } catch (e) {
    result.portal = unmeasured(`portal logins failed: ${(e as Error).message}`);
  }
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const say = options.progress;
  say('issuing a card for the benchmark');
  const card = await issueThrowawayCard();
  const { image, authPin: pin } = card;
  try {
    const notYet = missing('not measured');
    const result: BenchResult = {
      date: new Date().toISOString(),
      node: process.versions.node,
      workers: options.workers,
      openssl: { single: notYet, multi: notYet },
      inprocess: { apduPerSec: notYet, signPerSec: notYet, single: notYet, multi: notYet, byWorkers: [] },
      pcsc: { apduPerSec: notYet, signPerSec: notYet, apduMedianMs: notYet },
      pcscWithoutFix: { apduPerSec: notYet, signPerSec: notYet, apduMedianMs: notYet },
      nci: {
        baud115200: { apduPerSec: notYet, signPerSec: notYet, apduMedianMs: notYet },
        baud921600: { apduPerSec: notYet, signPerSec: notYet, apduMedianMs: notYet },
      },
      portal: { cards: options.cards, loginsPerSec: notYet, p50Ms: notYet, p95Ms: notYet, p99Ms: notYet, logins: null, seconds: null },
    };

    // Each openssl anchor runs right before and right after the figures it anchors, and counts as
    // the mean of the two: on a machine whose speed drifts, figure and anchor see the same drift.
    const openssl = async (processes: number): Promise<number> => (await opensslSpeed({ seconds: options.seconds, processes })).signPerSec;
    const bracket = async (processes: number, what: string, measure: () => Promise<void>): Promise<Figure> => {
      const failed = (e: unknown): Figure => missing(`openssl speed${processes > 1 ? ' -multi' : ''} failed: ${(e as Error).message}`);
      say(`openssl speed ${processes > 1 ? `-multi ${processes} ` : ''}rsa2048 (${options.seconds} s), before ${what}`);
      let before: number;
      try {
        before = await openssl(processes);
      } catch (e) {
        await measure();
        return failed(e);
      }
      await measure();
      say(`openssl speed ${processes > 1 ? `-multi ${processes} ` : ''}rsa2048 (${options.seconds} s), after ${what}`);
      try {
        return figure((before + (await openssl(processes))) / 2);
      } catch (e) {
        return failed(e);
      }
    };

    const channel = card.inProcess();
    result.openssl.single = await bracket(1, 'the in-process figures', async () => {
      say('in-process: APDU round trips and signatures');
      result.inprocess.apduPerSec = figure((await apduRate(channel, { count: 200_000, maxSeconds: options.seconds })).perSec);
      result.inprocess.signPerSec = figure((await signRate(channel, pin, { count: 100_000, maxSeconds: options.seconds })).perSec);
      result.inprocess.single = result.inprocess.signPerSec;
    });
    result.openssl.multi = await bracket(options.workers, 'the worker threads', async () => {
      for (const workers of workerCounts(options.workers)) {
        say(`in-process: signatures in ${workers} worker thread${workers === 1 ? '' : 's'}`);
        let signPerSec: Figure;
        try {
          signPerSec = figure(await workerSignRate(image, pin, workers, options.seconds));
        } catch (e) {
          signPerSec = missing(`worker threads failed: ${(e as Error).message}`);
        }
        result.inprocess.byWorkers.push({ workers, signPerSec });
        if (workers === options.workers) result.inprocess.multi = signPerSec;
      }
    });

    await measurePcsc(result, image, pin, options);
    await measureNci(result, image, pin, options);
    if (options.portal) {
      const opensslSignPerSec = await bracket(1, 'the portal logins', () => measurePortal(result, options));
      result.portal.opensslSignPerSec = opensslSignPerSec;
    } else {
      await measurePortal(result, options);
    }
    await measureIssuanceFigures(result, options);
    await measurePopulation(result, options);
    result.ratios = benchRatios(result);
    return result;
  } finally {
    card.cleanup();
  }
}

const mib = (f: Figure): Figure => (f.value === null ? f : { value: Math.round((f.value / 1048576) * 10) / 10 });
const kib = (f: Figure): Figure => (f.value === null ? f : { value: Math.round(f.value / 1024) });

function ratio(a: Figure, b: Figure): string {
  return a.value === null || b.value === null || b.value === 0 ? 'n/a' : `${(a.value / b.value).toFixed(2)}x`;
}

/** The lines under the table about the served card; `show` is the table's (it numbers missing figures' reasons). */
function servedProcessNotes(sp: NonNullable<BenchResult['servedProcess']>, show: (f: Figure, unit?: string) => string): string[] {
  const measured = (f: Figure | undefined): f is Figure => typeof f?.value === 'number';
  return [
    `card serve in its own process ÷ the reference vicc, APDU round trips: ${ratio(sp.apduPerSec, sp.referenceApduPerSec)} ` +
      `(median ${show(sp.apduMedianMs, ' ms')} vs ${show(sp.referenceMedianMs, ' ms')}${sp.rounds ? `, ${sp.rounds} interleaved rounds` : ''})`,
    ...(measured(sp.apduCpuUsPerApdu) && measured(sp.referenceCpuUsPerApdu)
      ? [
          `CPU time per APDU: card serve ${show(sp.apduCpuUsPerApdu, ' µs')}, the reference vicc ${show(sp.referenceCpuUsPerApdu, ' µs')} ` +
            `(reference ÷ card serve ${ratio(sp.referenceCpuUsPerApdu, sp.apduCpuUsPerApdu)})`,
        ]
      : []),
    ...(measured(sp.nodeReferenceApduPerSec) && sp.apduPerSecBesideNode && sp.apduCpuUsPerApduBesideNode && sp.nodeReferenceCpuUsPerApdu
      ? [
          `beside the reference vicc written in Node: card serve ÷ it, APDU round trips ${ratio(sp.apduPerSecBesideNode, sp.nodeReferenceApduPerSec)}; ` +
            `CPU time per APDU ${show(sp.apduCpuUsPerApduBesideNode, ' µs')} vs ${show(sp.nodeReferenceCpuUsPerApdu, ' µs')}`,
        ]
      : []),
    ...(sp.signMedianMs ? [`median signature through pcscd from card serve: ${show(sp.signMedianMs, ' ms')}`] : []),
  ];
}

/** The figures as a table (header row first) and the lines under it: the terminal's and the HTML page's. */
export function benchTable(r: BenchResult): { rows: string[][]; notes: string[] } {
  // Why a figure is missing goes under the table once, as a numbered note, so the columns stay narrow.
  const reasons: string[] = [];
  const show = (f: Figure, unit = ''): string => {
    if (f.value !== null) return `${f.value.toLocaleString('en-US')}${unit}`;
    const reason = f.reason ?? 'not measured';
    if (!reasons.includes(reason)) reasons.push(reason);
    return `n/a [${reasons.indexOf(reason) + 1}]`;
  };
  const o = r.openssl.single;
  const rows: string[][] = [
    ['path', 'APDU/s', 'signatures/s', 'signatures ÷ openssl'],
    ['openssl speed rsa2048 (1 process)', '', show(o), '1.00x'],
    [`openssl speed rsa2048 (-multi ${r.workers})`, '', show(r.openssl.multi), ratio(r.openssl.multi, o)],
    ['in-process emulator', show(r.inprocess.apduPerSec), show(r.inprocess.signPerSec), ratio(r.inprocess.signPerSec, o)],
  ];
  for (const point of r.inprocess.byWorkers) {
    if (point.workers === r.workers) continue;
    rows.push([`in-process emulator, ${point.workers} worker thread${point.workers === 1 ? '' : 's'}`, '', show(point.signPerSec), ratio(point.signPerSec, o)]);
  }
  rows.push(
    [`in-process emulator, ${r.workers} worker threads`, '', show(r.inprocess.multi), ratio(r.inprocess.multi, o)],
    ['pcscd + vpcd, quickack route', show(r.pcsc.apduPerSec), show(r.pcsc.signPerSec), ratio(r.pcsc.signPerSec, o)],
    ['pcscd + vpcd, stock (no fix)', show(r.pcscWithoutFix.apduPerSec), show(r.pcscWithoutFix.signPerSec), ratio(r.pcscWithoutFix.signPerSec, o)],
  );
  const sp = r.servedProcess;
  if (sp) {
    const anchor = sp.opensslSignPerSec ?? o;
    rows.push(
      ['reference vicc (9000 to every APDU), C client, quickack', show(sp.referenceApduPerSec), '', ''],
      ...(sp.nodeReferenceApduPerSec ? [['the same reference written in Node, then in its slot', show(sp.nodeReferenceApduPerSec), '', '']] : []),
      ...(sp.opensslSignPerSec ? [['openssl speed rsa2048 (1 process), between the rounds below', '', show(sp.opensslSignPerSec), ratio(sp.opensslSignPerSec, o)]] : []),
      ['card serve (own process), C client, quickack', show(sp.apduPerSec), show(sp.signPerSec), ratio(sp.signPerSec, anchor)],
      ...(sp.selectSignPerSec ? [['card serve, SELECT key + sign per signature', '', show(sp.selectSignPerSec), ratio(sp.selectSignPerSec, anchor)]] : []),
    );
  }
  if (r.nci) {
    rows.push(
      ['NCI bridge over a serial line, 115200 baud', show(r.nci.baud115200.apduPerSec), show(r.nci.baud115200.signPerSec), ratio(r.nci.baud115200.signPerSec, o)],
      ['NCI bridge over a serial line, 921600 baud', show(r.nci.baud921600.apduPerSec), show(r.nci.baud921600.signPerSec), ratio(r.nci.baud921600.signPerSec, o)],
    );
  }
  if (r.portal.opensslSignPerSec) rows.push(['openssl speed rsa2048 (1 process), around the portal logins', '', show(r.portal.opensslSignPerSec), ratio(r.portal.opensslSignPerSec, o)]);
  rows.push([`portal IC-card logins/s, ${r.portal.cards} cards (1 signature each)`, '', show(r.portal.loginsPerSec), ratio(r.portal.loginsPerSec, r.portal.opensslSignPerSec ?? o)]);
  if (r.issuance) {
    rows.push([`card issuance, fresh keys, ${r.workers} lanes (cards/s; keys/s ÷ openssl genpkey)`, '', show(r.issuance.cardsPerSec), ratio(r.issuance.keysPerSec, r.issuance.opensslKeysPerSec)]);
  }
  for (const p of r.population ?? []) {
    rows.push([`portal logins/s, ${p.cards.toLocaleString('en-US')} cards, ${p.clients} clients (p99 ${show(p.p99Ms, ' ms')})`, '', show(p.loginsPerSec), ratio(p.loginsPerSec, o)]);
  }
  const notes = [
    ...(r.issuance ? [`RSA-2048 keys/s: ${show(r.issuance.keysPerSec)} issuing cards, ${show(r.issuance.opensslKeysPerSec)} openssl genpkey`] : []),
    ...(r.population ?? []).map(
      (p) => `population ${p.cards}: issued in ${show(p.issueSeconds, ' s')} from the key pool, resident memory ${show(mib(p.rssBytes), ' MiB')} (${show(kib(p.rssPerCardBytes), ' KiB')} a card)`,
    ),
    `median APDU round trip through pcscd: ${show(r.pcsc.apduMedianMs, ' ms')} with the fix, ${show(r.pcscWithoutFix.apduMedianMs, ' ms')} without`,
    ...(r.nci
      ? [`median APDU round trip through the NCI bridge: ${show(r.nci.baud115200.apduMedianMs, ' ms')} at 115200 baud, ${show(r.nci.baud921600.apduMedianMs, ' ms')} at 921600`]
      : []),
    ...(sp ? servedProcessNotes(sp, show) : []),
    `${r.workers} worker threads ÷ openssl -multi ${r.workers}: ${ratio(r.inprocess.multi, r.openssl.multi)}`,
    r.portal.loginsPerSec.value === null
      ? `portal login latency: ${show(r.portal.p50Ms)}`
      : `portal login latency (GET /login to the menu, ${r.portal.cards} concurrent clients, ${r.portal.logins ?? '?'} logins in ${r.portal.seconds ?? '?'} s): ` +
        `p50 ${show(r.portal.p50Ms, ' ms')}, p95 ${show(r.portal.p95Ms, ' ms')}, p99 ${show(r.portal.p99Ms, ' ms')}`,
    ...reasons.map((reason, i) => `[${i + 1}] ${reason}`),
  ];
  return { rows, notes };
}

export function formatBench(r: BenchResult): string {
  const { rows, notes } = benchTable(r);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  lines.push('', ...notes);
  return lines.join('\n');
}
