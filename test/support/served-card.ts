/**
 * Serves a card image through the real pcscd and vpcd for a test: runs the built
 * `jpki-hil card serve` as its own process and waits until pcscd sees the card.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kPackageRoot } from './cards.js';

export const kBin = join(kPackageRoot, 'bin', 'jpki-hil.js');

/** The reader name pcscd gives vpcd's slot. */
export const readerName = (slot: number): string => `Virtual PCD 00 0${slot}`;

export interface ServedFixture {
  process: ChildProcess;
  controlUrl: string;
  slot: number;
  reader: string;
  /** Everything the serve process printed so far. */
  output(): string;
  control(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function serveCard(cardPath: string, options: { slot?: number; trace?: string; extraArgs?: string[] } = {}): Promise<ServedFixture> {
  const slot = options.slot ?? 0;
  const args = [kBin, 'card', 'serve', '--card', cardPath, '--slot', String(slot), ...(options.trace ? ['--trace', options.trace] : []), ...(options.extraArgs ?? [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const ctlFile = `${cardPath}.ctl.json`;
  const deadline = Date.now() + 15_000;
  while (!output.includes('card inserted')) {
    if (child.exitCode !== null) throw new Error(`card serve exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`card serve did not reach vpcd within 15 s (is pcscd running? npm test starts it):\n${output}`);
    }
    await sleep(50);
  }
  const controlUrl = existsSync(ctlFile) ? (JSON.parse(readFileSync(ctlFile, 'utf8')) as { url: string }).url : '';
  const control = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${controlUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`control ${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  return { process: child, controlUrl, slot, reader: readerName(slot), output: () => output, control, stop };
}

/** Waits until `check` holds, polling; throws with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
