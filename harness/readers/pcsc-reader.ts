/**
 * Readers through PC/SC (the `pcsclite` binding → libpcsclite → pcscd): the virtual reader that a
 * served card sits in, or a real USB reader with a real card. Same Reader interface as the
 * in-process emulator, so a scenario runs unchanged on either.
 *
 * What the binding does and what we do about it (pcsclite 1.0.1):
 * - It is an optional dependency with a native part, so it is loaded on first use, with an error
 *   that says how to build it.
 * - Each reader has one status thread and one SCARDHANDLE. Connections made through a Reader share
 *   that handle (the card state is shared between handles in PC/SC's shared mode anyway); a reset or
 *   power-down through one connection ends the others, as SCARD_W_RESET_CARD would.
 * - The binding delivers status changes through a single coalescing async slot, so a quick
 *   remove-and-insert can arrive as one "present" status. pcsc-lite counts card events in the high
 *   16 bits of the state, and that counter is how such a swap is still seen as removed + inserted.
 * - `connect` on a handle the binding still thinks is open calls back with no protocol at all, and a
 *   removed card leaves such a handle behind: a dead handle is always released before a new connect.
 * - A card removed while pcscd waits for its answer (through vpcd) makes SCardTransmit succeed with
 *   zero bytes; a response without a status word is therefore checked against the card's presence.
 * - An empty reader list emits no event at all, so the end of the first listing is learnt by
 *   wrapping the instance's `start`, which the binding calls on the next tick.
 * - After `close()` the binding still emits "Command cancelled" errors from its threads; the error
 *   listeners stay attached for good, or Node would throw them.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type pcsclite from 'pcsclite';
import { nativeModuleAdvice } from '../package-root.js';
import { equalBytes, toHex, type Bytes } from '../../iso7816/bytes.js';
import {
  matchReaderName,
  ReaderError,
  unknownReaderError,
  waitForInsertion,
  type CardConnection,
  type Disposition,
  type Reader,
  type ReaderEvents,
  type ReaderListing,
  type ReaderProvider,
} from './reader.js';

type Binding = typeof pcsclite;
type NativeReader = pcsclite.CardReader;

/** The receive buffer: the longest R-APDU ISO 7816-4 allows (65536 data bytes + SW1 SW2). */
export const kMaxResponseLength = 65536 + 2;

/** PC/SC return codes the binding reports as "... (0x801000xx)" at the end of its messages. */
const kScard = {
  E_INVALID_HANDLE: 0x80100003,
  E_UNKNOWN_READER: 0x80100009,
  E_SHARING_VIOLATION: 0x8010000b,
  E_NO_SMARTCARD: 0x8010000c,
  E_READER_UNAVAILABLE: 0x80100017,
  E_NO_SERVICE: 0x8010001d,
  E_SERVICE_STOPPED: 0x8010001e,
  W_UNRESPONSIVE_CARD: 0x80100066,
  W_UNPOWERED_CARD: 0x80100067,
  W_RESET_CARD: 0x80100068,
  W_REMOVED_CARD: 0x80100069,
} as const;

/** pcscd polls for presence every 400 ms: a few polls settle whether a card is still there. */
const kRemovalSettleMs = 1500;

const kSetupHint = nativeModuleAdvice('pcsclite');

function scardCode(error: Error): number | undefined {
  const m = /\(0x([0-9a-f]{8})\)\s*$/i.exec(error.message);
  return m ? parseInt(m[1]!, 16) : undefined;
}

function loadBinding(): Binding {
  try {
    return createRequire(import.meta.url)('pcsclite') as Binding;
  } catch (e) {
    const reason = String((e as Error).message).split('\n')[0];
    throw new ReaderError('PCSC_UNAVAILABLE', `the PC/SC binding (npm package "pcsclite", an optional dependency) is not installed or not built: ${kSetupHint} (${reason})`, {
      cause: e,
    });
  }
}

/** The reader-independent meanings of a PC/SC failure; undefined when it depends on the operation. */
function commonError(readerName: string, error: Error): ReaderError | undefined {
  const code = scardCode(error);
  if (code === kScard.E_NO_SERVICE || code === kScard.E_SERVICE_STOPPED) {
    return new ReaderError('PCSC_UNAVAILABLE', `pcscd went away while using reader "${readerName}" (${error.message}); start it again (${kSetupHint}) and reopen the reader`, { cause: error });
  }
  if (code === kScard.E_READER_UNAVAILABLE || code === kScard.E_UNKNOWN_READER) {
    return new ReaderError('NO_READER', `reader "${readerName}" is no longer available (${error.message}); plug it in again and reopen it`, { cause: error });
  }
  return undefined;
}

