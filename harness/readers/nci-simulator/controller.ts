/**
 * A simulated NFC controller (NFCC) at the far end of a serial line, for testing the NFC bridge
 * (`jpki-hil card serve --nci`) without hardware. It plays two parts:
 *
 * - toward the device host (DH) on the serial port, the NFCC of the NCI subset in the shared
 *   contract: it answers CORE_RESET / CORE_INIT / CORE_SET_CONFIG / RF_DISCOVER_MAP /
 *   RF_SET_LISTEN_MODE_ROUTING / RF_DISCOVER / RF_DEACTIVATE, records what it was told (the listen-B
 *   parameters above all), grants credits, and checks the DH keeps the rules (one data packet per
 *   credit, packets no longer than announced, R-APDUs only when a C-APDU is outstanding);
 * - on the RF side, a contactless reader that polls, activates the card (RF_INTF_ACTIVATED_NTF, only
 *   once the DH listens), sends C-APDUs and takes the R-APDUs, and deactivates.
 *
 * It can pace bytes at a baud rate in both directions (10 bits a byte), so that 115200 and 921600
 * baud cost what they cost on a USB serial bridge, and it injects the faults a lab meets: garbage
 * on the line, a truncated packet, a credit stall, a controller reset, and the port vanishing.
 *
 * A protocol violation by the DH is recorded in `violations`, logged, and fails the exchange in
 * progress: the simulator is also the DH's conformance check.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SerialPort } from 'serialport';
import { concat, hexByte, toHex } from '../../../iso7816/bytes.js';
import { maskCommand } from '../../../iso7816/secret-mask.js';
import {
  describePacket,
  encodePacket,
  kDeactivateReason,
  kDeactivateType,
  kGid,
  kMt,
  kOp,
  kParam,
  kParamLengths,
  kRfInterface,
  kRfProtocol,
  kStatus,
  kTechMode,
  opName,
  readHeader,
  segmentMessage,
  type MessageType,
  type NciPacket,
} from './nci-packets.js';
import type { PtyPair } from './pty-pair.js';

/**
 * Waits until performance.now() reaches `due`. Node's timers count whole milliseconds of a loop
 * clock that may lag, so a single timer can end up to a millisecond early; the line must never be
 * faster than its baud rate.
 */
async function sleepUntil(due: number): Promise<void> {
  for (let left = due - performance.now(); left > 0; left = due - performance.now()) await sleep(Math.ceil(left));
}

export type NciVersion = '1.0' | '2.0';

/**
 * Where the NFCC is: `powered` (port open, no CORE_RESET yet), `reset` (waiting for CORE_INIT),
 * `idle` (initialised, RF idle), `discovering` (listening for a reader), `active` (a reader
 * activated ISO-DEP), `closed` (close() was called), `gone` (the port went away).
 */
export type ControllerState = 'powered' | 'reset' | 'idle' | 'discovering' | 'active' | 'closed' | 'gone';

export type NciSimulatorErrorCode = 'NOT_LISTENING' | 'NOT_ACTIVE' | 'BUSY' | 'TIMEOUT' | 'DEACTIVATED' | 'RESET' | 'VIOLATION' | 'GONE';

export class NciSimulatorError extends Error {
  constructor(
    readonly code: NciSimulatorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NciSimulatorError';
  }
}

export interface SimulatedNciControllerOptions {
  /** The serial port (one end of a pty pair). */
  path: string;
  /** The NCI version the NFCC claims and speaks (default 2.0; the DH must tolerate 1.0). */
  nciVersion?: NciVersion;
  /** Max control packet payload announced in CORE_INIT_RSP (default 255). */
  maxControlPayload?: number;
  /** Max data packet payload of the RF connection, announced in RF_INTF_ACTIVATED_NTF (default 255). */
  maxDataPayload?: number;
  /** Credits the DH gets with each activation (default 1, as NXP controllers give). */
  initialCredits?: number;
  /** Segment size of the C-APDUs the NFCC forwards to the DH (default: maxDataPayload). */
  forwardSegmentSize?: number;
  /** Pace the line at this baud rate in both directions (10 bits a byte); undefined: no pacing. */
  baudRate?: number;
  /** How long the reader waits for an R-APDU before it gives up and drops the field (default 5 s). */
  responseTimeoutMs?: number;
  /** The pty pair the port belongs to: vanish() kills it, as pulling the USB cable would. */
  pty?: PtyPair;
  log?: (line: string) => void;
  /** Every packet on the line, both ways ('>' NFCC to DH, '<' DH to NFCC), for debugging. */
  trace?: (direction: '>' | '<', hex: string) => void;
}

export interface Activation {
  /** Counts activations since the simulator opened, from 1. */
  number: number;
  /** SENSB_RES as the reader received it: 50 | PUPI(4) | Application Data(4) | Protocol Info(3). */
  atqb: Uint8Array;
  /** The first byte of the ATTRIB answer: MBLI (high nibble) | CID (low nibble). */
  attribResponse: number;
}

export type DeactivationReason = 'link-loss' | 'endpoint';

interface ControllerEvents {
  state: [state: ControllerState];
  violation: [message: string];
  command: [name: string];
  activated: [activation: Activation];
  deactivated: [reason: string];
}

interface PendingExchange {
  resolve: (response: Uint8Array) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  parts: Uint8Array[];
  activation: number;
}

