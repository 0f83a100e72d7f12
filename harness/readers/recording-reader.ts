/**
 * A Reader wrapper that sees every command and response on the way to the card, whoever sends
 * them (the PC agent, a phone app, the runner's own checks): it records the APDU trace for the
 * reports and lets the runner cut the power at a chosen command (tearing) on any reader it can
 * take the card out of. The wrapped reader does the work; events and card presence pass through.
 */
import { EventEmitter } from 'node:events';
import { answerDetail } from '../../emulator/index.js';
import { hexByte } from '../../iso7816/bytes.js';
import { traceExchange, type ApduTrace, type TearMoment } from '../../iso7816/apdu-trace.js';
import { ReaderError, type CardConnection, type Reader, type ReaderEvents } from './reader.js';

/** One exchange through the reader (iso7816/apdu-trace.ts). */
export type ApduTraceEntry = ApduTrace;

export type { TearMoment };

export interface TearRequest {
  ins: number;
  when: TearMoment;
}

export interface RecordingReaderOptions {
  /** Called with every exchange, in order. */
  onApdu?: (entry: ApduTraceEntry) => void;
  /** Takes the card out (a power cut): what a tear does once its command comes. */
  cutPower?: () => Promise<void> | void;
  /**
   * Why the card gave an answer, when the reader's bytes lost it (a card served through pcscd in
   * this process). Answers that come straight from an in-process card carry it already.
   */
  explain?: (command: Uint8Array, response: Uint8Array) => string | undefined;
}

export class RecordingReader extends EventEmitter<ReaderEvents> implements Reader {
  readonly name: string;
  readonly kind: string;
  private _tear: TearRequest | undefined;
  private readonly _forwardInserted = (atr: Uint8Array): void => void this.emit('inserted', atr);
  private readonly _forwardRemoved = (): void => void this.emit('removed');

  constructor(
    readonly inner: Reader,
    private readonly _options: RecordingReaderOptions = {},
  ) {
    super();
    this.name = inner.name;
    this.kind = inner.kind;
    inner.on('inserted', this._forwardInserted);
    inner.on('removed', this._forwardRemoved);
  }

  /** Arms a one-shot power cut at the next command with this INS (undefined disarms). */
  armTear(request: TearRequest | undefined): void {
    if (request && !this._options.cutPower) throw new Error(`reader "${this.name}" cannot cut the card's power: tearing needs a card the harness serves`);
    this._tear = request;
  }

  get pendingTear(): TearRequest | undefined {
    return this._tear;
  }

  cardPresent(): boolean {
    return this.inner.cardPresent();
  }

  atr(): Uint8Array | undefined {
    return this.inner.atr();
  }

  waitForCard(timeoutMs: number): Promise<Uint8Array> {
    return this.inner.waitForCard(timeoutMs);
  }

  async connect(): Promise<CardConnection> {
    const connection = await this.inner.connect();
    return {
      atr: connection.atr,
      readerName: connection.readerName,
      disconnect: (disposition) => connection.disconnect(disposition),
      transmit: (command) => this._transmit(connection, command),
    };
  }

  close(): Promise<void> {
    this.inner.off('inserted', this._forwardInserted);
    this.inner.off('removed', this._forwardRemoved);
    return this.inner.close();
  }

  private async _transmit(connection: CardConnection, command: Uint8Array): Promise<Uint8Array> {
    const started = performance.now();
    const time = new Date().toISOString();
    const tear = this._tear && command[1] === this._tear.ins ? this._tear : undefined;
    if (tear) this._tear = undefined;
    const record = (response: Uint8Array | undefined, noResponse?: string): void => {
      const detail = response ? (answerDetail(response) ?? this._options.explain?.(command, response)) : undefined;
      this._options.onApdu?.(traceExchange(command, response, started, { time, detail, noResponse }));
    };
    if (tear?.when === 'before') {
      await this._options.cutPower?.();
      record(undefined, 'power cut before the card acted on the command (tear)');
      throw new ReaderError('CARD_REMOVED', `the card lost power at the command with INS ${hexByte(tear.ins)} (torn before it acted)`);
    }
    let response: Uint8Array;
    try {
      response = await connection.transmit(command);
    } catch (e) {
      record(undefined, `no response: ${(e as Error).message}`);
      throw e;
    }
    if (tear?.when === 'after') {
      await this._options.cutPower?.();
      record(undefined, 'power cut after the card acted on the command, before its answer (tear)');
      throw new ReaderError('CARD_REMOVED', `the card lost power at the command with INS ${hexByte(tear.ins)} (torn after it acted)`);
    }
    record(response);
    return response;
  }
}
