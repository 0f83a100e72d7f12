/**
 * The served card measured as users run it: `jpki-hil card serve` in its own process, a neutral
 * client in another (native/pcsc-loop.c on libpcsclite, built here), and in the same run the least
 * a virtual card can be (native/min-vicc.py: ATR, then 9000 to every APDU) as the reference for
 * what pcscd, vpcd and the socket cost by themselves.
 *
 * The reference sits in vpcd's first slot and `card serve` in the second, both at once, and the
 * client takes turns on them in short rounds (with `openssl speed` between them for the signature
 * anchor): on a machine whose speed drifts, each figure and its anchor see the same drift.
 * Then the same loop written in plain Node (native/min-vicc.mjs) takes the reference's slot for as
 * many rounds of APDUs: what Node's event loop costs by itself, apart from the card's own path.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kVpcdPort, serializeCardImage, type CardImage } from '../../emulator/index.js';
import { kPackageRoot } from '../package-root.js';
import { PcscReaderProvider } from '../readers/pcsc-reader.js';
import { percentile } from '../stats/percentile.js';
import { opensslSpeed } from './openssl-speed.js';

export interface LoopFigures {
  count: number;
  seconds: number;
  perSec: number;
  medianMs: number;
  /** CPU time the card's process (all its threads) spent during the loop, in ns; absent without /proc. */
  cardCpuNs?: number;
}

export interface ServedProcessFigures {
  /** APDU round trips of the reference vicc through pcscd and vpcd. */
  reference: LoopFigures;
  /** APDU round trips (SELECT EF) of `card serve` in its own process. */
  servedApdu: LoopFigures;
  /** Signatures (80 2A on the auth key, selected once) of `card serve` in its own process. */
  servedSign: LoopFigures;
  /** SELECT of the key + 80 2A per signature, as MYNA mpa signs each digest. */
  servedSelectSign: LoopFigures;
  /** `openssl speed rsa2048` signatures/s, 1 process, measured between the rounds. */
  opensslSignPerSec: number;
  /** APDU round trips of the reference vicc in Node (native/min-vicc.mjs), in the same slot after the Python one. */
  nodeReference: LoopFigures;
  /** `card serve`'s APDU round trips in the rounds beside the Node reference. */
  servedApduBesideNode: LoopFigures;
  rounds: number;
}

type LoopMode = 'apdu' | 'sign' | 'select-sign';

/** Sums rounds of one loop: counts and times add up; the median is the median of the rounds' medians. */
export function combineRounds(rounds: readonly LoopFigures[]): LoopFigures {
  const count = rounds.reduce((n, r) => n + r.count, 0);
  const seconds = rounds.reduce((n, r) => n + r.seconds, 0);
  const cpu = rounds.length > 0 && rounds.every((r) => r.cardCpuNs !== undefined) ? rounds.reduce((n, r) => n + r.cardCpuNs!, 0) : undefined;
  return {
    count,
    seconds,
    perSec: seconds > 0 ? count / seconds : 0,
    medianMs: percentile(rounds.map((r) => r.medianMs).sort((a, b) => a - b), 50),
    ...(cpu === undefined ? {} : { cardCpuNs: cpu }),
  };
}

/** CPU time per APDU of the card's process, in µs (undefined when it was not measured). */
export function cpuMicrosPerApdu(loop: LoopFigures): number | undefined {
  return loop.cardCpuNs === undefined || loop.count === 0 ? undefined : loop.cardCpuNs / 1000 / loop.count;
}

/**
 * CPU time a process has run so far, every thread summed, in ns: the first field of each
 * /proc/<pid>/task/<tid>/schedstat. Undefined where /proc has no schedstat (not Linux).
 */
export function processCpuNs(pid: number): number | undefined {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // A thread that ended between the listing and the read ran no more.
      }
    }
    return Number.isFinite(total) ? total : undefined;
  } catch {
    return undefined;
  }
}

const kSource = join(kPackageRoot, 'harness', 'bench', 'native', 'pcsc-loop.c');
const kVicc = join(kPackageRoot, 'harness', 'bench', 'native', 'min-vicc.py');
const kNodeVicc = join(kPackageRoot, 'harness', 'bench', 'native', 'min-vicc.mjs');

