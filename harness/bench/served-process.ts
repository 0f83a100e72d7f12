/**
 * The served card measured as users run it: `jpki-hil card serve` in its own process, a neutral
 * client in another (native/pcsc-loop.c on libpcsclite, built here), and in the same run, on the
 * same vpcd slot, the least a virtual card can be (native/min-vicc.py: ATR, then 9000 to every
 * APDU) as the reference for what pcscd, vpcd and the socket cost by themselves.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kVpcdPort, serializeCardImage, type CardImage } from '../../emulator/index.js';
import { kPackageRoot } from '../package-root.js';
import { PcscReaderProvider } from '../readers/pcsc-reader.js';

export interface LoopFigures {
  count: number;
  seconds: number;
  perSec: number;
  medianMs: number;
}

export interface ServedProcessFigures {
  /** APDU round trips of the reference vicc through pcscd and vpcd. */
  reference: LoopFigures;
  /** APDU round trips (SELECT EF) of `card serve` in its own process. */
  servedApdu: LoopFigures;
  /** Signatures (SELECT key + 80 2A) of `card serve` in its own process. */
  servedSign: LoopFigures;
}

const kSource = join(kPackageRoot, 'harness', 'bench', 'native', 'pcsc-loop.c');
const kVicc = join(kPackageRoot, 'harness', 'bench', 'native', 'min-vicc.py');

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

/** Runs the neutral client once; it connects when the card is there, so it retries for a while. */
async function runLoop(binary: string, reader: string, mode: 'apdu' | 'sign', seconds: number, pin?: string): Promise<LoopFigures> {
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
      return { count, seconds: secs, perSec: count / secs, medianMs: median };
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

export async function measureServedProcess(options: {
  image: CardImage;
  pin: string;
  seconds: number;
  host: string;
  slot?: number;
  progress: (line: string) => void;
}): Promise<ServedProcessFigures> {
  const slot = options.slot ?? 0;
  const reader = `Virtual PCD 00 0${slot}`;
  const binary = buildPcscLoop();
  const provider = new PcscReaderProvider();
  const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-bench-served-'));
  try {
    if (!(await provider.list()).some((r) => r.name === reader)) throw new Error(`pcscd has no reader '${reader}' (is vpcd installed and pcscd running?)`);
    await waitEmpty(provider, reader);

    options.progress(`served card in its own process: the reference vicc on ${reader}`);
    const vicc = spawn('python3', [kVicc, options.host, String(kVpcdPort + slot), options.image.atr], { stdio: ['ignore', 'pipe', 'pipe'] });
    let reference: LoopFigures;
    try {
      await waitFor(vicc, /ready/, 'the reference vicc');
      reference = await runLoop(binary, reader, 'apdu', options.seconds);
    } finally {
      await stopChild(vicc);
    }
    await waitEmpty(provider, reader);

    options.progress(`served card in its own process: jpki-hil card serve on ${reader}`);
    const imagePath = join(dir, 'card.json');
    writeFileSync(imagePath, serializeCardImage(options.image), { mode: 0o600 });
    const serve = spawn(process.execPath, [join(kPackageRoot, 'bin', 'jpki-hil.js'), 'card', 'serve', '--card', imagePath, '--vpcd', options.host, '--slot', String(slot)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await waitFor(serve, /card inserted/, 'card serve');
      const servedApdu = await runLoop(binary, reader, 'apdu', options.seconds);
      const servedSign = await runLoop(binary, reader, 'sign', options.seconds, options.pin);
      return { reference, servedApdu, servedSign };
    } finally {
      await stopChild(serve);
    }
  } finally {
    await provider.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
