/**
 * One benchmark worker thread: its own copy of the card, one VERIFY and a few warm-up signatures,
 * then it reports ready and waits for the window that bench.ts gives every worker at once, so that
 * start-up (module loading, key import, compilation) is never counted and all workers overlap.
 * Started by bench.ts from the compiled dist/ file.
 */
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import type { CardImage } from '../../emulator/index.js';
import { channelForImage } from '../readers/in-process-channel.js';
import { prepareSigning, runInWindow } from './apdu-loops.js';

export interface SignWorkerInput {
  image: CardImage;
  pin: string;
  /** Signatures before reporting ready. */
  warmup: number;
}

/** Messages of the worker protocol: worker → bench `ready`, bench → worker `window`, worker → bench `done`. */
export type SignWorkerMessage =
  | { kind: 'ready' }
  | { kind: 'window'; startMs: number; endMs: number }
  | { kind: 'done'; count: number; lastEndMs: number };

const port = parentPort;
if (!port) throw new Error('sign-worker.js runs only as a worker thread');
const input = workerData as SignWorkerInput;
const step = await prepareSigning(channelForImage(input.image), input.pin);
for (let i = 0; i < input.warmup; i++) await step();
const windowMessage = once(port, 'message');
port.postMessage({ kind: 'ready' } satisfies SignWorkerMessage);
const [message] = (await windowMessage) as [SignWorkerMessage];
if (message.kind !== 'window') throw new Error(`sign-worker: expected a window, got ${message.kind}`);
const { count, lastEndMs } = await runInWindow(step, message.startMs, message.endMs);
port.postMessage({ kind: 'done', count, lastEndMs } satisfies SignWorkerMessage);
