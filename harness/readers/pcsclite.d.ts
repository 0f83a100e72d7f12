/**
 * The parts of the `pcsclite` binding (npm pcsclite 1.0.x) that pcsc-reader.ts uses. Declared here
 * because the binding is an optional dependency — the project must type-check where it is not
 * installed — and because its own typings leave out what we rely on: the per-instance `start` hook
 * and the `readers` map. An ambient module declaration takes precedence over the package's own.
 */
declare module 'pcsclite' {
  import type { EventEmitter } from 'node:events';

  namespace pcsclite {
    interface Status {
      /** SCARD_STATE_* bits in the low 16 bits; pcsc-lite keeps a card event counter in the high 16. */
      state: number;
      atr?: Buffer;
    }

    type Callback<T> = (error: Error | null | undefined, value: T) => void;

    interface CardReader extends EventEmitter<{ status: [status: Status]; error: [error: Error]; end: [] }> {
      readonly name: string;
      /** True while the binding holds an SCARDHANDLE (it does not notice a removed card by itself). */
      readonly connected: boolean;
      readonly SCARD_SHARE_SHARED: number;
      readonly SCARD_PROTOCOL_T0: number;
      readonly SCARD_PROTOCOL_T1: number;
      readonly SCARD_STATE_EMPTY: number;
      readonly SCARD_STATE_PRESENT: number;
      readonly SCARD_STATE_MUTE: number;
      readonly SCARD_LEAVE_CARD: number;
      readonly SCARD_RESET_CARD: number;
      readonly SCARD_UNPOWER_CARD: number;
      /** Calls back with the active protocol — or with nothing at all when already connected. */
      connect(options: { share_mode?: number; protocol?: number }, callback: Callback<number | undefined>): void;
      disconnect(disposition: number, callback: (error: Error | null | undefined) => void): void;
      /** `responseLength` is the size of the receive buffer, i.e. the longest R-APDU accepted. */
      transmit(command: Buffer, responseLength: number, protocol: number, callback: Callback<Buffer>): void;
      /** Stops the status thread (blocking, briefly); the reader's `end` follows. */
      close(): void;
    }

    interface PCSCLite extends EventEmitter<{ reader: [reader: CardReader]; error: [error: Error] }> {
      /** The readers the binding knows, by name. */
      readonly readers: Record<string, CardReader>;
      /** Called by the factory on the next tick with each new reader list (a multi-string buffer). */
      start(callback: (error: Error | null | undefined, readers: Buffer) => void): void;
      close(): void;
    }
  }

  /** Establishes a PC/SC context (throws when pcscd cannot be reached) and starts watching readers. */
  function pcsclite(): pcsclite.PCSCLite;
  export = pcsclite;
}
