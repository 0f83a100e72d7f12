/**
 * The host side of the wire: what every kind of reader offers the harness (the JPKI client, the PC
 * agent, the runner), whether the card is the in-process emulator, a card served through pcscd and
 * vpcd, or a real card in a real reader. The shape follows PC/SC — a reader has a card or not, and a
 * connection to that card carries APDUs until the card is removed — so that code written against the
 * emulator behaves the same against hardware.
 */
import type { EventEmitter } from 'node:events';
import type { ApduChannel } from '../../iso7816/apdu-channel.js';

/**
 * Why a reader operation failed. The runner classifies lab problems by these codes (design rule 9),
 * so each one means one thing a person can act on.
 */
export type ReaderErrorCode =
  /** The reader does not exist, was unplugged, or was closed. */
  | 'NO_READER'
  /** There is no card in the reader (or it does not answer). */
  | 'NO_CARD'
  /** The card was taken out after the connection was made; connect again once it is back. */
  | 'CARD_REMOVED'
  /** Nothing happened within the time allowed (e.g. no card was inserted). */
  | 'TIMEOUT'
  /** The PC/SC stack is missing: no binding, or pcscd is not running. */
  | 'PCSC_UNAVAILABLE'
  /** The exchange with the card failed for another reason (reset by another program, comm error). */
  | 'TRANSMIT_FAILED'
  /**
   * The device refused or failed the exchange as its profile says it does (too long for it, an AID
   * it may not select, slower than its timeout): in a certification run, the device's own failure.
   */
  | 'DEVICE_LIMIT';

export class ReaderError extends Error {
  /** A fault a device profile injected on purpose (a field drop, a card moved), not the lab's trouble. */
  readonly injected: boolean;

  constructor(
    readonly code: ReaderErrorCode,
    message: string,
    options?: { cause?: unknown; injected?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ReaderError';
    this.injected = options?.injected ?? false;
  }
}

/**
 * What happens to the card when a connection ends, as SCardDisconnect's dispositions: leave it as it
 * is (an AP stays selected and PINs stay verified), warm-reset it, or power it down.
 */
export type Disposition = 'leave' | 'reset' | 'unpower';

/** One open connection to the card in a reader; it dies with the card (removal ends it for good). */
export interface CardConnection extends ApduChannel {
  readonly atr: Uint8Array;
  readonly readerName: string;
  /** Ends the connection; the default is 'reset' so that no verified PIN outlives the session. */
  disconnect(disposition?: Disposition): Promise<void>;
}

export interface ReaderEvents {
  inserted: [atr: Uint8Array];
  removed: [];
}

export interface Reader extends EventEmitter<ReaderEvents> {
  readonly name: string;
  /** 'emulator' or 'pcsc' here; wrappers (profile shims, fault injection) name their own kinds. */
  readonly kind: 'emulator' | 'pcsc' | string;
  cardPresent(): boolean;
  /** The ATR of the card in the reader, undefined when there is none. */
  atr(): Uint8Array | undefined;
  /** Resolves with the ATR as soon as a card is in the reader; rejects with TIMEOUT after `timeoutMs`. */
  waitForCard(timeoutMs: number): Promise<Uint8Array>;
  connect(): Promise<CardConnection>;
  close(): Promise<void>;
}

export interface ReaderListing {
  name: string;
  cardPresent: boolean;
  /** Upper-case hex, present only when a card is. */
  atr?: string;
}

export interface ReaderProvider {
  list(): Promise<ReaderListing[]>;
  /** Opens the named reader, or without a name the first reader holding a card (else the first reader). */
  open(name?: string): Promise<Reader>;
  close(): Promise<void>;
}

/** Picks a reader by exact name, else by a unique case-insensitive part of it ("00 01", "acr"). */
export function matchReaderName(wanted: string, names: readonly string[]): string | undefined {
  if (names.includes(wanted)) return wanted;
  const lower = wanted.toLowerCase();
  const partial = names.filter((n) => n.toLowerCase().includes(lower));
  return partial.length === 1 ? partial[0] : undefined;
}

/** The NO_READER error for a name that matched nothing, listing what there is. */
export function unknownReaderError(wanted: string, names: readonly string[], hint: string): ReaderError {
  const known = names.length > 0 ? `the readers are: ${names.map((n) => `"${n}"`).join(', ')}` : `there are no readers (${hint})`;
  return new ReaderError('NO_READER', `no reader named "${wanted}" (or uniquely containing it); ${known}`);
}

/**
 * The shared body of waitForCard: resolves at once when a card is in, else on the next `inserted`;
 * rejects with a TIMEOUT that says what to do, or with NO_READER when `closed` fires first (the
 * reader was closed or unplugged while someone waited on it).
 */
export function waitForInsertion(reader: Reader, timeoutMs: number, howToInsert: string, closed?: AbortSignal): Promise<Uint8Array> {
  const atr = reader.atr();
  if (reader.cardPresent() && atr) return Promise.resolve(atr);
  if (closed?.aborted) return Promise.reject(new ReaderError('NO_READER', `reader "${reader.name}" is closed; open it again`));
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      reader.off('inserted', onInserted);
      closed?.removeEventListener('abort', onClosed);
    };
    const onInserted = (inserted: Uint8Array): void => {
      finish();
      resolve(inserted);
    };
    const onClosed = (): void => {
      finish();
      reject(new ReaderError('NO_READER', `reader "${reader.name}" was closed while waiting for a card`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new ReaderError('TIMEOUT', `no card was inserted into reader "${reader.name}" within ${timeoutMs} ms; ${howToInsert}`));
    }, timeoutMs);
    reader.on('inserted', onInserted);
    closed?.addEventListener('abort', onClosed, { once: true });
  });
}
