/**
 * The simulator's end of the serial line: bytes paced at the baud rate in both directions (10 bits
 * a byte), every packet traced, the DH's bytes framed into packets (bytes that cannot start a DH
 * packet skipped, a packet left half-sent for a second reported), and a cork that gathers writes
 * into one burst.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SerialPort } from 'serialport';
import { concat, toHex } from '../../../iso7816/bytes.js';
import { maskCommand } from '../../../iso7816/secret-mask.js';
import { kMt, readHeader, type MessageType, type NciPacket } from './nci-packets.js';

/**
 * Waits until performance.now() reaches `due`. Node's timers count whole milliseconds of a loop
 * clock that may lag, so a single timer can end up to a millisecond early; the line must never be
 * faster than its baud rate.
 */
async function sleepUntil(due: number): Promise<void> {
  for (let left = due - performance.now(); left > 0; left = due - performance.now()) await sleep(Math.ceil(left));
}

/** An NCI packet for the trace: a data packet's C-APDU goes through the one secret mask (a VERIFY's PIN stays out). */
export function packetTraceHex(packet: Uint8Array): string {
  const isData = packet.length > 3 && packet[0]! >> 5 === 0;
  return isData ? `${toHex(packet.subarray(0, 3))}${maskCommand(packet.subarray(3))}` : toHex(packet);
}

export interface PacedLineHandlers {
  /** A whole packet from the DH: a command or data. */
  packet(packet: NciPacket): void;
  violation(message: string): void;
  /** True once the simulator is closed or gone: nothing more goes out or is read. */
  gone(): boolean;
  trace?: ((direction: '>' | '<', hex: string) => void) | undefined;
}

export class PacedLine {
  private _rx: Uint8Array = new Uint8Array(0);
  private _rxChain: Promise<void> = Promise.resolve();
  private _rxFreeAt = 0;
  private _txChain: Promise<void> = Promise.resolve();
  private _txFreeAt = 0;
  private _lastRxAt = 0;
  private _partialTimer: NodeJS.Timeout | undefined;
  /** While set, writes gather here and go out as one write (one burst on the line). */
  private _cork: { bytes: Uint8Array[]; hooks: Array<() => void> } | undefined;

  constructor(
    private readonly _port: SerialPort,
    private readonly _handlers: PacedLineHandlers,
    /** Pacing in baud; undefined: none. */
    public baud: number | undefined,
  ) {}

  /** When the DH last sent something (performance.now()). */
  get lastRxAt(): number {
    return this._lastRxAt;
  }

  /** Queues bytes for the line, paced at the baud rate; `onWrite` runs just before they go out. */
  write(bytes: Uint8Array, onWrite?: () => void): Promise<void> {
    if (this._cork) {
      this._cork.bytes.push(bytes);
      if (onWrite) this._cork.hooks.push(onWrite);
      return Promise.resolve();
    }
    const pace = this.baud;
    const run = async (): Promise<void> => {
      if (pace) {
        const now = performance.now();
        const due = Math.max(now, this._txFreeAt) + (bytes.length * 10_000) / pace;
        this._txFreeAt = due;
        if (due - now >= 1) await sleepUntil(due);
      }
      if (!this._port.isOpen || this._handlers.gone()) return;
      onWrite?.();
      this._handlers.trace?.('>', packetTraceHex(bytes));
      await new Promise<void>((resolve) => this._port.write(Buffer.from(bytes), () => resolve()));
    };
    this._txChain = this._txChain.then(run, run);
    return this._txChain;
  }

  /** From now on, writes gather until `uncork`. */
  cork(): void {
    this._cork = { bytes: [], hooks: [] };
  }

  /** What gathered since `cork` goes out as one write. */
  uncork(): Promise<void> {
    const cork = this._cork;
    this._cork = undefined;
    if (!cork) return Promise.resolve();
    return this.write(concat(...cork.bytes), () => cork.hooks.forEach((hook) => hook()));
  }

  /** Resolves once everything queued has gone out. */
  drain(): Promise<void> {
    return this._txChain.catch(() => undefined);
  }

  /** Bytes from the DH: read at the baud rate, then framed. */
  received(chunk: Uint8Array): void {
    const pace = this.baud;
    let due = 0;
    if (pace) {
      const now = performance.now();
      due = Math.max(now, this._rxFreeAt) + (chunk.length * 10_000) / pace;
      this._rxFreeAt = due;
    }
    this._rxChain = this._rxChain.then(async () => {
      if (due - performance.now() >= 1) await sleepUntil(due);
      try {
        this._parse(chunk);
      } catch (e) {
        this._handlers.violation(`simulator fault while handling ${toHex(chunk)}: ${(e as Error).stack ?? String(e)}`);
      }
    });
  }

  stop(): void {
    clearTimeout(this._partialTimer);
    this._partialTimer = undefined;
  }

  private _parse(chunk: Uint8Array): void {
    if (this._handlers.gone()) return;
    this._lastRxAt = performance.now();
    this._rx = this._rx.length === 0 ? chunk : concat(this._rx, chunk);
    let skipped = 0;
    while (this._rx.length >= 3) {
      const h = readHeader(this._rx);
      const validType = h.mt === kMt.data || h.mt === kMt.command;
      if (!validType || (h.mt === kMt.data && h.rfu !== 0)) {
        skipped++;
        this._rx = this._rx.subarray(1);
        continue;
      }
      if (this._rx.length < 3 + h.length) break;
      const packet: NciPacket = { mt: h.mt as MessageType, pbf: h.pbf, gid: h.gid, oid: h.oid, payload: this._rx.slice(3, 3 + h.length) };
      this._handlers.trace?.('<', toHex(this._rx.subarray(0, 3 + h.length)));
      this._rx = this._rx.subarray(3 + h.length);
      this._handlers.packet(packet);
    }
    if (skipped > 0) this._handlers.violation(`the DH sent ${skipped} byte(s) that do not start a DH packet (only commands and data go from DH to NFCC)`);
    this.stop();
    if (this._rx.length > 0) {
      this._partialTimer = setTimeout(() => {
        this._partialTimer = undefined;
        if (this._rx.length === 0) return;
        this._handlers.violation(`the DH left a partial packet on the line for 1 s: ${toHex(this._rx.subarray(0, 16))}${this._rx.length > 16 ? '…' : ''}`);
        this._rx = new Uint8Array(0);
      }, 1000);
    }
  }
}
