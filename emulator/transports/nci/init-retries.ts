/**
 * Initialisation with bounded retries: a failed attempt is tried again after a pause that doubles
 * up to 8 s; an attempt superseded by a reset starts again at once; a fatal error, or too many
 * failures in a row, stop the host. A request during an attempt runs one more after it.
 */
import { NciHostError, StaleError } from './host-errors.js';

export interface InitRetryDeps {
  /** The link's description, for the final error. */
  address: string;
  retryPauseMs: number;
  maxInitAttempts: number;
  stopped(): boolean;
  epoch(): number;
  /** One initialisation, for this epoch. */
  attempt(epoch: number): Promise<void>;
  /** A new epoch: what the failed attempt left waiting is abandoned, and its late answers do not count. */
  supersede(): void;
  delay(ms: number): Promise<void>;
  shutdown(error: Error): Promise<void>;
  log(line: string): void;
}

export class InitRetries {
  private _needed = false;
  private _running = false;

  constructor(private readonly _deps: InitRetryDeps) {}

  /** Runs an initialisation: now, or after the one in progress. */
  request(): void {
    this._needed = true;
    if (!this._running) void this._loop();
  }

  private async _loop(): Promise<void> {
    const d = this._deps;
    this._running = true;
    let failures = 0;
    try {
      while (this._needed && !d.stopped()) {
        this._needed = false;
        try {
          await d.attempt(d.epoch());
          failures = 0;
        } catch (e) {
          if (d.stopped()) return;
          const error = e as Error;
          failures++;
          const why = error instanceof StaleError ? 'interrupted by a controller reset' : error.message;
          if (error instanceof NciHostError && error.fatal) {
            await d.shutdown(error);
            return;
          }
          if (failures >= d.maxInitAttempts) {
            await d.shutdown(
              new NciHostError(
                `the NFC controller on ${d.address} did not initialise after ${failures} attempts (last: ${why}); ` +
                  'check the baud rate, the wiring (TX↔RX) and that the microcontroller forwards NCI unchanged (jpki-hil doctor --nci)',
              ),
            );
            return;
          }
          if (!(error instanceof StaleError)) {
            const pause = Math.min(d.retryPauseMs * 2 ** (failures - 1), 8000);
            d.log(`initialisation failed: ${why}; trying again in ${pause} ms (attempt ${failures + 1} of ${d.maxInitAttempts})`);
            await d.delay(pause);
            if (d.stopped()) return;
            d.supersede();
          }
          this._needed = true;
        }
      }
    } finally {
      this._running = false;
    }
  }
}