/**
 * One reader as the binding reports it: turns its status changes into `inserted` / `removed`,
 * survives the reader being unplugged and plugged in again (a new native object, same name).
 */
class ReaderWatch extends EventEmitter<ReaderEvents & { gone: [] }> {
  /** @internal The binding's object; its types come from an optional dependency, so they stay out of the declarations. */
  native: NativeReader | undefined;
  present = false;
  atr: Bytes = new Uint8Array(0);
  /** Set when the reader disappears (unplugged, pcscd stopped); cleared when it comes back. */
  gone = false;
  private _counter: number | undefined;
  private readonly _firstStatus: Promise<void>;
  private _gotFirstStatus!: () => void;
  private _seenStatus = false;

  constructor(readonly name: string) {
    super();
    this._firstStatus = new Promise((resolve) => (this._gotFirstStatus = resolve));
  }

  /** @internal */
  attach(native: NativeReader): void {
    this.native = native;
    this.gone = false;
    // The counter of a new native reader (or a restarted pcscd) starts afresh: compare presence only.
    this._counter = undefined;
    native.on('status', (status) => {
      if (this.native === native) this._onStatus(native, status);
    });
    native.on('error', () => {
      // A failed status thread ends with `end`, which is what we act on; the message is in pcscd's log.
    });
    native.on('end', () => {
      if (this.native === native) this._onGone();
    });
  }

