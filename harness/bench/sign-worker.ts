/**
 * One benchmark worker thread: its own copy of the card, one VERIFY, then signatures through the
 * card's APDU path for the time it is given. Started by bench.ts from the compiled dist/ file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CardImage } from '../../emulator/index.js';
import { channelForImage } from '../readers/in-process-channel.js';
import { signRate } from './apdu-loops.js';

export interface SignWorkerInput {
  image: CardImage;
  pin: string;
  seconds: number;
}

const input = workerData as SignWorkerInput;
const rate = await signRate(channelForImage(input.image), input.pin, { count: Number.MAX_SAFE_INTEGER, maxSeconds: input.seconds });
parentPort?.postMessage(rate);
