/**
 * A reader whose card is the emulator in this process: what CI uses, and what the PC/SC reader is
 * compared against. It behaves like a PC/SC reader rather than like a bare channel, so that code
 * written against it meets the same situations as on hardware: inserting powers the card on (cold
 * reset, ATR), removing powers it off, a connection dies with the card it was made to, and a reset
 * through one connection is noticed by the others.
 */
import { EventEmitter } from 'node:events';
import type { Card } from '../../emulator/index.js';
import { toHex, type Bytes } from '../../iso7816/bytes.js';
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

export class InProcessReader extends EventEmitter<ReaderEvents> implements Reader {
  readonly kind = 'emulator';
  private _card: Card | undefined;
  /** What a bare insert() puts back: the card taken out last. */
  private _lastCard: Card | undefined;
  private _atr: Bytes | undefined;
  /** Bumped on every insertion and removal: a connection made under another value has lost its card. */
  private _insertion = 0;
  /** Bumped on every reset and power-down: a connection made under another value finds the card reset. */
  private _session = 0;
  private readonly _closed = new AbortController();

  /** With a card, the reader starts with it inserted (and powered), firing no event: nobody can listen yet. */
  constructor(
    readonly name: string,
    card?: Card,
  ) {
    super();
    if (card) this._put(card);
  }

  /** The card in the reader, for tests and the control surface that need its state. */
  get card(): Card | undefined {
    return this._card;
  }

  get closed(): boolean {
    return this._closed.signal.aborted;
  }

  cardPresent(): boolean {
    return this._card !== undefined;
  }

  atr(): Uint8Array | undefined {
    return this._atr;
  }

  /** Puts a card in (by default the one removed last), powers it on and fires `inserted`; returns the ATR. */
  insert(card?: Card): Uint8Array {
    this._assertOpen();
    if (this._card) throw new Error(`reader "${this.name}" already holds a card; remove() it before inserting another`);
    const next = card ?? this._lastCard;
    if (!next) throw new Error(`insert() into reader "${this.name}" needs a card: none was inserted before`);
    const atr = this._put(next);
    this.emit('inserted', atr);
    return atr;
  }

  /** Takes the card out, powering it off, and fires `removed`; without a card it does nothing. */
  remove(): void {
    const card = this._card;
    if (!card) return;
    card.powerOff();
    this._lastCard = card;
    this._card = undefined;
    this._atr = undefined;
    this._insertion++;
    this._session++;
    this.emit('removed');
  }

  waitForCard(timeoutMs: number): Promise<Uint8Array> {
    return waitForInsertion(this, timeoutMs, 'insert one with reader.insert(card)', this._closed.signal);
  }

  connect(): Promise<CardConnection> {
    try {
      this._assertOpen();
      const card = this._card;
      const atr = this._atr;
      if (!card || !atr) throw new ReaderError('NO_CARD', `no card in reader "${this.name}"; insert one with reader.insert(card) first`);
      // After a power-down through a connection the card is still in: PC/SC powers it up again on connect.
      if (!card.powered) card.powerOn();
      return Promise.resolve(this._connection(card, atr));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  close(): Promise<void> {
    this._closed.abort();
    return Promise.resolve();
  }

  /** A connection bound to the card and power session it was made in, as a PC/SC handle is. */
  private _connection(card: Card, atr: Bytes): CardConnection {
    const insertion = this._insertion;
    const session = this._session;
    let open = true;
    return {
      atr,
      readerName: this.name,
      transmit: (command) => {
        if (!open) return Promise.reject(new ReaderError('TRANSMIT_FAILED', `this connection to reader "${this.name}" was disconnected; connect again`));
        const problem = this._problemFor(insertion, session);
        return problem ? Promise.reject(problem) : Promise.resolve(card.transmit(command));
      },
      disconnect: (disposition: Disposition = 'reset') => {
        if (!open) return Promise.resolve();
        open = false;
        // A connection whose card is gone (or was reset by another) has nothing left to act on.
        if (disposition !== 'leave' && this._problemFor(insertion, session) === undefined) {
          if (disposition === 'reset') card.reset();
          else card.powerOff();
          this._session++;
        }
        return Promise.resolve();
      },
    };
  }

  /** What keeps a connection made at (insertion, session) from using the card now, if anything. */
  private _problemFor(insertion: number, session: number): ReaderError | undefined {
    if (this.closed) return new ReaderError('NO_READER', `reader "${this.name}" is closed; open it again and reconnect`);
    if (insertion !== this._insertion) {
      return new ReaderError('CARD_REMOVED', `the card was removed from reader "${this.name}" during the session; insert it and connect again`);
    }
    if (session !== this._session) {
      return new ReaderError('TRANSMIT_FAILED', `the card in reader "${this.name}" was reset or powered down by another connection; connect again`);
    }
    return undefined;
  }

  private _put(card: Card): Bytes {
    const atr = card.powerOn();
    this._card = card;
    this._atr = atr;
    this._insertion++;
    this._session++;
    return atr;
  }

  private _assertOpen(): void {
    if (this.closed) throw new ReaderError('NO_READER', `reader "${this.name}" is closed; open it again`);
  }
}

/** A set of named in-process readers, so that code choosing a reader by name runs on the emulator too. */
export class InProcessReaderProvider implements ReaderProvider {
  private readonly _readers = new Map<string, InProcessReader>();

  /** Adds a reader, optionally with a card already in it. */
  add(name: string, card?: Card): InProcessReader {
    this._forgetClosed();
    if (this._readers.has(name)) throw new Error(`there is already an in-process reader named "${name}"`);
    const reader = new InProcessReader(name, card);
    this._readers.set(name, reader);
    return reader;
  }

  list(): Promise<ReaderListing[]> {
    this._forgetClosed();
    return Promise.resolve(
      [...this._readers.values()].map((r) => {
        const atr = r.atr();
        return atr ? { name: r.name, cardPresent: true, atr: toHex(atr) } : { name: r.name, cardPresent: false };
      }),
    );
  }

  open(name?: string): Promise<Reader> {
    this._forgetClosed();
    const names = [...this._readers.keys()];
    const readers = [...this._readers.values()];
    const hint = 'add one with provider.add(name, card)';
    let chosen: InProcessReader | undefined;
    if (name !== undefined) {
      const match = matchReaderName(name, names);
      if (match === undefined) return Promise.reject(unknownReaderError(name, names, hint));
      chosen = this._readers.get(match);
    } else {
      chosen = readers.find((r) => r.cardPresent()) ?? readers[0];
      if (!chosen) return Promise.reject(new ReaderError('NO_READER', `there are no in-process readers; ${hint}`));
    }
    return Promise.resolve(chosen!);
  }

  async close(): Promise<void> {
    for (const reader of this._readers.values()) await reader.close();
    this._readers.clear();
  }

  /** A reader closed by its user is gone from the provider, as an unplugged one would be. */
  private _forgetClosed(): void {
    for (const [name, reader] of this._readers) if (reader.closed) this._readers.delete(name);
  }
}
