/**
 * One exchange as traces, logs and reports keep it: the command with its PIN and password data
 * masked, the response data, the status word with its registry meaning, the card's own reason for
 * an error when the card side knows it, and how long it took. The served card (vpcd), the runner's
 * recording reader and every report use this one type.
 */
import { parseResponseApdu } from './apdu.js';
import { toHex } from './bytes.js';
import { maskCommand } from './secret-mask.js';
import { describeSw, swHex } from './status-words.js';

/** When a power cut tore the exchange: before the card acted on the command, or after. */
export type TearMoment = 'before' | 'after';

export interface ApduTrace {
  /** When the command was sent (ISO 8601). */
  time: string;
  /** The command in hex, PIN and password data masked (secret-mask.ts). */
  command: string;
  /** The response data in hex ('' when there was none). */
  response: string;
  /** The status word in hex ('' when the card did not answer). */
  sw: string;
  /** The status word's meaning from the registry, or why there was no answer. */
  meaning: string;
  /** Why the card answered an error, when it said (a CardError's detail; never on the wire). */
  detail?: string;
  durationMs: number;
  /** Set when a power cut tore this exchange. */
  torn?: TearMoment;
}

export interface TraceOptions {
  /** When the command was sent; now by default. */
  time?: string;
  /** Why there is no response (used when `response` is absent or too short). */
  noResponse?: string;
  detail?: string | undefined;
  torn?: TearMoment | undefined;
}

/** The trace of one exchange; `startedMs` is the performance.now() at which the command went out. */
export function traceExchange(command: Uint8Array, response: Uint8Array | undefined, startedMs: number, options: TraceOptions = {}): ApduTrace {
  const parsed = response && response.length >= 2 ? parseResponseApdu(response) : undefined;
  return {
    time: options.time ?? new Date().toISOString(),
    command: maskCommand(command),
    response: parsed ? toHex(parsed.data) : '',
    sw: parsed ? swHex(parsed.sw) : '',
    meaning: parsed ? describeSw(parsed.sw) : (options.noResponse ?? 'no response'),
    ...(options.detail ? { detail: options.detail } : {}),
    durationMs: Math.round((performance.now() - startedMs) * 1000) / 1000,
    ...(options.torn ? { torn: options.torn } : {}),
  };
}