/** The listen-B bit rate (LB_BIT_RATE) as the bit-rate capability byte of Protocol Info. */
const kBitRateCapability: Record<number, number> = {
  0x00: 0x00, // 106 kbit/s only
  0x01: 0x91, // up to 212, same rate both ways
  0x02: 0xb3, // up to 424
  0x03: 0xf7, // up to 848
};

/** What the simulated NFCC presents when the DH sets nothing (the NFCC decides, per NCI). */
const kDefaults = {
  /** NCI's default: 106 kbit/s only (bit-rate capability 00) unless the DH asks for more. */
  lbBitRate: 0x00,
  /** ISO-DEP supported (Protocol_Type b1). */
  lbSensbInfo: 0x01,
  /** The NFCC's own listen frame size, Max_Frame_Size code 8: 256 bytes (FSCI of its ISO-DEP buffer). */
  maxFrameSizeCode: 0x8,
  /** FWI 7, no ADC, CID supported. */
  lbFwiAdcFo: 0x71,
  lbApplicationData: new Uint8Array(4),
};

const kManufacturerId = 0x00;

export class SimulatedNciController extends EventEmitter<ControllerEvents> {
  readonly nciVersion: NciVersion;
  readonly maxControlPayload: number;
  readonly maxDataPayload: number;
  readonly initialCredits: number;
  readonly forwardSegmentSize: number;
  responseTimeoutMs: number;
  /** Every protocol violation by the DH (and any fault of the simulator itself), in order. */
  readonly violations: string[] = [];
  /** The commands received, by name ("CORE_RESET_CMD"), most recent last (at most 1000). */
  readonly commands: string[] = [];
  /** CORE_SET_CONFIG values in force, by parameter id (cleared by a configuration reset). */
  readonly config = new Map<number, Uint8Array>();
  /** The last RF_DISCOVER_MAP: (RF protocol, mode, RF interface) triples. */
  discoverMap: Array<{ protocol: number; mode: number; rfInterface: number }> = [];
  /** The last RF_SET_LISTEN_MODE_ROUTING entries. */
  routing: Array<{ type: number; value: Uint8Array }> = [];
  /** The last RF_DISCOVER configurations: (RF technology and mode, frequency). */
  discoverConfigs: Array<{ techMode: number; frequency: number }> = [];

  private _state: ControllerState = 'powered';
  private _baud: number | undefined;
  private _log: (line: string) => void;
  private _rx: Uint8Array = new Uint8Array(0);
  private _rxChain: Promise<void> = Promise.resolve();
  private _rxFreeAt = 0;
  private _txChain: Promise<void> = Promise.resolve();
  private _txFreeAt = 0;
  private _lastRxAt = 0;
  private _partialTimer: NodeJS.Timeout | undefined;
  private _commandParts: { gid: number; oid: number; parts: Uint8Array[] } | undefined;
  /** A command whose response has not gone out yet (NCI allows one outstanding command). */
  private _awaitingResponse: string | undefined;
  private _activation: Activation | undefined;
  private _activations = 0;
  private _pending: PendingExchange | undefined;
  private _dhCredits = 0;
  private _owedCredits = 0;
  private _stallUntil = 0;
  private _stallTimer: NodeJS.Timeout | undefined;
  private _closing = false;
  /** A reader already in the field: activate right behind the next RF_DISCOVER_RSP. */
  private _armed: { resolve: (a: Activation) => void; reject: (e: Error) => void } | undefined;
  /** While set, writes gather here and go out as one write (one burst on the line). */
  private _cork: { bytes: Uint8Array[]; hooks: Array<() => void> } | undefined;

