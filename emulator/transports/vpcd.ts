/**
 * The virtual-card side of vsmartcard's vpcd protocol: pcscd's vpcd driver listens on TCP
 * (35963 for slot 0, +1 for slot 1) and we connect as the card. Every frame is a 2-byte
 * big-endian length and a payload; a 1-byte payload is a control byte (00 power off, 01 on,
 * 02 reset, 04 send ATR — also pcscd's presence poll every 400 ms), anything longer an APDU.
 * Connected = card inserted, closed = card removed.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExchangeResult, ServedCard } from './served-card.js';

export const kVpcdPort = 35963;

const kReadBuffer = 64 * 1024;
const kNoBytes = Buffer.alloc(0);

const CTRL = { OFF: 0x00, ON: 0x01, RESET: 0x02, ATR: 0x04 } as const;

export interface VpcdOptions {
  host: string;
  port: number;
  /** Pause between connection attempts while vpcd (pcscd) is not there. */
  retryMs?: number;
  log?: (line: string) => void;
}

export type VpcdState = 'connecting' | 'inserted' | 'removed' | 'stopped';

export interface VpcdEvents {
  state: [VpcdState];
}

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

export class VpcdConnection extends EventEmitter<VpcdEvents> {
  private _socket: Socket | undefined;
  private _state: VpcdState = 'removed';
  private _wantInserted = false;
  private _buffer: Buffer = kNoBytes;
  private _queue: Promise<void> = Promise.resolve();
  private _looping = false;
  private _reported = false;
  /** Messages waiting in `_queue`. */
  private _pending = 0;

  constructor(
    private readonly _card: ServedCard,
    private readonly _options: VpcdOptions,
  ) {
    super();
  }

  get state(): VpcdState {
    return this._state;
  }

  get address(): string {
    return `${this._options.host}:${this._options.port}`;
  }

  /** Inserts the card: connects, and keeps reconnecting when vpcd goes away (pcscd restart). */
  insert(): Promise<void> {
    this._wantInserted = true;
    // A running loop has not yet looked at _wantInserted again (it clears _looping in the same
    // turn as it stops), so it will pick the insertion up; otherwise start one.
    if (!this._looping) {
      this._looping = true;
      void this._keepConnected();
    }
    return this._waitFor('inserted');
  }

  /** Removes the card: closes the connection; pcscd sees "card removed". */
  remove(): void {
    this._wantInserted = false;
    this._drop('removed');
  }

  stop(): void {
    this._wantInserted = false;
    this._drop('stopped');
  }