  /** Resolves after the first status of the reader, or after `timeoutMs` (its state then stays "no card"). */
  firstStatus(timeoutMs: number): Promise<void> {
    return Promise.race([this._firstStatus, new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  private _onStatus(native: NativeReader, status: pcsclite.Status): void {
    const state = status.state;
    const present = (state & native.SCARD_STATE_PRESENT) !== 0 && (state & native.SCARD_STATE_MUTE) === 0;
    const atr = present && status.atr ? Uint8Array.from(status.atr) : new Uint8Array(0);
    const counter = state >>> 16;
    // Two or more card events since the last status we saw, card present before and after: it was
    // taken out and put back (or swapped) faster than the binding reported.
    const swapped =
      this.present && present && ((this._counter !== undefined && ((counter - this._counter) & 0xffff) >= 2) || !equalBytes(atr, this.atr));
    const wasPresent = this.present;
    this._counter = counter;
    this.present = present;
    this.atr = atr;
    if (!this._seenStatus) {
      // The state the reader is in when we start watching is not an event.
      this._seenStatus = true;
      this._gotFirstStatus();
      return;
    }
    if (wasPresent && (!present || swapped)) this.emit('removed');
    if (present && (!wasPresent || swapped)) this.emit('inserted', atr);
  }

  private _onGone(): void {
    this.native = undefined;
    this.gone = true;
    const wasPresent = this.present;
    this.present = false;
    this.atr = new Uint8Array(0);
    this._seenStatus = true;
    this._gotFirstStatus();
    if (wasPresent) this.emit('removed');
    this.emit('gone');
  }
}

/** The binding's one SCARDHANDLE of a reader, shared by the connections made through it. */
interface SharedHandle {
  native: NativeReader;
  protocol: number;
  connections: Set<CardConnection>;
  /** Set once the handle is unusable; every later transmit rejects with it. */
  dead: ReaderError | undefined;
}

export class PcscReader extends EventEmitter<ReaderEvents> implements Reader {
  readonly kind = 'pcsc';
  private _handle: SharedHandle | undefined;
  /** Every native call of this reader goes through here, in order: the binding runs them on a thread pool. */
  private _queue: Promise<unknown> = Promise.resolve();
  private readonly _closed = new AbortController();
  private readonly _forward = {
    inserted: (atr: Uint8Array) => this.emit('inserted', atr),
    removed: () => {
      this._killHandle(new ReaderError('CARD_REMOVED', `the card was removed from reader "${this.name}" during the session; insert it and connect again`));
      this.emit('removed');
    },
    gone: () => this._killHandle(new ReaderError('NO_READER', `reader "${this.name}" disappeared (unplugged, or pcscd stopped); plug it in and reopen it`)),
  };

  /** Made by PcscReaderProvider.open. */
  constructor(
    private readonly _watch: ReaderWatch,
    private readonly _onClose: (reader: PcscReader) => void,
  ) {
    super();
    _watch.on('inserted', this._forward.inserted);
    _watch.on('removed', this._forward.removed);
    _watch.on('gone', this._forward.gone);
  }

  get name(): string {
    return this._watch.name;
  }

  get closed(): boolean {
    return this._closed.signal.aborted;
  }

  cardPresent(): boolean {
    return this._watch.present;
  }

  atr(): Uint8Array | undefined {
    return this._watch.present ? this._watch.atr : undefined;
  }

  waitForCard(timeoutMs: number): Promise<Uint8Array> {
    return waitForInsertion(this, timeoutMs, 'insert a card (or serve one: jpki-hil card serve --card <card.json> --slot <n>)', this._closed.signal);
  }

  async connect(): Promise<CardConnection> {
    if (this.closed) throw new ReaderError('NO_READER', `reader "${this.name}" is closed; open it again`);
    const native = this._watch.native;
    if (!native || this._watch.gone) throw new ReaderError('NO_READER', `reader "${this.name}" is no longer there (unplugged, or pcscd restarted); plug it in and reopen it`);
    // Decided in the queue, so that two connects at once share one handle instead of racing for it.
    const handle = await this._serial(() => {
      const live = this._handle;
      return live && !live.dead && live.native === native ? Promise.resolve(live) : this._open(native);
    });
    if (!this._watch.present) await this._settlePresence();
    return this._connection(handle, this._watch.atr.slice());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this._closed.abort();
    this._watch.off('inserted', this._forward.inserted);
    this._watch.off('removed', this._forward.removed);
    this._watch.off('gone', this._forward.gone);
    const live = this._handle !== undefined;
    this._killHandle(new ReaderError('NO_READER', `reader "${this.name}" was closed; open it again and reconnect`));
    // Reset rather than leave a live card: no PIN verified by this process stays verified for the next.
    const native = this._watch.native;
    if (native) await this._serial(() => (native.connected ? this._release(native, live ? 'reset' : 'leave') : Promise.resolve())).catch(() => undefined);
    this._onClose(this);
  }

  private _connection(handle: SharedHandle, atr: Uint8Array): CardConnection {
    let open = true;
    const connection: CardConnection = {
      atr,
      readerName: this.name,
      transmit: (command) => {
        if (!open) return Promise.reject(new ReaderError('TRANSMIT_FAILED', `this connection to reader "${this.name}" was disconnected; connect again`));
        return this._transmit(handle, command);
      },
      disconnect: (disposition: Disposition = 'reset') => {
        if (!open) return Promise.resolve();
        open = false;
        return this._disconnect(connection, handle, disposition);
      },
    };
    handle.connections.add(connection);
    return connection;
  }

  /** Sends one APDU on behalf of a connection, in order with everything else on this reader. */
  private _transmit(handle: SharedHandle, command: Uint8Array): Promise<Uint8Array> {
    return this._serial(async () => {
      if (handle.dead) throw handle.dead;
      let failure: { error: ReaderError; explained: boolean };
      try {
        const response = await new Promise<Buffer>((resolve, reject) =>
          handle.native.transmit(Buffer.from(command), kMaxResponseLength, handle.protocol, (e, data) => (e ? reject(e) : resolve(data))),
        );
        if (response.length >= 2) return Uint8Array.from(response);
        const error = new ReaderError('TRANSMIT_FAILED', `the card in reader "${this.name}" answered ${response.length} bytes, not a response APDU; connect again`);
        failure = { error, explained: false };
      } catch (e) {
        failure = this._transmitError(e as Error);
      }
      let error = failure.error;
      // pcscd with vpcd answers a command cut short by the card's removal with success and no bytes,
      // real readers with a communication error, and pcscd sees the removal only at its next poll:
      // so an unexplained failure waits a few polls to learn whether the card is still there.
      if (!failure.explained && (await this._removedWithin(kRemovalSettleMs))) {
        error = new ReaderError('CARD_REMOVED', `the card was removed from reader "${this.name}" during the exchange; insert it and connect again`, { cause: error });
      }
      // A removed or reset card, a vanished reader or pcscd: this handle will never work again.
      if (failure.explained || error.code === 'CARD_REMOVED') {
        handle.dead ??= error;
        if (this._handle === handle) this._handle = undefined;
        await this._release(handle.native, 'leave').catch(() => undefined);
      }
      throw error;
    });
  }

  /** Ends a connection; a reset or power-down ends the shared handle, and with it the other connections. */
  private _disconnect(connection: CardConnection, handle: SharedHandle, disposition: Disposition): Promise<void> {
    handle.connections.delete(connection);
    if (handle.dead) return Promise.resolve();
    if (disposition === 'leave' && handle.connections.size > 0) return Promise.resolve();
    this._killHandle(new ReaderError('TRANSMIT_FAILED', `the card in reader "${this.name}" was reset or powered down by another connection; connect again`));
    return this._serial(() => this._release(handle.native, disposition));
  }

  private async _open(native: NativeReader): Promise<SharedHandle> {
    // A handle the binding still holds (its card was removed, or it was reset) blocks a new connect.
    if (native.connected) await this._release(native, 'leave').catch(() => undefined);
    const protocol = await new Promise<number | undefined>((resolve, reject) =>
      native.connect({ share_mode: native.SCARD_SHARE_SHARED, protocol: native.SCARD_PROTOCOL_T0 | native.SCARD_PROTOCOL_T1 }, (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    ).catch((e: Error) => {
      throw this._connectError(e);
    });
    if (protocol === undefined) {
      throw new ReaderError('TRANSMIT_FAILED', `the PC/SC binding kept a stale handle on reader "${this.name}" and would not connect; reopen the reader`);
    }
    const handle: SharedHandle = { native, protocol, connections: new Set(), dead: undefined };
    this._handle = handle;
    return handle;
  }

  private _release(native: NativeReader, disposition: Disposition): Promise<void> {
    const value = { leave: native.SCARD_LEAVE_CARD, reset: native.SCARD_RESET_CARD, unpower: native.SCARD_UNPOWER_CARD }[disposition];
    return new Promise<void>((resolve, reject) => native.disconnect(value, (error) => (error ? reject(error) : resolve()))).catch((e: Error) => {
      const code = scardCode(e);
      // The card or the handle is already gone: there is nothing left to release.
      if (code === kScard.W_REMOVED_CARD || code === kScard.E_NO_SMARTCARD || code === kScard.E_INVALID_HANDLE) return;
      throw commonError(this.name, e) ?? new ReaderError('TRANSMIT_FAILED', `disconnecting from reader "${this.name}" failed (${e.message})`, { cause: e });
    });
  }

  private _killHandle(reason: ReaderError): void {
    const handle = this._handle;
    if (!handle) return;
    handle.dead ??= reason;
    this._handle = undefined;
  }

  /**
   * The status thread may report an insertion a moment after pcscd let us connect; the ATR comes from
   * that status, so wait for it (briefly — connect already proved the card is there).
   */
  private _settlePresence(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this._watch.off('inserted', done);
        resolve();
      };
      const timer = setTimeout(done, 1000);
      this._watch.on('inserted', done);
    });
  }

  private _serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this._queue.then(work, work);
    this._queue = next.catch(() => undefined);
    return next;
  }

  private _connectError(error: Error): ReaderError {
    const code = scardCode(error);
    if (code === kScard.E_NO_SMARTCARD || code === kScard.W_REMOVED_CARD) {
      return new ReaderError('NO_CARD', `no card in reader "${this.name}"; insert one (or serve one: jpki-hil card serve --card <card.json>)`, { cause: error });
    }
    if (code === kScard.W_UNRESPONSIVE_CARD || code === kScard.W_UNPOWERED_CARD) {
      return new ReaderError('NO_CARD', `the card in reader "${this.name}" does not answer (${error.message}); take it out and insert it again`, { cause: error });
    }
    if (code === kScard.E_SHARING_VIOLATION) {
      return new ReaderError('TRANSMIT_FAILED', `another program holds the card in reader "${this.name}" exclusively (${error.message}); close that program and try again`, {
        cause: error,
      });
    }
    return commonError(this.name, error) ?? new ReaderError('TRANSMIT_FAILED', `connecting to the card in reader "${this.name}" failed (${error.message})`, { cause: error });
  }

  /** What a failed SCardTransmit means; `explained` when the code alone says what happened. */
  private _transmitError(error: Error): { error: ReaderError; explained: boolean } {
    const code = scardCode(error);
    if (code === kScard.W_REMOVED_CARD || code === kScard.E_NO_SMARTCARD) {
      const removed = new ReaderError('CARD_REMOVED', `the card was removed from reader "${this.name}" during the exchange; insert it and connect again`, { cause: error });
      return { error: removed, explained: true };
    }
    if (code === kScard.W_RESET_CARD) {
      const reset = new ReaderError('TRANSMIT_FAILED', `the card in reader "${this.name}" was reset by another program; connect again (the session state is lost)`, { cause: error });
      return { error: reset, explained: true };
    }
    const common = commonError(this.name, error);
    if (common) return { error: common, explained: true };
    return { error: new ReaderError('TRANSMIT_FAILED', `the exchange with the card in reader "${this.name}" failed (${error.message})`, { cause: error }), explained: false };
  }

  /** True when the card is out now or goes out within `ms` (pcscd notices a removal at its next poll). */
  private _removedWithin(ms: number): Promise<boolean> {
    if (!this._watch.present) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (removed: boolean): void => {
        clearTimeout(timer);
        this._watch.off('removed', onRemoved);
        resolve(removed);
      };
      const onRemoved = (): void => done(true);
      const timer = setTimeout(() => done(false), ms);
      this._watch.on('removed', onRemoved);
    });
  }
}