  /** Opens the serial port at `options.path` and starts answering as an NFCC that just powered on. */
  static async open(options: SimulatedNciControllerOptions): Promise<SimulatedNciController> {
    let SerialPortClass: typeof SerialPort;
    try {
      SerialPortClass = (await import('serialport')).SerialPort;
    } catch (e) {
      throw new Error(`the serialport package is not installed (${(e as Error).message}); run npm install in the jpki-hil directory`, { cause: e });
    }
    const port = new SerialPortClass({ path: options.path, baudRate: options.baudRate ?? 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((error) => (error ? reject(new Error(`the controller simulator cannot open ${options.path}: ${error.message}`, { cause: error })) : resolve())),
    );
    return new SimulatedNciController(port, options);
  }

  private constructor(
    private readonly _port: SerialPort,
    private readonly _options: SimulatedNciControllerOptions,
  ) {
    super();
    this.nciVersion = _options.nciVersion ?? '2.0';
    this.maxControlPayload = clampPayload(_options.maxControlPayload ?? 255, 'maxControlPayload');
    this.maxDataPayload = clampPayload(_options.maxDataPayload ?? 255, 'maxDataPayload');
    this.initialCredits = _options.initialCredits ?? 1;
    this.forwardSegmentSize = clampPayload(_options.forwardSegmentSize ?? this.maxDataPayload, 'forwardSegmentSize');
    this.responseTimeoutMs = _options.responseTimeoutMs ?? 5000;
    this._baud = _options.baudRate;
    this._log = (line) => _options.log?.(`nci-sim: ${line}`);
    _port.on('data', (chunk: Buffer) => this._received(new Uint8Array(chunk)));
    _port.on('error', (error: Error) => this._log(`serial port error: ${error.message}`));
    _port.on('close', () => this._portClosed());
  }

  get path(): string {
    return this._options.path;
  }

  get state(): ControllerState {
    return this._state;
  }

  /** The current activation, while a reader has the card activated. */
  get activation(): Activation | undefined {
    return this._activation;
  }

  /** Credits the DH holds by the simulator's count. */
  get dhCredits(): number {
    return this._dhCredits;
  }

  get baudRate(): number | undefined {
    return this._baud;
  }

  /** Changes the pacing (undefined: none); the port itself is a pty, whose speed setting means nothing. */
  setBaudRate(baud: number | undefined): void {
    if (baud !== undefined && !(baud > 0)) throw new RangeError(`baud rate ${baud} is not positive`);
    this._baud = baud;
  }

  /** True when the DH asked to listen as an NFC-B card with ISO-DEP routed to it. */
  listensAsTypeB(): boolean {
    return this._listenProblem() === undefined;
  }

  /** The ATQB (SENSB_RES) a reader would receive now, from the listen-B parameters the DH set. */
  atqb(pupi?: Uint8Array): Uint8Array {
    const nfcid0 = this.config.get(kParam.lbNfcid0);
    const id = pupi ?? (nfcid0 && nfcid0.length === 4 ? nfcid0 : this._activation?.atqb.subarray(1, 5) ?? new Uint8Array(4));
    const appData = this.config.get(kParam.lbApplicationData) ?? kDefaults.lbApplicationData;
    const bitRate = this.config.get(kParam.lbBitRate)?.[0] ?? kDefaults.lbBitRate;
    // Byte 2 is Max_Frame_Size | Protocol_Type. LB_SENSB_INFO "is used to generate" it: DHs send
    // either the protocol bits alone (01, ISO-DEP) or the whole byte (81); the NFCC fills in its own
    // frame size when the DH leaves the high nibble empty, which serves both readings.
    const sensbInfo = this.config.get(kParam.lbSensbInfo)?.[0] ?? kDefaults.lbSensbInfo;
    const byte2 = (sensbInfo & 0xf0) !== 0 ? sensbInfo : (kDefaults.maxFrameSizeCode << 4) | (sensbInfo & 0x0f);
    const protocolInfo = [kBitRateCapability[bitRate] ?? kBitRateCapability[kDefaults.lbBitRate]!, byte2, this.config.get(kParam.lbFwiAdcFo)?.[0] ?? kDefaults.lbFwiAdcFo];
    return concat(Uint8Array.of(0x50), id, appData, Uint8Array.from(protocolInfo));
  }

  /**
   * Resolves once the DH listens (RF discovery started) and has sent nothing for `quietMs` — after
   * a fault, the moment it has settled again; rejects with NOT_LISTENING after `timeoutMs`.
   */
  waitForListening(options: { timeoutMs?: number; quietMs?: number } = {}): Promise<void> {
    return this._waitForListening(options);
  }

  private async _waitForListening(options: { timeoutMs?: number; quietMs?: number }): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const quietMs = options.quietMs ?? 0;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this._assertUsable();
      if (this._state === 'discovering' && performance.now() - this._lastRxAt >= quietMs) return;
      if (performance.now() > deadline) {
        throw new NciSimulatorError(
          'NOT_LISTENING',
          `the DH did not start listening within ${timeoutMs} ms (controller ${this._state}; last commands: ${this.commands.slice(-6).join(', ') || 'none'})`,
        );
      }
      await sleep(5);
    }
  }

  /**
   * A reader comes into range and activates the card: waits until the DH listens, then (field on,
   * if the DH asked for field notifications) RF_INTF_ACTIVATED_NTF for ISO-DEP over NFC-B.
   */
  async activate(options: { timeoutMs?: number; quietMs?: number; pupi?: Uint8Array; higherLayerInfo?: Uint8Array } = {}): Promise<Activation> {
    if (this._state === 'active') throw new NciSimulatorError('BUSY', 'a reader has the card activated already; deactivate() first');
    await this._waitForListening(options);
    return this._activateNow(options);
  }

  private async _activateNow(options: { pupi?: Uint8Array; higherLayerInfo?: Uint8Array }): Promise<Activation> {
    const problem = this._listenProblem();
    if (problem) throw new NciSimulatorError('NOT_LISTENING', `a Type B reader cannot activate the card: ${problem}`);
    if (this._fieldInfo()) await this._sendControl(kMt.notification, kOp.rfFieldInfo, [0x01]);
    const nfcid0 = this.config.get(kParam.lbNfcid0);
    const pupi = options.pupi ?? (nfcid0 && nfcid0.length === 4 ? nfcid0 : new Uint8Array(randomBytes(4)));
    const activation: Activation = { number: ++this._activations, atqb: this.atqb(pupi), attribResponse: 0x00 };
    const higherLayer = options.higherLayerInfo ?? new Uint8Array(0);
    this._activation = activation;
    this._dhCredits = this.initialCredits;
    this._owedCredits = 0;
    this._setState('active');
    await this._sendControl(kMt.notification, kOp.rfIntfActivated, [
      0x01, // RF discovery id
      kRfInterface.isoDep,
      kRfProtocol.isoDep,
      kTechMode.nfcBPassiveListen,
      this.maxDataPayload,
      this.initialCredits,
      0x00, // no technology-specific parameters for listen B
      kTechMode.nfcBPassiveListen,
      0x00, // 106 kbit/s transmit
      0x00, // 106 kbit/s receive
      higherLayer.length,
      ...higherLayer,
    ]);
    this._log(`activated (#${activation.number}): ATQB ${toHex(activation.atqb)}, ${this.maxDataPayload}-byte packets, ${this.initialCredits} credit(s)`);
    this.emit('activated', activation);
    return activation;
  }

  /**
   * A reader already in the field when the DH starts listening (a phone left on the reader): the
   * activation goes out right behind the next RF_DISCOVER_RSP, as an NFCC that finds the reader at
   * once sends it. Resolves with that activation.
   */
  activateOnNextDiscover(): Promise<Activation> {
    this._assertUsable();
    this._armed?.reject(new NciSimulatorError('BUSY', 'activateOnNextDiscover() was called again'));
    return new Promise((resolve, reject) => (this._armed = { resolve, reject }));
  }

  /** Sends a C-APDU to the card through the DH and resolves with its R-APDU. */
  async transmit(command: Uint8Array, options: { timeoutMs?: number } = {}): Promise<Uint8Array> {
    this._assertUsable();
    const activation = this._activation;
    if (this._state !== 'active' || !activation) throw new NciSimulatorError('NOT_ACTIVE', `no card is activated (controller ${this._state}); activate() first`);
    if (this._pending) throw new NciSimulatorError('BUSY', 'an exchange is in progress: ISO-DEP carries one C-APDU at a time');
    const timeoutMs = options.timeoutMs ?? this.responseTimeoutMs;
    const response = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(
        () => this._failPending(new NciSimulatorError('TIMEOUT', `no complete R-APDU within ${timeoutMs} ms (the DH holds ${this._dhCredits} credit(s)); the reader drops the field`), true),
        timeoutMs,
      );
      this._pending = { resolve, reject, timer, parts: [], activation: activation.number };
    });
    const stillPending = (): boolean => this._pending?.activation === activation.number;
    for (const packet of segmentMessage(kMt.data, 0, 0, command, this.forwardSegmentSize)) {
      if (!stillPending()) break;
      await this._write(packet);
    }
    return response;
  }

  /** The reader leaves (link loss) or deselects (endpoint request): RF_DEACTIVATE_NTF, back to listening. */
  async deactivate(reason: DeactivationReason = 'link-loss'): Promise<void> {
    if (this._state !== 'active') return;
    await this._endActivation(reason === 'link-loss' ? kDeactivateReason.rfLinkLoss : kDeactivateReason.endpointRequest, `the reader ${reason === 'link-loss' ? 'left the field' : 'deselected the card'}`);
  }

  // --- faults -------------------------------------------------------------------------------

  /** Bytes that no NFCC would send (by default, bytes whose message type is reserved). */
  async injectGarbage(bytes: Uint8Array = Uint8Array.from([0xff, 0xa5, 0xc3, 0x99, 0xee, 0x81, 0xf0, 0xb7])): Promise<void> {
    this._log(`fault: ${bytes.length} garbage byte(s) on the line: ${toHex(bytes)}`);
    await this._write(bytes);
  }

  /**
   * A packet whose header promises more than ever comes. While a card is active it is a data
   * packet (a C-APDU cut short); otherwise an RF_INTF_ACTIVATED_NTF cut in the middle.
   */
  async sendTruncatedPacket(): Promise<void> {
    let packet: Uint8Array;
    if (this._state === 'active') {
      packet = encodePacket({ mt: kMt.data, pbf: false, gid: 0, oid: 0, payload: Uint8Array.from([0x00, 0xa4, 0x04, 0x0c, 0x0a, 0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]) });
    } else {
      packet = encodePacket({
        mt: kMt.notification,
        pbf: false,
        gid: kGid.rf,
        oid: kOp.rfIntfActivated & 0x3f,
        payload: Uint8Array.from([0x01, kRfInterface.isoDep, kRfProtocol.isoDep, kTechMode.nfcBPassiveListen, 0xff, 0x01, 0x00, 0x81, 0x00, 0x00, 0x00]),
      });
    }
    const cut = packet.subarray(0, Math.max(4, Math.floor(packet.length / 2)));
    this._log(`fault: truncated packet: ${cut.length} of ${packet.length} bytes (${toHex(cut)}), the rest never comes`);
    await this._write(cut);
  }

  /** Withholds CORE_CONN_CREDITS_NTF for `ms`; the credits owed go out when the stall ends. */
  stallCredits(ms: number): void {
    this._log(`fault: no credits for ${ms} ms`);
    this._stallUntil = performance.now() + ms;
    clearTimeout(this._stallTimer);
    this._stallTimer = setTimeout(() => {
      this._stallTimer = undefined;
      this._stallUntil = 0;
      void this._flushOwedCredits();
    }, ms);
  }

  /**
   * The controller resets itself: an unsolicited CORE_RESET_NTF, and everything it knew is gone
   * (configuration, discovery, the RF link). The DH must initialise it again.
   */
  async resetController(trigger: 'unrecoverable-error' | 'power-on' = 'unrecoverable-error'): Promise<void> {
    this._log(`fault: the controller resets itself (${trigger})`);
    this._endRf(new NciSimulatorError('RESET', 'the controller reset itself during the exchange'));
    this._forgetConfiguration();
    this._commandParts = undefined;
    this._awaitingResponse = undefined;
    this._setState('reset');
    const triggerCode = trigger === 'power-on' ? 0x01 : 0x00;
    const payload = this.nciVersion === '2.0' ? [triggerCode, 0x01, 0x20, kManufacturerId, 0x00] : [triggerCode, 0x01];
    await this._sendControl(kMt.notification, kOp.coreReset, payload);
  }

  /** The port goes away, as when the USB cable is pulled: socat is killed, so both ends close. */
  async vanish(): Promise<void> {
    this._log('fault: the serial port vanishes');
    this._closing = true;
    this._gone(new NciSimulatorError('GONE', 'the serial port vanished'), 'gone');
    if (this._options.pty) await this._options.pty.close();
    await this._closePort();
  }

  /** Closes this end of the line (the pty pair, if any, stays). */
  async close(): Promise<void> {
    if (this._state === 'closed' || this._state === 'gone') return;
    this._closing = true;
    this._gone(new NciSimulatorError('GONE', 'the controller simulator was closed'), 'closed');
    await this._txChain.catch(() => undefined);
    await this._closePort();
  }

  // --- receiving ----------------------------------------------------------------------------

  private _received(chunk: Uint8Array): void {
    const pace = this._baud;
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
        this._violation(`simulator fault while handling ${toHex(chunk)}: ${(e as Error).stack ?? String(e)}`);
      }
    });
  }

  private _parse(chunk: Uint8Array): void {
    if (this._state === 'closed' || this._state === 'gone') return;
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
      this._options.trace?.('<', toHex(this._rx.subarray(0, 3 + h.length)));
      this._rx = this._rx.subarray(3 + h.length);
      if (packet.mt === kMt.command) this._onCommandPacket(packet);
      else this._onDataPacket(packet);
    }
    if (skipped > 0) this._violation(`the DH sent ${skipped} byte(s) that do not start a DH packet (only commands and data go from DH to NFCC)`);
    clearTimeout(this._partialTimer);
    this._partialTimer = undefined;
    if (this._rx.length > 0) {
      this._partialTimer = setTimeout(() => {
        this._partialTimer = undefined;
        if (this._rx.length === 0) return;
        this._violation(`the DH left a partial packet on the line for 1 s: ${toHex(this._rx.subarray(0, 16))}${this._rx.length > 16 ? '…' : ''}`);
        this._rx = new Uint8Array(0);
      }, 1000);
    }
  }

  private _onCommandPacket(packet: NciPacket): void {
    const parts = this._commandParts;
    if (parts && (parts.gid !== packet.gid || parts.oid !== packet.oid)) {
      this._violation(`the DH interleaved ${opName(packet.gid, packet.oid)}_CMD into the segments of ${opName(parts.gid, parts.oid)}_CMD`);
      this._commandParts = undefined;
    }
    if (packet.payload.length > this.maxControlPayload && this._state !== 'powered' && this._state !== 'reset') {
      this._violation(`${describePacket(packet)} carries ${packet.payload.length} bytes, more than the ${this.maxControlPayload} announced in CORE_INIT_RSP`);
    }
    if (packet.pbf) {
      this._commandParts ??= { gid: packet.gid, oid: packet.oid, parts: [] };
      this._commandParts.parts.push(packet.payload);
      return;
    }
    const payload = this._commandParts ? concat(...this._commandParts.parts, packet.payload) : packet.payload;
    this._commandParts = undefined;
    const name = `${opName(packet.gid, packet.oid)}_CMD`;
    this.commands.push(name);
    if (this.commands.length > 1000) this.commands.shift();
    this.emit('command', name);
    const op = (packet.gid << 8) | packet.oid;
    if (this._awaitingResponse && op !== kOp.coreReset) {
      this._violation(`the DH sent ${name} before the response to ${this._awaitingResponse} (NCI allows one outstanding command)`);
    }
    this._awaitingResponse = name;
    void this._handleCommand(op, payload).catch((e: unknown) => this._violation(`simulator fault answering ${name}: ${(e as Error).stack ?? String(e)}`));
  }

  private async _handleCommand(op: number, payload: Uint8Array): Promise<void> {
    const respond = (bytes: readonly number[] | Uint8Array): Promise<void> => this._sendControl(kMt.response, op, bytes);
    const initialised = this._state === 'idle' || this._state === 'discovering' || this._state === 'active';
    const refuse = (why: string): Promise<void> => {
      this._violation(`${opName(op >> 8, op & 0x3f)}_CMD ${why}`);
      return respond([kStatus.semanticError]);
    };
    switch (op) {
      case kOp.coreReset: {
        if (payload.length !== 1) return respond([kStatus.syntaxError]);
        const resetConfig = payload[0] === 0x01;
        this._endRf(new NciSimulatorError('RESET', 'the DH reset the controller during the exchange'));
        if (resetConfig) this._forgetConfiguration();
        this._setState('reset');
        this._log(`CORE_RESET (${resetConfig ? 'reset configuration' : 'keep configuration'})`);
        if (this.nciVersion === '1.0') return respond([kStatus.ok, 0x10, resetConfig ? 0x01 : 0x00]);
        await respond([kStatus.ok]);
        // Trigger 0x02: the reset was asked for by CORE_RESET_CMD.
        return this._sendControl(kMt.notification, kOp.coreReset, [0x02, resetConfig ? 0x01 : 0x00, 0x20, kManufacturerId, 0x00]);
      }
      case kOp.coreInit: {
        if (this._state !== 'reset' && this._state !== 'powered') return refuse(`in state ${this._state}: CORE_INIT follows a reset`);
        const wanted = this.nciVersion === '2.0' ? 2 : 0;
        if (payload.length !== wanted) {
          this._violation(`CORE_INIT_CMD with ${payload.length} payload byte(s) to an NCI ${this.nciVersion} controller (it takes ${wanted})`);
          return respond([kStatus.syntaxError]);
        }
        this._setState('idle');
        const interfaces = [kRfInterface.frame, kRfInterface.isoDep];
        if (this.nciVersion === '2.0') {
          return respond([
            kStatus.ok,
            0x00, 0x0e, 0x00, 0x00, // features: technology-, protocol- and AID-based listen routing
            0x01, // max logical connections
            0x00, 0x02, // max routing table size (LE): 512
            this.maxControlPayload,
            0xff, // max static HCI data packet payload
            0x01, // static HCI credits
            0x00, 0x01, // max NFC-V frame (LE)
            interfaces.length,
            ...interfaces.flatMap((i) => [i, 0x00]),
          ]);
        }
        return respond([
          kStatus.ok,
          0x00, 0x0e, 0x00, 0x00,
          interfaces.length,
          ...interfaces,
          0x01, // max logical connections
          0x00, 0x02, // max routing table size (LE)
          this.maxControlPayload,
          0x00, 0x04, // max size of large parameters (LE)
          kManufacturerId,
          0x00, 0x00, 0x00, 0x00, // manufacturer info
        ]);
      }
      case kOp.coreSetConfig: {
        if (!initialised) return refuse(`in state ${this._state}: the controller is not initialised`);
        const parsed = parseTlvParams(payload);
        if (!parsed) return respond([kStatus.syntaxError]);
        const invalid = parsed.filter((p) => {
          const lengths = kParamLengths.get(p.id);
          return lengths !== undefined && !lengths.includes(p.value.length);
        });
        for (const p of parsed) if (!invalid.includes(p)) this.config.set(p.id, p.value);
        this._log(`CORE_SET_CONFIG ${parsed.map((p) => `${hexByte(p.id)}=${toHex(p.value) || '(empty)'}`).join(' ')}`);
        if (invalid.length > 0) return respond([kStatus.invalidParam, invalid.length, ...invalid.map((p) => p.id)]);
        return respond([kStatus.ok, 0x00]);
      }
      case kOp.coreGetConfig: {
        if (!initialised) return refuse(`in state ${this._state}: the controller is not initialised`);
        const count = payload[0];
        if (count === undefined || payload.length !== 1 + count) return respond([kStatus.syntaxError]);
        const ids = [...payload.subarray(1)];
        const unknown = ids.filter((id) => !this.config.has(id));
        if (unknown.length > 0) return respond([kStatus.invalidParam, unknown.length, ...unknown.flatMap((id) => [id, 0x00])]);
        return respond([kStatus.ok, ids.length, ...ids.flatMap((id) => [id, this.config.get(id)!.length, ...this.config.get(id)!])]);
      }
      case kOp.rfDiscoverMap: {
        if (this._state !== 'idle') return refuse(`in state ${this._state}: the RF state must be idle`);
        const count = payload[0];
        if (count === undefined || payload.length !== 1 + 3 * count) return respond([kStatus.syntaxError]);
        this.discoverMap = Array.from({ length: count }, (_, i) => ({ protocol: payload[1 + 3 * i]!, mode: payload[2 + 3 * i]!, rfInterface: payload[3 + 3 * i]! }));
        return respond([kStatus.ok]);
      }
      case kOp.rfSetListenModeRouting: {
        if (!initialised) return refuse(`in state ${this._state}: the controller is not initialised`);
        const entries = parseRoutingEntries(payload);
        if (!entries) return respond([kStatus.syntaxError]);
        this.routing = entries;
        return respond([kStatus.ok]);
      }
      case kOp.rfDiscover: {
        if (this._state !== 'idle') return refuse(`in state ${this._state}: discovery starts from the idle RF state`);
        const count = payload[0];
        if (count === undefined || count === 0 || payload.length !== 1 + 2 * count) return respond([kStatus.syntaxError]);
        this.discoverConfigs = Array.from({ length: count }, (_, i) => ({ techMode: payload[1 + 2 * i]!, frequency: payload[2 + 2 * i]! }));
        const armed = this._armed;
        this._armed = undefined;
        this._setState('discovering');
        this._log(`listening: ${this.discoverConfigs.map((c) => `0x${c.techMode.toString(16)}`).join(', ')}`);
        if (!armed) return respond([kStatus.ok]);
        // A reader already in the field: the response, field on and the activation leave in one
        // burst, so that the DH reads them together.
        this._cork = { bytes: [], hooks: [] };
        void respond([kStatus.ok]);
        let activation: Activation | undefined;
        let failure: Error | undefined;
        try {
          activation = await this._activateNow({});
        } catch (e) {
          failure = e as Error;
        }
        const cork = this._cork;
        this._cork = undefined;
        await this._write(concat(...cork.bytes), () => cork.hooks.forEach((hook) => hook()));
        if (activation) armed.resolve(activation);
        else armed.reject(failure ?? new Error('no activation'));
        return;
      }
      case kOp.rfDeactivate: {
        const type = payload[0];
        if (type === undefined || payload.length !== 1) return respond([kStatus.syntaxError]);
        if (this._state !== 'discovering' && this._state !== 'active') return respond([kStatus.semanticError]);
        const wasActive = this._state === 'active';
        if (wasActive) this._endRf(new NciSimulatorError('DEACTIVATED', 'the DH deactivated the RF interface during the exchange'));
        this._setState(type === kDeactivateType.idle ? 'idle' : 'discovering');
        await respond([kStatus.ok]);
        await this._sendControl(kMt.notification, kOp.rfDeactivate, [type, kDeactivateReason.dhRequest]);
        if (wasActive && this._fieldInfo()) await this._sendControl(kMt.notification, kOp.rfFieldInfo, [0x00]);
        return;
      }
      default:
        this._log(`unknown command ${opName(op >> 8, op & 0x3f)}_CMD: answering SYNTAX_ERROR`);
        return respond([kStatus.syntaxError]);
    }
  }

  private _onDataPacket(packet: NciPacket): void {
    if (packet.gid !== 0) {
      this._violation(`the DH sent data on connection ${packet.gid}; only the static RF connection 0 exists`);
      return;
    }
    if (this._state !== 'active') {
      // A packet the DH sent before it saw the deactivation: the NFCC drops it, as a real one does.
      this._log(`dropped ${describePacket(packet)}: no RF interface is active`);
      return;
    }
    if (packet.payload.length > this.maxDataPayload) {
      this._violation(`the DH sent a data packet of ${packet.payload.length} bytes; the RF connection's max data packet payload is ${this.maxDataPayload}`);
      return;
    }
    if (this._dhCredits <= 0) {
      this._violation('the DH sent a data packet without a credit (it had none left: it must wait for CORE_CONN_CREDITS_NTF)');
      return;
    }
    this._dhCredits--;
    void this._returnCredit();
    const pending = this._pending;
    if (!pending) {
      this._violation(`the DH sent an R-APDU segment (${toHex(packet.payload.subarray(0, 8))}…) with no C-APDU outstanding`);
      return;
    }
    pending.parts.push(packet.payload);
    if (packet.pbf) return;
    clearTimeout(pending.timer);
    this._pending = undefined;
    pending.resolve(concat(...pending.parts));
  }

  // --- credits ------------------------------------------------------------------------------

  /** The NFCC sent the packet on over RF: the DH gets its credit back, unless credits are stalled. */
  private async _returnCredit(): Promise<void> {
    if (performance.now() < this._stallUntil) {
      this._owedCredits++;
      return;
    }
    this._dhCredits++;
    await this._sendControl(kMt.notification, kOp.coreConnCredits, [0x01, 0x00, 0x01]);
  }

  private async _flushOwedCredits(): Promise<void> {
    const owed = this._owedCredits;
    this._owedCredits = 0;
    if (owed === 0 || this._state !== 'active') return;
    this._log(`the credit stall ends: ${owed} credit(s) for the DH`);
    this._dhCredits += owed;
    await this._sendControl(kMt.notification, kOp.coreConnCredits, [0x01, 0x00, owed]);
  }

  // --- sending ------------------------------------------------------------------------------

  private _sendControl(mt: MessageType, op: number, payload: readonly number[] | Uint8Array): Promise<void> {
    const packets = segmentMessage(mt, op >> 8, op & 0x3f, Uint8Array.from(payload), 255);
    let last: Promise<void> = Promise.resolve();
    packets.forEach((packet, i) => {
      const isLast = i === packets.length - 1;
      // The DH may send its next command once this response is out (one outstanding command).
      last = this._write(packet, mt === kMt.response && isLast ? () => (this._awaitingResponse = undefined) : undefined);
    });
    return last;
  }

  /** Queues bytes for the line, paced at the baud rate; `onWrite` runs just before they go out. */
  private _write(bytes: Uint8Array, onWrite?: () => void): Promise<void> {
    if (this._cork) {
      this._cork.bytes.push(bytes);
      if (onWrite) this._cork.hooks.push(onWrite);
      return Promise.resolve();
    }
    const pace = this._baud;
    const run = async (): Promise<void> => {
      if (pace) {
        const now = performance.now();
        const due = Math.max(now, this._txFreeAt) + (bytes.length * 10_000) / pace;
        this._txFreeAt = due;
        if (due - now >= 1) await sleepUntil(due);
      }
      if (!this._port.isOpen || this._state === 'closed' || this._state === 'gone') return;
      onWrite?.();
      this._options.trace?.('>', packetTraceHex(bytes));
      await new Promise<void>((resolve) => this._port.write(Buffer.from(bytes), () => resolve()));
    };
    this._txChain = this._txChain.then(run, run);
    return this._txChain;
  }

  // --- state --------------------------------------------------------------------------------

  private _setState(state: ControllerState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state);
  }

  private _listenProblem(): string | undefined {
    if (!this.discoverConfigs.some((c) => c.techMode === kTechMode.nfcBPassiveListen)) {
      return `the DH did not ask to listen as NFC-B (RF_DISCOVER had ${this.discoverConfigs.map((c) => `0x${c.techMode.toString(16)}`).join(', ') || 'nothing'})`;
    }
    if (!this.discoverMap.some((m) => m.protocol === kRfProtocol.isoDep && (m.mode & 0x02) !== 0 && m.rfInterface === kRfInterface.isoDep)) {
      return 'RF_DISCOVER_MAP has no ISO-DEP mapping to the ISO-DEP interface in listen mode';
    }
    return undefined;
  }

  private _fieldInfo(): boolean {
    return this.config.get(kParam.rfFieldInfo)?.[0] === 0x01;
  }

  private _forgetConfiguration(): void {
    this.config.clear();
    this.discoverMap = [];
    this.routing = [];
    this.discoverConfigs = [];
  }

  /** The reader drops the field: RF_DEACTIVATE_NTF (discovery, reason), field off, listening again. */
  private async _endActivation(reason: number, why: string): Promise<void> {
    this._endRf(new NciSimulatorError('DEACTIVATED', `${why} during the exchange`));
    this._setState('discovering');
    this._log(`deactivated: ${why}`);
    await this._sendControl(kMt.notification, kOp.rfDeactivate, [kDeactivateType.discovery, reason]);
    if (this._fieldInfo()) await this._sendControl(kMt.notification, kOp.rfFieldInfo, [0x00]);
  }

  /** Ends whatever RF session there was: the exchange in progress fails with `error`. */
  private _endRf(error: NciSimulatorError): void {
    const pending = this._pending;
    if (pending) {
      clearTimeout(pending.timer);
      this._pending = undefined;
      pending.reject(error);
    }
    const ended = this._activation;
    this._activation = undefined;
    this._dhCredits = 0;
    this._owedCredits = 0;
    if (ended) this.emit('deactivated', error.message.replace(/ during the exchange$/, ''));
  }

  /** The exchange failed; a reader that gives up on an exchange drops the field. */
  private _failPending(error: NciSimulatorError, dropField: boolean): void {
    const pending = this._pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    this._pending = undefined;
    pending.reject(error);
    this._log(`exchange failed: ${error.message}`);
    if (dropField && this._state === 'active') void this._endActivation(kDeactivateReason.rfLinkLoss, 'the reader gave up the exchange and dropped the field');
  }

  private _violation(message: string): void {
    this.violations.push(message);
    this._log(`PROTOCOL VIOLATION: ${message}`);
    this.emit('violation', message);
    if (this._pending) this._failPending(new NciSimulatorError('VIOLATION', `protocol violation by the DH: ${message}`), true);
  }

  private _assertUsable(): void {
    if (this._state === 'closed' || this._state === 'gone') throw new NciSimulatorError('GONE', `the controller simulator's port is ${this._state === 'closed' ? 'closed' : 'gone'}`);
  }

  private _gone(error: NciSimulatorError, state: 'closed' | 'gone'): void {
    this._endRf(error);
    this._armed?.reject(error);
    this._armed = undefined;
    clearTimeout(this._partialTimer);
    clearTimeout(this._stallTimer);
    this._partialTimer = undefined;
    this._stallTimer = undefined;
    this._setState(state);
  }

  private _portClosed(): void {
    if (this._closing) return;
    this._log('the serial port closed under the simulator (the pty pair went away)');
    this._gone(new NciSimulatorError('GONE', 'the serial port closed'), 'gone');
  }

  private async _closePort(): Promise<void> {
    if (!this._port.isOpen) return;
    await new Promise<void>((resolve) => this._port.close(() => resolve()));
  }
}

