/**
 * The NFC bridge's share of the benchmark: APDU round trips and signatures per second through
 * `jpki-hil card serve --nci` (its own process, the real serial stack) and a pty pair to the
 * controller simulator, which paces the line at the baud rate measured — what a USB serial bridge to
 * an NCI controller costs at 115200 and at 921600 baud. The served card is a copy of the bench's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serializeCardImage, type CardImage } from '../../emulator/index.js';
import { kPackageRoot } from '../package-root.js';
import { SimulatedNciController } from '../readers/nci-simulator/controller.js';
import { NciReader } from '../readers/nci-simulator/nci-reader.js';
import { kSocatInstallHint, openPtyPair, socatAvailable } from '../readers/nci-simulator/pty-pair.js';
import { apduRate, signRate, type Rate } from './apdu-loops.js';

/** The baud rates the bench measures: the common default, and the fastest common USB serial rate. */
export const kNciBenchBauds = [115_200, 921_600] as const;

/** Why the bridge cannot be measured here (socat or serialport missing), or undefined when it can. */
export async function nciBridgeUnavailable(): Promise<string | undefined> {
  if (!socatAvailable()) return `socat is not installed; ${kSocatInstallHint}`;
  try {
    await import('serialport');
  } catch {
    return 'the serialport package is not installed (npm install)';
  }
  return undefined;
}

export interface NciBridgeRates {
  baud: number;
  apdu: Rate;
  sign: Rate;
}

/**
 * Serves `image` through the bridge and measures each baud rate in turn (a fresh RF session each:
 * the reader drops the field between them). Throws with the serve process's output when the bridge
 * does not come up.
 */
export async function measureNciBridge(
  image: CardImage,
  pin: string,
  options: { seconds: number; bauds?: readonly number[]; progress?: (line: string) => void },
): Promise<NciBridgeRates[]> {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-nci-bench-'));
  const cardPath = join(dir, 'card.json');
  writeFileSync(cardPath, serializeCardImage(image));
  const pty = await openPtyPair({ dir });
  let serve: ChildProcess | undefined;
  let output = '';
  let controller: SimulatedNciController | undefined;
  try {
    controller = await SimulatedNciController.open({ path: pty.b, pty, responseTimeoutMs: 10_000 });
    serve = spawn(process.execPath, [join(kPackageRoot, 'bin', 'jpki-hil.js'), 'card', 'serve', '--card', cardPath, '--nci', pty.a], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer): void => {
      if (output.length < 16_384) output += d.toString();
    };
    serve.stdout?.on('data', keep);
    serve.stderr?.on('data', keep);
    const child = serve;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`card serve --nci exited with ${code}: ${output.trim().split('\n').slice(-3).join(' / ')}`))));
    exited.catch(() => undefined);
    try {
      await Promise.race([controller.waitForListening({ timeoutMs: 15_000 }), exited]);
    } catch (e) {
      throw new Error(`the bridge did not start listening: ${(e as Error).message}${output ? `\n${output.trim()}` : ''}`, { cause: e });
    }
    const reader = new NciReader(controller);
    const results: NciBridgeRates[] = [];
    for (const baud of options.bauds ?? kNciBenchBauds) {
      options.progress?.(`NCI bridge at ${baud} baud: APDU round trips and signatures (${options.seconds} s each)`);
      controller.setBaudRate(baud);
      const connection = await reader.connect();
      try {
        const apdu = await apduRate(connection, { count: 1_000_000, maxSeconds: options.seconds });
        const sign = await signRate(connection, pin, { count: 100_000, maxSeconds: options.seconds });
        results.push({ baud, apdu, sign });
      } finally {
        await connection.disconnect('unpower');
      }
    }
    await reader.close();
    if (controller.violations.length > 0) throw new Error(`the bridge broke the NCI protocol: ${controller.violations.join('; ')}`);
    return results;
  } finally {
    await controller?.close();
    if (serve && serve.exitCode === null && serve.signalCode === null) {
      const child = serve;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(3000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await pty.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
