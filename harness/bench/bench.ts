/**
 * The signing-throughput benchmark: APDU round trips and signatures per second through the card's
 * APDU path in-process, and through pcscd and vpcd with and without the quickack round-trip fix,
 * next to `openssl speed rsa2048` measured in the same run.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CardImage } from '../../emulator/index.js';
import { kQuickackHost, quickackRouteActive } from '../readers/pcsc-environment.js';
import { issueThrowawayCard } from '../readers/throwaway-card.js';
import { withServedVpcdCard } from '../readers/vpcd-round-trip.js';
import { apduRate, signRate, type Rate } from './apdu-loops.js';
import { opensslSpeed } from './openssl-speed.js';
import type { SignWorkerInput } from './sign-worker.js';

export interface Figure {
  value: number | null;
  reason?: string;
}

export interface BenchResult {
  date: string;
  node: string;
  /** Worker threads (and openssl processes) of the multi figures: the machine's cores. */
  workers: number;
  openssl: { single: Figure; multi: Figure };
  inprocess: { apduPerSec: Figure; signPerSec: Figure; single: Figure; multi: Figure };
  pcsc: { apduPerSec: Figure; signPerSec: Figure; apduMedianMs: Figure };
  pcscWithoutFix: { apduPerSec: Figure; signPerSec: Figure; apduMedianMs: Figure };
}

export interface BenchOptions {
  /** Seconds each measurement may take at most. */
  seconds: number;
  /** Worker threads for the multi figures (default: the machine's cores). */
  workers: number;
  pcsc: boolean;
  progress: (line: string) => void;
}

/** Signatures per second of `workers` threads signing at once, each with its own copy of the card. */
async function workerSignRate(image: CardImage, pin: string, workers: number, seconds: number): Promise<number> {
  const script = new URL('./sign-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(script))) throw new Error(`${fileURLToPath(script)} is missing: build with npm run setup`);
  const rates = await Promise.all(
    Array.from(
      { length: workers },
      () =>
        new Promise<Rate>((resolve, reject) => {
          const worker = new Worker(script, { workerData: { image, pin, seconds } satisfies SignWorkerInput });
          worker.once('message', (rate: Rate) => resolve(rate));
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`a signing worker exited with ${code}`));
          });
        }),
    ),
  );
  return rates.reduce((sum, r) => sum + r.perSec, 0);
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

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const say = options.progress;
  say('issuing a card for the benchmark');
  const card = await issueThrowawayCard();
  const { image, authPin: pin } = card;
  try {
    const result: BenchResult = {
      date: new Date().toISOString(),
      node: process.versions.node,
      workers: options.workers,
      openssl: { single: missing('not measured'), multi: missing('not measured') },
      inprocess: { apduPerSec: missing('not measured'), signPerSec: missing('not measured'), single: missing('not measured'), multi: missing('not measured') },
      pcsc: { apduPerSec: missing('not measured'), signPerSec: missing('not measured'), apduMedianMs: missing('not measured') },
      pcscWithoutFix: { apduPerSec: missing('not measured'), signPerSec: missing('not measured'), apduMedianMs: missing('not measured') },
    };

    say(`openssl speed rsa2048 (${options.seconds} s)`);
    try {
      result.openssl.single = figure((await opensslSpeed({ seconds: options.seconds })).signPerSec);
    } catch (e) {
      result.openssl.single = missing(`openssl speed failed: ${(e as Error).message}`);
    }
    say(`openssl speed -multi ${options.workers} rsa2048 (${options.seconds} s)`);
    try {
      result.openssl.multi = figure((await opensslSpeed({ seconds: options.seconds, processes: options.workers })).signPerSec);
    } catch (e) {
      result.openssl.multi = missing(`openssl speed -multi failed: ${(e as Error).message}`);
    }

    say('in-process: APDU round trips and signatures');
    const channel = card.inProcess();
    result.inprocess.apduPerSec = figure((await apduRate(channel, { count: 200_000, maxSeconds: options.seconds })).perSec);
    result.inprocess.signPerSec = figure((await signRate(channel, pin, { count: 100_000, maxSeconds: options.seconds })).perSec);
    result.inprocess.single = result.inprocess.signPerSec;
    say(`in-process: signatures in ${options.workers} worker threads`);
    try {
      result.inprocess.multi = figure(await workerSignRate(image, pin, options.workers, options.seconds));
    } catch (e) {
      result.inprocess.multi = missing(`worker threads failed: ${(e as Error).message}`);
    }

    if (!options.pcsc) {
      const reason = 'skipped (--no-pcsc)';
      result.pcsc = { apduPerSec: missing(reason), signPerSec: missing(reason), apduMedianMs: missing(reason) };
      result.pcscWithoutFix = { ...result.pcsc };
      return result;
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
    say('through pcscd and vpcd, without the fix (every APDU stalls; a short sample)');
    try {
      const { apdu, sign } = await pcscFigures(image, pin, '127.0.0.1', options, true);
      result.pcscWithoutFix = { apduPerSec: figure(apdu.perSec), signPerSec: figure(sign.perSec), apduMedianMs: figure(apdu.medianMs) };
    } catch (e) {
      const reason = `PC/SC path unavailable: ${(e as Error).message}`;
      result.pcscWithoutFix = { apduPerSec: missing(reason), signPerSec: missing(reason), apduMedianMs: missing(reason) };
    }
    return result;
  } finally {
    card.cleanup();
  }
}

function show(f: Figure, unit = ''): string {
  return f.value === null ? `n/a (${f.reason})` : `${f.value.toLocaleString('en-US')}${unit}`;
}

function ratio(a: Figure, b: Figure): string {
  return a.value === null || b.value === null || b.value === 0 ? 'n/a' : `${(a.value / b.value).toFixed(2)}x`;
}

export function formatBench(r: BenchResult): string {
  const o = r.openssl.single;
  const rows: [string, string, string, string][] = [
    ['path', 'APDU/s', 'signatures/s', 'signatures ÷ openssl'],
    ['openssl speed rsa2048 (1 process)', '', show(o), '1.00x'],
    [`openssl speed rsa2048 (-multi ${r.workers})`, '', show(r.openssl.multi), ratio(r.openssl.multi, o)],
    ['in-process emulator', show(r.inprocess.apduPerSec), show(r.inprocess.signPerSec), ratio(r.inprocess.signPerSec, o)],
    [`in-process emulator, ${r.workers} worker threads`, '', show(r.inprocess.multi), ratio(r.inprocess.multi, o)],
    ['pcscd + vpcd, quickack route', show(r.pcsc.apduPerSec), show(r.pcsc.signPerSec), ratio(r.pcsc.signPerSec, o)],
    ['pcscd + vpcd, stock (no fix)', show(r.pcscWithoutFix.apduPerSec), show(r.pcscWithoutFix.signPerSec), ratio(r.pcscWithoutFix.signPerSec, o)],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  lines.push('', `median APDU round trip through pcscd: ${show(r.pcsc.apduMedianMs, ' ms')} with the fix, ${show(r.pcscWithoutFix.apduMedianMs, ' ms')} without`);
  lines.push(`${r.workers} worker threads ÷ openssl -multi ${r.workers}: ${ratio(r.inprocess.multi, r.openssl.multi)}`);
  return lines.join('\n');
}