/** Why this measurement cannot run here, or undefined when it can. */
export function servedProcessUnavailable(): string | undefined {
  const has = (command: string, args: string[]): boolean => {
    try {
      execFileSync(command, args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('cc', ['--version'])) return 'no C compiler (cc) for the neutral PC/SC client: apt-get install gcc';
  if (!has('pkg-config', ['--exists', 'libpcsclite'])) return 'no libpcsclite-dev for the neutral PC/SC client: apt-get install libpcsclite-dev pkg-config';
  if (!has('python3', ['--version'])) return 'no python3 for the reference vicc';
  for (const file of [kSource, kVicc, kNodeVicc]) if (!existsSync(file)) return `${file} is missing: the served card is measured from a checkout of the repository, where harness/bench/native/ holds its helpers`;
  return undefined;
}

/** Builds the neutral client into out/bench/ when its source is newer than the binary. */
export function buildPcscLoop(outDir = join(kPackageRoot, 'out', 'bench')): string {
  const binary = join(outDir, 'pcsc-loop');
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(kSource).mtimeMs) return binary;
  mkdirSync(outDir, { recursive: true });
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libpcsclite'], { encoding: 'utf8' }).trim().split(/\s+/);
  execFileSync('cc', ['-O2', '-o', binary, kSource, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  return binary;
}

/**
 * Runs the neutral client once against the card of process `cardPid`; it connects when the card is
 * there, so it retries for a while. The card process's CPU time over the run is kept with the figures.
 */
async function runLoop(binary: string, reader: string, mode: LoopMode, seconds: number, cardPid: number | undefined, pin?: string): Promise<LoopFigures> {
  const cpuBefore = cardPid === undefined ? undefined : processCpuNs(cardPid);
  let lastError = '';
  for (let attempt = 0; attempt < 25; attempt++) {
    const child = spawn(binary, [reader, mode, String(seconds)], {
      env: { ...process.env, ...(pin ? { PCSC_LOOP_PIN: pin } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code === 0) {
      const [count, secs, median] = out.trim().split(/\s+/).map(Number);
      if (count === undefined || secs === undefined || median === undefined || !(secs > 0)) throw new Error(`pcsc-loop printed '${out.trim()}'`);
      const cpuAfter = cardPid === undefined ? undefined : processCpuNs(cardPid);
      // A thread that ended during the loop takes its time out of the sum: no figure then, rather than a wrong one.
      const cardCpuNs = cpuBefore === undefined || cpuAfter === undefined || cpuAfter < cpuBefore ? undefined : cpuAfter - cpuBefore;
      return { count, seconds: secs, perSec: count / secs, medianMs: median, ...(cardCpuNs === undefined ? {} : { cardCpuNs }) };
    }
    lastError = err.trim().split('\n')[0] ?? `exit ${code}`;
    // No card in the reader yet (the virtual card is still connecting): try again shortly.
    if (!/connect to/.test(lastError)) break;
    await sleep(200);
  }
  throw new Error(lastError || 'pcsc-loop failed');
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

async function waitFor(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 10 s: ${seen.trim().split('\n').pop() ?? ''}`)), 10_000);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${seen.trim().split('\n').pop() ?? ''}`));
    });
  });
}

/** Waits until pcscd shows the reader with no card (the previous virtual card is gone). */
async function waitEmpty(provider: PcscReaderProvider, reader: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const entry = (await provider.list()).find((r) => r.name === reader);
    if (entry && !entry.cardPresent) return;
    await sleep(100);
  }
  throw new Error(`${reader} still holds a card`);
}

/** One round of the reference's loop and the served card's, the first to run alternating by round. */
async function apduRound(round: number, reference: () => Promise<LoopFigures>, served: () => Promise<LoopFigures>): Promise<[LoopFigures, LoopFigures]> {
  if (round % 2 === 0) {
    const r = await reference();
    return [r, await served()];
  }
  const s = await served();
  return [await reference(), s];
}

