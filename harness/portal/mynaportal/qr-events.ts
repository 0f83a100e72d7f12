/**
 * What happens to a QR session, pushed to the PC page that shows its code. One in-process emitter
 * keyed by QR session id: the phone's request and the page's event stream meet in the same portal
 * process. A page that subscribes late learns the outcome from the database instead (see the QR
 * routes), so nothing here needs to remember past events.
 */
import { EventEmitter } from 'node:events';

export type QrEvent =
  | { type: 'waiting' }
  | { type: 'authenticated'; next: string }
  | { type: 'failed'; code: string; message: string }
  | { type: 'expired' };

export class QrEvents {
  private readonly _emitter = new EventEmitter();

  constructor() {
    // One listener per open page; many pages may be open at once in a test run.
    this._emitter.setMaxListeners(0);
  }

  publish(qrSessionId: string, event: QrEvent): void {
    this._emitter.emit(qrSessionId, event);
  }

  /** Returns the function that unsubscribes. */
  subscribe(qrSessionId: string, listener: (event: QrEvent) => void): () => void {
    this._emitter.on(qrSessionId, listener);
    return () => this._emitter.off(qrSessionId, listener);
  }

  listenerCount(qrSessionId: string): number {
    return this._emitter.listenerCount(qrSessionId);
  }
}