  private _setState(state: VpcdState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state);
  }

  private _drop(state: VpcdState): void {
    const socket = this._socket;
    this._socket = undefined;
    this._buffer = kNoBytes;
    socket?.destroy();
    this._card.card.powerOff();
    this._setState(state);
  }

  private _waitFor(state: VpcdState): Promise<void> {
    if (this._state === state) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = (s: VpcdState): void => {
        if (s === state) {
          this.off('state', listener);
          resolve();
        }
      };
      this.on('state', listener);
    });
  }

  private async _keepConnected(): Promise<void> {
    const retry = this._options.retryMs ?? 250;
    try {
      while (this._wantInserted) {
        if (!this._socket) {
          this._setState('connecting');
          const ok = await this._connectOnce();
          if (!ok) {
            await sleep(retry);
            continue;
          }
        }
        await this._waitClosed();
        if (this._wantInserted) this._options.log?.(`vpcd at ${this.address} closed the connection; reconnecting`);
      }
    } finally {
      this._looping = false;
    }
  }

  private _connectOnce(): Promise<boolean> {
    return new Promise((resolve) => {
      // The kernel accepts the connection at once, but vpcd only takes it at pcscd's next poll:
      // the card is in the reader when the first message (the ATR poll) arrives.
      let slow: NodeJS.Timeout | undefined;
      let polled = false;
      const socket: Socket = connect(
        {
          port: this._options.port,
          host: this._options.host,
          // Reads land in one buffer for the life of the connection (no allocation per APDU);
          // _onData copies what it keeps.
          onread: {
            buffer: Buffer.allocUnsafe(kReadBuffer),
            callback: (n: number, buffer: Uint8Array): boolean => {
              if (!polled) {
                polled = true;
                clearTimeout(slow);
                if (this._socket === socket) this._setState('inserted');
              }
              this._onData(socket, buffer.subarray(0, n));
              return true;
            },
          },
        },
        () => {
          socket.off('error', fail);
          socket.setNoDelay(true);
          this._reported = false;
          this._socket = socket;
          // A fresh queue: an answer still delayed for the previous connection must not hold this one up.
          this._queue = Promise.resolve();
          this._pending = 0;
          slow = setTimeout(() => {
            this._options.log?.(`connected to ${this.address}, but vpcd has not polled the card for 3 s: is another card already in this slot?`);
          }, 3000);
          socket.once('close', () => clearTimeout(slow));
          socket.on('error', (e) => this._options.log?.(`vpcd connection error: ${e.message}`));
          resolve(true);
        },
      );
      const fail = (e: Error): void => {
        socket.destroy();
        if (!this._reported) {
          this._options.log?.(`cannot reach vpcd at ${this.address} (${e.message}); is pcscd running with the vpcd driver? retrying`);
          this._reported = true;
        }
        resolve(false);
      };
      socket.once('error', fail);
    });
  }

  private _waitClosed(): Promise<void> {
    const socket = this._socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => {
        if (this._socket === socket) {
          this._socket = undefined;
          this._buffer = kNoBytes;
          this._card.card.powerOff();
          if (this._wantInserted) this._setState('connecting');
        }
        resolve();
      });
    });
  }

  /** `chunk` is a view of the connection's read buffer, valid only during this call. */
  private _onData(socket: Socket, chunk: Uint8Array): void {
    let data = this._buffer.length === 0 ? chunk : Buffer.concat([this._buffer, chunk]);
    let offset = 0;
    while (data.length - offset >= 2) {
      // A tear (or stop) in an answer closed this connection: what follows it is not for the card.
      if (this._socket !== socket) return;
      const length = (data[offset]! << 8) | data[offset + 1]!;
      if (data.length - offset < 2 + length) break;
      // A copy: a queued message outlives the read buffer.
      const payload = new Uint8Array(data.subarray(offset + 2, offset + 2 + length));
      offset += 2 + length;
      // Nothing queued: answer now, in this turn of the event loop (the common case, and the fast one).
      if (this._pending === 0 && this._handleNow(socket, payload)) continue;
      // One message at a time, in order: a slow (latency-injected) APDU holds back what follows.
      this._pending++;
      this._queue = this._queue
        .then(() => this._handle(socket, payload))
        .catch((e: unknown) => this._failed(e))
        .then(() => void (this._pending = Math.max(0, this._pending - 1)));
    }
    // A partial frame waits for the rest; it is copied out of the read buffer.
    data = data.subarray(offset);
    if (this._socket !== socket) return;
    this._buffer = data.length === 0 ? kNoBytes : Buffer.from(data);
  }

  private _failed(e: unknown): void {
    this._options.log?.(`vpcd: failed to answer: ${(e as Error).stack ?? String(e)}`);
  }

  /** Handles a message that needs no waiting; false (nothing done) when it must wait its turn. */
  private _handleNow(socket: Socket, payload: Uint8Array): boolean {
    try {
      if (payload.length === 1) {
        this._control(socket, payload[0]!);
        return true;
      }
      const result = this._card.exchangeNow(payload);
      if (!result) return false;
      this._answer(socket, result);
    } catch (e) {
      this._failed(e);
    }
    return true;
  }

  private _control(socket: Socket, byte: number): void {
    const card = this._card.card;
    switch (byte) {
      case CTRL.OFF:
        card.powerOff();
        return;
      case CTRL.ON:
        card.powerOn();
        return;
      case CTRL.RESET:
        card.reset();
        return;
      case CTRL.ATR:
        socket.write(frame(card.atr));
        return;
      default:
        this._options.log?.(`vpcd: ignoring unknown control byte ${byte}`);
    }
  }

  private _answer(socket: Socket, result: ExchangeResult): void {
    if (result.kind === 'torn') {
      this._options.log?.(`tear: power cut ${result.when} the command took effect; the card is removed until 'insert'`);
      this.remove();
      return;
    }
    socket.write(frame(result.response));
  }

  private async _handle(socket: Socket, payload: Uint8Array): Promise<void> {
    if (socket !== this._socket) return;
    if (payload.length === 1) {
      this._control(socket, payload[0]!);
      return;
    }
    const result = await this._card.exchange(payload);
    if (socket !== this._socket) return;
    this._answer(socket, result);
  }
}
