/**
 * What the NCI host reads from the controller: bytes reassembled into messages by the parser, a
 * silence timer that ends a packet the line stopped in the middle of, and the handling of garbled
 * stretches — handed to the host, or skipped with a log line at most once a second.
 */
import type { HostTimers } from './host-timers.js';
import { kStaticRfConnId } from './messages.js';
import { NciParser, type NciMessage, type NciParserEvent } from './packet.js';

export interface InboundHandlers {
  message(message: NciMessage): void;
  /** A garbled stretch, in words: true when the host acts on it (a reset), false to skip to the next packet. */
  garbled(text: string): boolean;
  log(line: string): void;
  /** True once the host has stopped: nothing more is handled. */
  stopped(): boolean;
}

export class InboundStream {
  private readonly _parser = new NciParser({ from: 'nfcc', isOpenConnection: (connId) => connId === kStaticRfConnId });
  private _silenceTimer: NodeJS.Timeout | undefined;
  private _lastGarbleLog = 0;
  private _garbleUnlogged = 0;

  constructor(
    private readonly _timers: HostTimers,
    private readonly _silenceMs: number,
    private readonly _handlers: InboundHandlers,
  ) {}

  push(bytes: Uint8Array): void {
    if (this._handlers.stopped()) return;
    this._handleEvents(this._parser.push(bytes));
    this._clearSilence();
    if (this._parser.hasPartialPacket) {
      this._silenceTimer = this._timers.start(this._silenceMs, () => {
        this._silenceTimer = undefined;
        this._handleEvents(this._parser.expire());
      });
    }
  }

  /** Forgets everything half-read: a new initialisation starts on a clean stream. */
  reset(): void {
    this._parser.reset();
    this._clearSilence();
  }

  /** Drops the segments of messages not yet complete (an RF session ended under them). */
  dropPartialMessages(): void {
    this._parser.dropPartialMessages();
  }

  stop(): void {
    this._timers.clear(this._silenceTimer);
  }

  private _clearSilence(): void {
    this._timers.clear(this._silenceTimer);
    this._silenceTimer = undefined;
  }

  private _handleEvents(events: NciParserEvent[]): void {
    for (const event of events) {
      if (this._handlers.stopped()) return;
      if (event.kind === 'garbled') this._garbled(event);
      else this._handlers.message(event.message);
    }
  }

  private _garbled(event: Extract<NciParserEvent, { kind: 'garbled' }>): void {
    // The discarded bytes themselves stay out of the log: a stretch of a data packet can hold a VERIFY's PIN.
    const text = `garbled NCI stream: ${event.reason} (${event.discarded} byte(s) discarded)`;
    if (this._handlers.garbled(text)) return;
    // While initialising, a command that lost its answer times out and the initialisation retries;
    // a burst of garbage is said once a second, not once per stretch.
    const now = Date.now();
    if (now - this._lastGarbleLog >= 1000) {
      this._handlers.log(`${text}${this._garbleUnlogged > 0 ? ` (and ${this._garbleUnlogged} more garbled stretch(es) before it)` : ''}; skipping to the next packet`);
      this._lastGarbleLog = now;
      this._garbleUnlogged = 0;
    } else {
      this._garbleUnlogged++;
    }
  }
}