export interface PcscReaderProviderOptions {
  /** How long to wait for the binding's first reader list and for each reader's first status. */
  settleMs?: number;
}

/**
 * Every reader pcscd knows. The binding starts on the first list() or open(), so that making a
 * provider never fails; close() stops its threads so that the process (or a test) can exit.
 */
export class PcscReaderProvider implements ReaderProvider {
  private _binding: pcsclite.PCSCLite | undefined;
  private _ready: Promise<void> | undefined;
  private _failure: ReaderError | undefined;
  private _closed = false;
  private readonly _watches = new Map<string, ReaderWatch>();
  private readonly _open = new Map<string, PcscReader>();
  private readonly _settleMs: number;

  constructor(options: PcscReaderProviderOptions = {}) {
    this._settleMs = options.settleMs ?? 2000;
  }

  async list(): Promise<ReaderListing[]> {
    await this._start();
    return this._present().map((w) => (w.present ? { name: w.name, cardPresent: true, atr: toHex(w.atr) } : { name: w.name, cardPresent: false }));
  }

  async open(name?: string): Promise<Reader> {
    await this._start();
    const watches = this._present();
    const names = watches.map((w) => w.name);
    let watch: ReaderWatch | undefined;
    if (name !== undefined) {
      const match = matchReaderName(name, names);
      if (match === undefined) throw unknownReaderError(name, names, 'plug one in, or check that pcscd has the vpcd driver: bash scripts/pcsc-setup.sh');
      watch = this._watches.get(match);
    } else {
      watch = watches.find((w) => w.present) ?? watches[0];
      if (!watch) throw new ReaderError('NO_READER', 'pcscd knows no readers; plug one in, or check that pcscd has the vpcd driver (bash scripts/pcsc-setup.sh)');
    }
    const existing = this._open.get(watch!.name);
    if (existing) return existing;
    const reader = new PcscReader(watch!, (r) => {
      if (this._open.get(r.name) === r) this._open.delete(r.name);
    });
    this._open.set(reader.name, reader);
    return reader;
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    // Let the start finish first: stopping a status thread before it waits on pcscd can leave it running.
    await this._ready?.catch(() => undefined);
    for (const reader of [...this._open.values()]) await reader.close();
    const binding = this._binding;
    this._binding = undefined;
    if (!binding) return;
    for (const watch of this._watches.values()) watch.native?.close();
    binding.close();
  }

