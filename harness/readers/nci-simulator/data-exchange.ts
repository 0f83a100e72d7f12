/**
 * The reader's side of the data exchange over the static RF connection: a C-APDU forwarded to the
 * DH in segments, the R-APDU reassembled from its data packets, and the DH's credits — one taken
 * for each data packet, given back once the NFCC has sent it on over RF (or, during a credit
 * stall, owed until the stall ends). A DH that sends without a credit, too long a packet, or an
 * R-APDU nobody asked for breaks the rules.
 */
import { concat, toHex } from '../../../iso7816/bytes.js';
import { NciSimulatorError, type ControllerState } from './controller-types.js';
import { describePacket, kMt, kOp, segmentMessage, type NciPacket } from './nci-packets.js';

export interface DataExchangeDeps {
  readonly maxDataPayload: number;
  readonly forwardSegmentSize: number;
  state(): ControllerState;
  write(packet: Uint8Array): Promise<void>;
  notify(op: number, payload: readonly number[]): Promise<void>;
  violation(message: string): void;
  log(line: string): void;
  /** The reader gave up the exchange: it drops the field. */
  dropField(): void;
}

interface PendingExchange {
  resolve: (response: Uint8Array) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  parts: Uint8Array[];
  activation: number;
}

/** CORE_CONN_CREDITS_NTF for the static RF connection (ConnID 0): one entry. */
const creditsPayload = (credits: number): number[] => [0x01, 0x00, credits];

export class DataExchange {
  private _pending: PendingExchange | undefined;
  private _dhCredits = 0;
  private _owedCredits = 0;
  private _stallUntil = 0;
  private _stallTimer: NodeJS.Timeout | undefined;

  constructor(private readonly _deps: DataExchangeDeps) {}

  /** Credits the DH holds by the simulator's count. */
  get dhCredits(): number {
    return this._dhCredits;
  }

  /** True while a C-APDU waits for its R-APDU. */
  get busy(): boolean {
    return this._pending !== undefined;
  }

  /** An activation gives the DH its initial credits. */
  begin(initialCredits: number): void {
    this._dhCredits = initialCredits;
    this._owedCredits = 0;
  }

  /** The RF session ended: the exchange in progress fails with `error`, and the credits are gone. */
  end(error: NciSimulatorError): void {
    const pending = this._pending;
    if (pending) {
      clearTimeout(pending.timer);
      this._pending = undefined;
      pending.reject(error);
    }
    this._dhCredits = 0;
    this._owedCredits = 0;
  }

  /** Sends a C-APDU to the DH for activation number `activation`; resolves with the R-APDU. */
  async transmit(command: Uint8Array, activation: number, timeoutMs: number): Promise<Uint8Array> {
    const response = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new NciSimulatorError('TIMEOUT', `no complete R-APDU within ${timeoutMs} ms (the DH holds ${this._dhCredits} credit(s)); the reader drops the field`), true),
        timeoutMs,
      );
      this._pending = { resolve, reject, timer, parts: [], activation };
    });
    const stillPending = (): boolean => this._pending?.activation === activation;
    for (const packet of segmentMessage(kMt.data, 0, 0, command, this._deps.forwardSegmentSize)) {
      if (!stillPending()) break;
      await this._deps.write(packet);
    }
    return response;
  }

  /** The exchange failed; a reader that gives up on an exchange drops the field. */
  fail(error: NciSimulatorError, dropField: boolean): void {
    const pending = this._pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    this._pending = undefined;
    pending.reject(error);
    this._deps.log(`exchange failed: ${error.message}`);
    if (dropField && this._deps.state() === 'active') this._deps.dropField();
  }

  /** A data packet from the DH: a segment of the R-APDU. */
  received(packet: NciPacket): void {
    const d = this._deps;
    if (packet.gid !== 0) {
      d.violation(`the DH sent data on connection ${packet.gid}; only the static RF connection 0 exists`);
      return;
    }
    if (d.state() !== 'active') {
      // A packet the DH sent before it saw the deactivation: the NFCC drops it, as a real one does.
      d.log(`dropped ${describePacket(packet)}: no RF interface is active`);
      return;
    }
    if (packet.payload.length > d.maxDataPayload) {
      d.violation(`the DH sent a data packet of ${packet.payload.length} bytes; the RF connection's max data packet payload is ${d.maxDataPayload}`);
      return;
    }
    if (this._dhCredits <= 0) {
      d.violation('the DH sent a data packet without a credit (it had none left: it must wait for CORE_CONN_CREDITS_NTF)');
      return;
    }
    this._dhCredits--;
    void this._returnCredit();
    const pending = this._pending;
    if (!pending) {
      d.violation(`the DH sent an R-APDU segment (${toHex(packet.payload.subarray(0, 8))}…) with no C-APDU outstanding`);
      return;
    }
    pending.parts.push(packet.payload);
    if (packet.pbf) return;
    clearTimeout(pending.timer);
    this._pending = undefined;
    pending.resolve(concat(...pending.parts));
  }

  /** Withholds CORE_CONN_CREDITS_NTF for `ms`; the credits owed go out when the stall ends. */
  stallCredits(ms: number): void {
    this._deps.log(`fault: no credits for ${ms} ms`);
    this._stallUntil = performance.now() + ms;
    clearTimeout(this._stallTimer);
    this._stallTimer = setTimeout(() => {
      this._stallTimer = undefined;
      this._stallUntil = 0;
      void this._flushOwedCredits();
    }, ms);
  }

  stop(): void {
    clearTimeout(this._stallTimer);
    this._stallTimer = undefined;
  }

  /** The NFCC sent the packet on over RF: the DH gets its credit back, unless credits are stalled. */
  private async _returnCredit(): Promise<void> {
    if (performance.now() < this._stallUntil) {
      this._owedCredits++;
      return;
    }
    this._dhCredits++;
    await this._deps.notify(kOp.coreConnCredits, creditsPayload(1));
  }

  private async _flushOwedCredits(): Promise<void> {
    const owed = this._owedCredits;
    this._owedCredits = 0;
    if (owed === 0 || this._deps.state() !== 'active') return;
    this._deps.log(`the credit stall ends: ${owed} credit(s) for the DH`);
    this._dhCredits += owed;
    await this._deps.notify(kOp.coreConnCredits, creditsPayload(owed));
  }
}
