/**
 * Whose fault a failure is (results.ts `FailureClassification`). Steps throw the three classes
 * below when they know; anything else is classified by what it is: reader and browser trouble is
 * the lab's, an assertion the page or card did not meet is the product's, and an error nobody
 * expected (a TypeError, a bad template) is ours — the harness's.
 */
import { PhoneError } from '../agents/phone/phone-http.js';
import { CardActionError } from '../agents/card-actions.js';
import { CardCommandError } from '../jpki/jpki-client.js';
import { ReaderError } from '../readers/reader.js';
import { harnessDefect, labProblem, productDefect, StepFailure } from '../fixtures/failure.js';
import type { Failure } from './results.js';

export { harnessDefect, labProblem, productDefect, StepFailure };

/** Reader codes that mean the lab's equipment, not the card's answers. */
const kLabReaderCodes = new Set(['NO_READER', 'PCSC_UNAVAILABLE', 'TIMEOUT', 'TRANSMIT_FAILED', 'CARD_REMOVED', 'NO_CARD']);

/** Messages of Playwright when the browser itself went away. */
const kBrowserGone = /Target page, context or browser has been closed|Browser has been closed|browser has disconnected|Target closed|crashed/i;

/**
 * What the device under a profile did on purpose — refused an exchange it cannot carry, or lost the
 * card by an injected fault — wherever it sits in the chain of causes. In a run through a profile
 * the device is what is being tested, so this is the product's failure, not the lab's.
 */
function deviceCaused(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof ReaderError && (e.code === 'DEVICE_LIMIT' || e.injected)) return true;
  }
  return false;
}

export function classify(e: unknown): Failure {
  const error = e instanceof Error ? e : new Error(String(e));
  const stack = error.stack;
  if (error instanceof StepFailure) return { classification: error.classification, message: error.message, stack };
  if (deviceCaused(error) && !(error instanceof CardActionError || error instanceof PhoneError)) return { classification: 'product', message: error instanceof ReaderError ? `${error.code}: ${error.message}` : error.message, stack };
  if (error instanceof ReaderError) {
    return { classification: kLabReaderCodes.has(error.code) && !error.injected ? 'lab' : 'product', message: `${error.code}: ${error.message}`, stack };
  }
  if (error instanceof CardActionError || error instanceof PhoneError) {
    const code = error.code;
    const lab = (kLabReaderCodes.has(code) || code === 'PORTAL_UNREACHABLE') && !deviceCaused(error);
    // The agents' messages are written for the person at the reader; the cause says what the device did.
    const cause = error.cause instanceof Error && !error.message.includes(error.cause.message) ? ` (${causeChain(error.cause)})` : '';
    return { classification: lab ? 'lab' : 'product', message: `${code}: ${error.message}${cause}`, stack };
  }
  // The card answered a status word its client did not expect: the card (or the device before it) is at fault.
  if (error instanceof CardCommandError) return { classification: 'product', message: error.message, stack };
  if (kBrowserGone.test(error.message)) return { classification: 'lab', message: `the browser went away: ${firstLine(error.message)}`, stack };
  if (error.name === 'TimeoutError') return { classification: 'product', message: firstLine(error.message), stack };
  return { classification: 'harness', message: `${error.name}: ${error.message}`, stack };
}

function causeChain(e: Error): string {
  const inner = e.cause instanceof Error ? `: ${causeChain(e.cause)}` : '';
  return `${e instanceof ReaderError ? `${e.code}: ` : ''}${e.message}${inner}`;
}

export function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}
