/**
 * The two loops every bench path runs: APDU round trips (SELECT EF of the token, the cheapest
 * command) and JPKI signatures (80 2A with a SHA-256 DigestInfo on the auth key, selected once
 * after one VERIFY; the card keeps the key and the verified state across signatures) — over any
 * APDU channel, so that in-process and PC/SC figures are the same measurement as native/pcsc-loop.c's
 * mode "sign".
 */
import { createHash } from 'node:crypto';
import { encodeCommandApdu } from '../../iso7816/apdu.js';
import { concat, fromHex } from '../../iso7816/bytes.js';
import type { ApduChannel } from '../../iso7816/apdu-channel.js';
import { kSha256DigestInfoPrefix } from '../jpki/jpki-client.js';
import { percentile } from '../stats/percentile.js';

export interface Rate {
  count: number;
  seconds: number;
  perSec: number;
  medianMs: number;
  p95Ms: number;
}

const kSelectJpki = fromHex('00A4040C0AD392F000260100000001');
const kSelectToken = fromHex('00A4020C020006');
const kSelectAuthPin = fromHex('00A4020C020018');
const kSelectAuthKey = fromHex('00A4020C020017');

function sw(response: Uint8Array): number {
  return (response[response.length - 2]! << 8) | response[response.length - 1]!;
}

async function expectOk(channel: ApduChannel, command: Uint8Array, what: string): Promise<void> {
  const response = await channel.transmit(command);
  if (sw(response) !== 0x9000) throw new Error(`${what}: card answered ${sw(response).toString(16)}`);
}

/** Runs `step` until `count` runs or `maxSeconds` passed, whichever comes first. */
async function loop(step: () => Promise<void>, count: number, maxSeconds: number): Promise<Rate> {
  const times: number[] = [];
  const start = performance.now();
  const deadline = start + maxSeconds * 1000;
  while (times.length < count && performance.now() < deadline) {
    const t = performance.now();
    await step();
    times.push(performance.now() - t);
  }
  const seconds = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  return { count: times.length, seconds, perSec: times.length / seconds, medianMs: percentile(times, 50), p95Ms: percentile(times, 95) };
}

export async function apduRate(channel: ApduChannel, options: { count: number; maxSeconds: number }): Promise<Rate> {
  await expectOk(channel, kSelectJpki, 'SELECT JPKI AP');
  return loop(() => expectOk(channel, kSelectToken, 'SELECT EF 0006'), options.count, options.maxSeconds);
}

/**
 * Prepares a channel for signing (SELECT, one VERIFY, SELECT of the auth key) and returns one
 * signature's worth of work: 80 2A over a fresh DigestInfo.
 */
export async function prepareSigning(channel: ApduChannel, authPin: string): Promise<() => Promise<void>> {
  await expectOk(channel, kSelectJpki, 'SELECT JPKI AP');
  await expectOk(channel, kSelectAuthPin, 'SELECT auth PIN');
  await expectOk(channel, encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: Buffer.from(authPin, 'latin1') }), 'VERIFY');
  await expectOk(channel, kSelectAuthKey, 'SELECT auth key');
  let n = 0;
  return async () => {
    const digestInfo = concat(kSha256DigestInfoPrefix, createHash('sha256').update(`bench ${n++}`).digest());
    await expectOk(channel, encodeCommandApdu({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0x80, data: digestInfo, ne: 256 }), 'SIGN');
  };
}

export async function signRate(channel: ApduChannel, authPin: string, options: { count: number; maxSeconds: number }): Promise<Rate> {
  const step = await prepareSigning(channel, authPin);
  return loop(step, options.count, options.maxSeconds);
}

/** Milliseconds since the epoch with sub-millisecond resolution, comparable between threads. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Runs `step` from `startMs` until `endMs` (both epochMs(), shared by every thread of a measurement,
 * so that all of them count over the same window) and returns how many ran and when the last ended.
 */
export async function runInWindow(step: () => Promise<void>, startMs: number, endMs: number): Promise<{ count: number; lastEndMs: number }> {
  const wait = startMs - epochMs();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  let count = 0;
  let now = epochMs();
  while (now < endMs) {
    await step();
    count++;
    now = epochMs();
  }
  return { count, lastEndMs: now };
}