function clampPayload(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 255) throw new RangeError(`${what} must be 1..255, not ${value}`);
  return value;
}

/** CORE_SET_CONFIG's [NumParams, (Id, Len, Value…)…], or undefined when it does not add up. */
function parseTlvParams(payload: Uint8Array): Array<{ id: number; value: Uint8Array }> | undefined {
  const count = payload[0];
  if (count === undefined) return undefined;
  const params: Array<{ id: number; value: Uint8Array }> = [];
  let offset = 1;
  for (let i = 0; i < count; i++) {
    const id = payload[offset];
    const length = payload[offset + 1];
    if (id === undefined || length === undefined || offset + 2 + length > payload.length) return undefined;
    params.push({ id, value: payload.slice(offset + 2, offset + 2 + length) });
    offset += 2 + length;
  }
  return offset === payload.length ? params : undefined;
}

/** RF_SET_LISTEN_MODE_ROUTING's [More, NumEntries, (Type, Len, Value…)…]. */
function parseRoutingEntries(payload: Uint8Array): Array<{ type: number; value: Uint8Array }> | undefined {
  const count = payload[1];
  if (payload.length < 2 || count === undefined) return undefined;
  const entries: Array<{ type: number; value: Uint8Array }> = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const type = payload[offset];
    const length = payload[offset + 1];
    if (type === undefined || length === undefined || offset + 2 + length > payload.length) return undefined;
    entries.push({ type, value: payload.slice(offset + 2, offset + 2 + length) });
    offset += 2 + length;
  }
  return offset === payload.length ? entries : undefined;
}

/** An NCI packet for the trace: a data packet's C-APDU goes through the one secret mask (a VERIFY's PIN stays out). */
function packetTraceHex(packet: Uint8Array): string {
  const isData = packet.length > 3 && packet[0]! >> 5 === 0;
  return isData ? `${toHex(packet.subarray(0, 3))}${maskCommand(packet.subarray(3))}` : toHex(packet);
}
