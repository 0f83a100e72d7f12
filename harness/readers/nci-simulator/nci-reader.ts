/**
 * A contactless reader on the far side of the NFC bridge: a `Reader` over the controller simulator,
 * so that the JPKI client, the agents and the profile shim run through `card serve --nci` exactly as
 * they run in-process or through pcscd. The card is "in the field" while the device host listens;
 * connecting activates it (the reader polls), and disconnecting with reset or unpower drops the
 * field, which ends the card's session as taking it away would. The ATR is the one a PC/SC
 * contactless reader builds from the ATQB (PC/SC part 3), so it can be compared with the vpcd path's.
 */
import { EventEmitter } from 'node:events';
import { NciSimulatorError, type SimulatedNciController } from './controller.js';
import { ReaderError, waitForInsertion, type CardConnection, type Disposition, type Reader, type ReaderEvents } from '../reader.js';

/**
 * The ATR a PC/SC reader reports for an ISO 14443-4 Type B card (PC/SC part 3, 3.1.3.2.3.2):
 * 3B 8n 80 01, then the historical bytes — Application Data (4) and Protocol Info (3) from the
 * ATQB, and MBLI/CID from the ATTRIB answer — then TCK, the XOR of T0 to the last historical byte.
 */
export function pcscAtrFromAtqb(atqb: Uint8Array, attribResponse = 0x00): Uint8Array {
  if (atqb.length < 12 || atqb[0] !== 0x50) throw new RangeError(`an ATQB is 50 | PUPI(4) | Application Data(4) | Protocol Info(3+), not ${Buffer.from(atqb).toString('hex')}`);
  const historical = [...atqb.subarray(5, 9), ...atqb.subarray(9, 12), attribResponse & 0xff];
  const body = [0x80 | historical.length, 0x80, 0x01, ...historical];
  const tck = body.reduce((x, b) => x ^ b, 0);
  return Uint8Array.from([0x3b, ...body, tck]);
}

export interface NciReaderOptions {
  name?: string;
  /** How long connect() polls for a listening card before NO_CARD (default 10 s). */
  activateTimeoutMs?: number;
  /** How long a transmit waits for the R-APDU (default: the controller's responseTimeoutMs). */
  transmitTimeoutMs?: number;
  /** close() also closes the controller simulator (default false: the caller owns it). */
  closeController?: boolean;
}

export class NciReader extends EventEmitter<ReaderEvents> implements Reader {
  readonly kind = 'nci';
  readonly name: string;
  private readonly _closed = new AbortController();
  private _present: boolean;
  private readonly _onState = (): void => this._update();

  constructor(
    readonly controller: SimulatedNciController,
    private readonly _options: NciReaderOptions = {},
  ) {
    super();
    this.name = _options.name ?? `NCI bridge (simulated controller on ${controller.path})`;
    this._present = this.cardPresent();
    controller.on('state', this._onState);
  }

  /** A card is in the field when the DH listens as an NFC-B card (or a reader has it activated). */
  cardPresent(): boolean {
    if (this._closed.signal.aborted) return false;
    const state = this.controller.state;
    return (state === 'discovering' || state === 'active') && this.controller.listensAsTypeB();
  }

  atr(): Uint8Array | undefined {
    if (!this.cardPresent()) return undefined;
    const activation = this.controller.activation;
    return pcscAtrFromAtqb(activation?.atqb ?? this.controller.atqb(), activation?.attribResponse ?? 0x00);
  }

  waitForCard(timeoutMs: number): Promise<Uint8Array> {
    return waitForInsertion(this, timeoutMs, 'start the bridge (jpki-hil card serve --nci <port>) and let it reach RF discovery', this._closed.signal);
  }

  async connect(): Promise<CardConnection> {
    this._assertOpen();
    let activation = this.controller.activation;
    if (!activation) {
      try {
        activation = await this.controller.activate({ timeoutMs: this._options.activateTimeoutMs ?? 10_000 });
      } catch (e) {
        throw this._readerError(e, 'NO_CARD');
      }
    }
    const number = activation.number;
    const atr = pcscAtrFromAtqb(activation.atqb, activation.attribResponse);
    let open = true;
    return {
      atr,
      readerName: this.name,
      transmit: async (command) => {
        if (!open) throw new ReaderError('TRANSMIT_FAILED', `this connection to reader "${this.name}" was disconnected; connect again`);
        this._assertOpen();
        if (this.controller.activation?.number !== number) {
          throw new ReaderError('CARD_REMOVED', `the card left the field of reader "${this.name}" (the RF link was deactivated); connect again`);
        }
        try {
          return await this.controller.transmit(command, this._options.transmitTimeoutMs === undefined ? {} : { timeoutMs: this._options.transmitTimeoutMs });
        } catch (e) {
          throw this._readerError(e, 'TRANSMIT_FAILED');
        }
      },
      disconnect: async (disposition: Disposition = 'reset') => {
        if (!open) return;
        open = false;
        // A contactless reader resets or powers down a card by dropping the field.
        if (disposition !== 'leave' && this.controller.activation?.number === number) await this.controller.deactivate('link-loss');
      },
    };
  }

  async close(): Promise<void> {
    if (this._closed.signal.aborted) return;
    this._closed.abort();
    this.controller.off('state', this._onState);
    if (this._options.closeController) await this.controller.close();
  }

  private _update(): void {
    const present = this.cardPresent();
    if (present === this._present) return;
    this._present = present;
    if (present) this.emit('inserted', this.atr()!);
    else this.emit('removed');
  }

  private _readerError(e: unknown, fallback: 'NO_CARD' | 'TRANSMIT_FAILED'): ReaderError {
    if (e instanceof ReaderError) return e;
    const message = `reader "${this.name}": ${(e as Error).message}`;
    if (e instanceof NciSimulatorError) {
      if (e.code === 'GONE') return new ReaderError('NO_READER', message, { cause: e });
      if (e.code === 'DEACTIVATED' || e.code === 'RESET' || e.code === 'NOT_ACTIVE') return new ReaderError('CARD_REMOVED', message, { cause: e });
      if (e.code === 'TIMEOUT' && fallback === 'TRANSMIT_FAILED') return new ReaderError('TIMEOUT', message, { cause: e });
    }
    return new ReaderError(fallback, message, { cause: e });
  }

  private _assertOpen(): void {
    if (this._closed.signal.aborted) throw new ReaderError('NO_READER', `reader "${this.name}" is closed; open it again`);
  }
}