export async function measureServedProcess(options: {
  image: CardImage;
  pin: string;
  /** Each loop's whole time, split into rounds of about half a second. */
  seconds: number;
  host: string;
  progress: (line: string) => void;
}): Promise<ServedProcessFigures> {
  const referenceReader = 'Virtual PCD 00 00';
  const servedReader = 'Virtual PCD 00 01';
  const binary = buildPcscLoop();
  const provider = new PcscReaderProvider();
  const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-bench-served-'));
  const children: ChildProcess[] = [];
  try {
    const names = (await provider.list()).map((r) => r.name);
    for (const reader of [referenceReader, servedReader]) {
      if (!names.includes(reader)) throw new Error(`pcscd has no reader '${reader}' (is vpcd installed and pcscd running?)`);
      await waitEmpty(provider, reader);
    }

    options.progress(`served card in its own process: the reference vicc on ${referenceReader}, jpki-hil card serve on ${servedReader}`);
    const vicc = spawn('python3', [kVicc, options.host, String(kVpcdPort), options.image.atr], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(vicc);
    await waitFor(vicc, /ready/, 'the reference vicc');
    const imagePath = join(dir, 'card.json');
    writeFileSync(imagePath, serializeCardImage(options.image), { mode: 0o600 });
    const serve = spawn(process.execPath, [join(kPackageRoot, 'bin', 'jpki-hil.js'), 'card', 'serve', '--card', imagePath, '--vpcd', options.host, '--slot', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(serve);
    await waitFor(serve, /card inserted/, 'card serve');

    // A warm-up, not counted: card serve's first APDUs run before V8 has compiled its path (the
    // compiler threads' CPU time would count against the card), and both readers settle.
    options.progress('served card in its own process: warm-up');
    await runLoop(binary, servedReader, 'apdu', 0.5, undefined);
    await runLoop(binary, servedReader, 'sign', 0.25, undefined, options.pin);
    await runLoop(binary, referenceReader, 'apdu', 0.25, undefined);

    // Rounds of about half a second each; the order of the reference and the served card alternates.
    const rounds = Math.max(2, Math.round(options.seconds * 2));
    const slice = options.seconds / rounds;
    const figures = { reference: [] as LoopFigures[], apdu: [] as LoopFigures[], sign: [] as LoopFigures[], selectSign: [] as LoopFigures[], openssl: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      options.progress(`served card in its own process: round ${round + 1} of ${rounds}`);
      const [reference, apdu] = await apduRound(round, () => runLoop(binary, referenceReader, 'apdu', slice, vicc.pid), () => runLoop(binary, servedReader, 'apdu', slice, serve.pid));
      figures.reference.push(reference);
      figures.apdu.push(apdu);
      figures.sign.push(await runLoop(binary, servedReader, 'sign', slice, serve.pid, options.pin));
      // openssl speed counts whole seconds: its shortest run.
      figures.openssl.push((await opensslSpeed({ seconds: 1 })).signPerSec);
      figures.selectSign.push(await runLoop(binary, servedReader, 'select-sign', slice, serve.pid, options.pin));
    }

    // The same comparison against the loop written as plain Node writes it, in the reference's slot:
    // what Node's event loop costs per APDU by itself, apart from the card's path.
    await stopChild(vicc);
    await waitEmpty(provider, referenceReader);
    const nodeVicc = spawn(process.execPath, [kNodeVicc, options.host, String(kVpcdPort), options.image.atr], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(nodeVicc);
    await waitFor(nodeVicc, /ready/, 'the reference vicc in Node');
    await runLoop(binary, referenceReader, 'apdu', 0.25, undefined);
    const besideNode = { reference: [] as LoopFigures[], apdu: [] as LoopFigures[] };
    for (let round = 0; round < rounds; round++) {
      options.progress(`served card in its own process: beside the reference vicc in Node, round ${round + 1} of ${rounds}`);
      const [reference, apdu] = await apduRound(round, () => runLoop(binary, referenceReader, 'apdu', slice, nodeVicc.pid), () => runLoop(binary, servedReader, 'apdu', slice, serve.pid));
      besideNode.reference.push(reference);
      besideNode.apdu.push(apdu);
    }
    return {
      nodeReference: combineRounds(besideNode.reference),
      servedApduBesideNode: combineRounds(besideNode.apdu),
      reference: combineRounds(figures.reference),
      servedApdu: combineRounds(figures.apdu),
      servedSign: combineRounds(figures.sign),
      servedSelectSign: combineRounds(figures.selectSign),
      opensslSignPerSec: figures.openssl.reduce((a, b) => a + b, 0) / figures.openssl.length,
      rounds,
    };
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    // The next measurement wants the slots empty: wait until pcscd has seen both cards go.
    for (const reader of [referenceReader, servedReader]) await waitEmpty(provider, reader).catch(() => undefined);
    await provider.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