  private _present(): ReaderWatch[] {
    if (this._failure) throw this._failure;
    return [...this._watches.values()].filter((w) => !w.gone);
  }

  private _start(): Promise<void> {
    if (this._closed) return Promise.reject(new ReaderError('NO_READER', 'this PC/SC reader provider is closed; make a new one'));
    this._ready ??= this._begin();
    return this._ready;
  }

  private async _begin(): Promise<void> {
    const factory = loadBinding();
    let binding: pcsclite.PCSCLite;
    try {
      binding = factory();
    } catch (e) {
      throw new ReaderError('PCSC_UNAVAILABLE', `cannot reach pcscd (${(e as Error).message}); start it: bash scripts/pcsc-setup.sh`, { cause: e });
    }
    this._binding = binding;
    binding.on('error', (error) => {
      // After close() the binding reports its own cancellation as an error: not a failure.
      if (!this._closed) this._failure = new ReaderError('PCSC_UNAVAILABLE', `lost pcscd (${error.message}); start it again (bash scripts/pcsc-setup.sh) and reopen the readers`, { cause: error });
    });
    binding.on('reader', (native) => {
      const watch = this._watches.get(native.name) ?? new ReaderWatch(native.name);
      this._watches.set(native.name, watch);
      watch.attach(native);
    });
    // The factory lists the readers on the next tick through `start`; wrapping it tells us when the
    // first list is in (an empty one emits no event at all).
    const listed = new Promise<void>((resolve) => {
      const start = binding.start.bind(binding);
      binding.start = (callback) =>
        start((error, readers) => {
          callback(error, readers);
          resolve();
        });
    });
    await Promise.race([listed, new Promise((resolve) => setTimeout(resolve, this._settleMs).unref())]);
    await Promise.all([...this._watches.values()].map((w) => w.firstStatus(this._settleMs)));
    if (this._failure) throw this._failure;
  }
}
