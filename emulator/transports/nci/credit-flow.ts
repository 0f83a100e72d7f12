/**
 * Data flow control on the static RF connection: one credit per data packet the host sends, credits
 * back from CORE_CONN_CREDITS_NTF. An answer that finds no credit waits; after a while it says so,
 * and after longer it is given up. Initial credits of 0xFF mean no flow control at all.
 */
import { NciHostError, SessionEndedError } from './host-errors.js';
import type { HostTimers } from './host-timers.js';
import { kCreditsFlowControlOff, kStaticRfConnId, parseCredits } from './messages.js';

export interface CreditFlowOptions {
  creditLogMs: number;
  creditTimeoutMs: number;
}

interface CreditWaiter {
  grant(): void;
  abort(error: Error): void;
}

export class CreditFlow {
  private _credits = 0;
  private _flowControl = true;
  private _waiter: CreditWaiter | undefined;

  constructor(
    private readonly _timers: HostTimers,
    private readonly _options: CreditFlowOptions,
    private readonly _log: (line: string) => void,
  ) {}

  /** False when the controller said it does not count credits on this connection. */
  get flowControlled(): boolean {
    return this._flowControl;
  }

  /** A session begins with the activation's initial credits. */
  begin(initialCredits: number): void {
    this._flowControl = initialCredits !== kCreditsFlowControlOff;
    this._credits = this._flowControl ? initialCredits : 0;
  }

  /** The session ended: no credits left, and an answer waiting for one fails with SessionEndedError. */
  end(): void {
    this._credits = 0;
    const waiter = this._waiter;
    this._waiter = undefined;
    waiter?.abort(new SessionEndedError());
  }

  /** CORE_CONN_CREDITS_NTF: credits for the static RF connection count while a session is `active`. */
  notified(payload: Uint8Array, active: boolean): void {
    let entries;
    try {
      entries = parseCredits(payload);
    } catch (e) {
      this._log(`malformed CORE_CONN_CREDITS_NTF: ${(e as Error).message}`);
      return;
    }
    for (const { connId, credits } of entries) {
      if (connId !== kStaticRfConnId || !active || !this._flowControl) continue;
      this._credits = Math.min(this._credits + credits, 255);
      if (this._credits > 0) this._waiter?.grant();
    }
  }

  /** Takes a credit for one packet of the answer to INS `ins`, waiting for one when there is none. */
  take(ins: string): Promise<void> {
    if (!this._flowControl) return Promise.resolve();
    if (this._credits > 0) {
      this._credits--;
      return Promise.resolve();
    }
    const { creditLogMs, creditTimeoutMs } = this._options;
    return new Promise((resolve, reject) => {
      const started = Date.now();
      let told = false;
      const logTimer = this._timers.start(creditLogMs, () => {
        told = true;
        this._log(`no credit from the NFC controller for ${creditLogMs} ms: the answer to INS ${ins} waits`);
      });
      const done = (): void => {
        this._timers.clear(logTimer);
        this._timers.clear(giveUp);
        if (this._waiter === waiter) this._waiter = undefined;
      };
      const giveUp = this._timers.start(creditTimeoutMs, () => {
        done();
        reject(new NciHostError(`gave up the answer to INS ${ins}: no credit from the NFC controller for ${creditTimeoutMs} ms; the session goes on until the reader leaves`));
      });
      const waiter: CreditWaiter = {
        grant: () => {
          done();
          this._credits--;
          if (told) this._log(`a credit came after ${Date.now() - started} ms: sending on`);
          resolve();
        },
        abort: (error) => {
          done();
          reject(error);
        },
      };
      this._waiter = waiter;
    });
  }
}
