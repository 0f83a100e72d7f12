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
 *
 * This file is the composition: the line (paced-line.ts), the control channel (control-channel.ts)
 * with the command tables by group (core-commands.ts, rf-commands.ts), the data exchange and
 * credits (data-exchange.ts), what a reader meets on activation (rf-activation.ts), and the
 * faults' bytes (faults.ts).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SerialPort } from 'serialport';
import { toHex } from '../../../iso7816/bytes.js';
import type { ArmedReader, CommandTable, SimulatorCore } from './command-context.js';
import { isGone, NciSimulatorError, type Activation, type ControllerEvents, type ControllerState, type DeactivationReason, type NciVersion, type SimulatedNciControllerOptions } from './controller-types.js';
import { ControlChannel } from './control-channel.js';
import { kCoreCommands, spontaneousResetPayload } from './core-commands.js';
import { DataExchange } from './data-exchange.js';
import { garbageBytes, truncatedPacket } from './faults.js';
import { kDeactivateReason, kDeactivateType, kFieldStatus, kMt, kOp, kParam } from './nci-packets.js';
import { PacedLine } from './paced-line.js';
import { activatedPayload, atqbFromConfig, listenProblem } from './rf-activation.js';
import { kRfCommands } from './rf-commands.js';

export { NciSimulatorError, type Activation, type ControllerState, type DeactivationReason, type NciSimulatorErrorCode, type NciVersion, type SimulatedNciControllerOptions } from './controller-types.js';

/** Every command the simulated NFCC answers, keyed as (GID << 8) | OID. */
const kCommands: CommandTable = new Map([...kCoreCommands, ...kRfCommands]);

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
  private _log: (line: string) => void;
  private readonly _line: PacedLine;
  private readonly _exchange: DataExchange;
  private readonly _control: ControlChannel;
  private _activation: Activation | undefined;
  private _activations = 0;
  private _closing = false;
  /** A reader already in the field: activate right behind the next RF_DISCOVER_RSP. */
  private _armed: ArmedReader | undefined;

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
    this._log = (line) => _options.log?.(`nci-sim: ${line}`);
    this._line = new PacedLine(
      _port,
      {
        packet: (packet) => (packet.mt === kMt.command ? this._control.received(packet) : this._exchange.received(packet)),
        violation: (message) => this._violation(message),
        gone: () => isGone(this._state),
        trace: _options.trace,
      },
      _options.baudRate,
    );
    this._exchange = new DataExchange({
      maxDataPayload: this.maxDataPayload,
      forwardSegmentSize: this.forwardSegmentSize,
      state: () => this._state,
      write: (packet) => this._line.write(packet),
      notify: (op, payload) => this._notify(op, payload),
      violation: (message) => this._violation(message),
      log: this._log,
      dropField: () => void this._endActivation(kDeactivateReason.rfLinkLoss, 'the reader gave up the exchange and dropped the field'),
    });
    const core = this._commandCore();
    this._control = new ControlChannel({
      line: this._line,
      commands: kCommands,
      maxControlPayload: this.maxControlPayload,
      state: () => this._state,
      core: () => core,
      command: (name) => {
        this.commands.push(name);
        if (this.commands.length > 1000) this.commands.shift();
        this.emit('command', name);
      },
      violation: (message) => this._violation(message),
      log: this._log,
    });
    _port.on('data', (chunk: Buffer) => this._line.received(new Uint8Array(chunk)));
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
    return this._exchange.dhCredits;
  }

  get baudRate(): number | undefined {
    return this._line.baud;
  }

  /** Changes the pacing (undefined: none); the port itself is a pty, whose speed setting means nothing. */
  setBaudRate(baud: number | undefined): void {
    if (baud !== undefined && !(baud > 0)) throw new RangeError(`baud rate ${baud} is not positive`);
    this._line.baud = baud;
  }

  /** True when the DH asked to listen as an NFC-B card with ISO-DEP routed to it. */
  listensAsTypeB(): boolean {
    return listenProblem(this.discoverConfigs, this.discoverMap) === undefined;
  }

  /** The ATQB (SENSB_RES) a reader would receive now, from the listen-B parameters the DH set. */
  atqb(pupi?: Uint8Array): Uint8Array {
    const nfcid0 = this.config.get(kParam.lbNfcid0);
    const id = pupi ?? (nfcid0 && nfcid0.length === 4 ? nfcid0 : this._activation?.atqb.subarray(1, 5) ?? new Uint8Array(4));
    return atqbFromConfig(this.config, id);
  }

  /**
   * Resolves once the DH listens (RF discovery started) and has sent nothing for `quietMs` — after
   * a fault, the moment it has settled again; rejects with NOT_LISTENING after `timeoutMs`.
   */
  async waitForListening(options: { timeoutMs?: number; quietMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const quietMs = options.quietMs ?? 0;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this._assertUsable();
      if (this._state === 'discovering' && performance.now() - this._line.lastRxAt >= quietMs) return;
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
    await this.waitForListening(options);
    return this._activateNow(options);
  }

  private async _activateNow(options: { pupi?: Uint8Array; higherLayerInfo?: Uint8Array }): Promise<Activation> {
    const problem = listenProblem(this.discoverConfigs, this.discoverMap);
    if (problem) throw new NciSimulatorError('NOT_LISTENING', `a Type B reader cannot activate the card: ${problem}`);
    if (this._fieldInfo()) await this._notify(kOp.rfFieldInfo, [kFieldStatus.on]);
    const nfcid0 = this.config.get(kParam.lbNfcid0);
    const pupi = options.pupi ?? (nfcid0 && nfcid0.length === 4 ? nfcid0 : new Uint8Array(randomBytes(4)));
    const activation: Activation = { number: ++this._activations, atqb: this.atqb(pupi), attribResponse: 0x00 };
    this._activation = activation;
    this._exchange.begin(this.initialCredits);
    this._setState('active');
    await this._notify(kOp.rfIntfActivated, activatedPayload(this.maxDataPayload, this.initialCredits, options.higherLayerInfo ?? new Uint8Array(0)));
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
    if (this._exchange.busy) throw new NciSimulatorError('BUSY', 'an exchange is in progress: ISO-DEP carries one C-APDU at a time');
    return this._exchange.transmit(command, activation.number, options.timeoutMs ?? this.responseTimeoutMs);
  }

  /** The reader leaves (link loss) or deselects (endpoint request): RF_DEACTIVATE_NTF, back to listening. */
  async deactivate(reason: DeactivationReason = 'link-loss'): Promise<void> {
    if (this._state !== 'active') return;
    await this._endActivation(reason === 'link-loss' ? kDeactivateReason.rfLinkLoss : kDeactivateReason.endpointRequest, `the reader ${reason === 'link-loss' ? 'left the field' : 'deselected the card'}`);
  }

  // --- faults -------------------------------------------------------------------------------

  /** Bytes that no NFCC would send (by default, bytes whose message type is reserved). */
  async injectGarbage(bytes: Uint8Array = garbageBytes()): Promise<void> {
    this._log(`fault: ${bytes.length} garbage byte(s) on the line: ${toHex(bytes)}`);
    await this._line.write(bytes);
  }

  /**
   * A packet whose header promises more than ever comes. While a card is active it is a data
   * packet (a C-APDU cut short); otherwise an RF_INTF_ACTIVATED_NTF cut in the middle.
   */
  async sendTruncatedPacket(): Promise<void> {
    const { cut, whole } = truncatedPacket(this._state === 'active');
    this._log(`fault: truncated packet: ${cut.length} of ${whole} bytes (${toHex(cut)}), the rest never comes`);
    await this._line.write(cut);
  }

  /** Withholds CORE_CONN_CREDITS_NTF for `ms`; the credits owed go out when the stall ends. */
  stallCredits(ms: number): void {
    this._exchange.stallCredits(ms);
  }

  /**
   * The controller resets itself: an unsolicited CORE_RESET_NTF, and everything it knew is gone
   * (configuration, discovery, the RF link). The DH must initialise it again.
   */
  async resetController(trigger: 'unrecoverable-error' | 'power-on' = 'unrecoverable-error'): Promise<void> {
    this._log(`fault: the controller resets itself (${trigger})`);
    this._endRf(new NciSimulatorError('RESET', 'the controller reset itself during the exchange'));
    this._forgetConfiguration();
    this._control.reset();
    this._setState('reset');
    await this._notify(kOp.coreReset, spontaneousResetPayload(this.nciVersion, trigger));
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
    if (isGone(this._state)) return;
    this._closing = true;
    this._gone(new NciSimulatorError('GONE', 'the controller simulator was closed'), 'closed');
    await this._line.drain();
    await this._closePort();
  }

  /** The controller as its command handlers see it. */
  private _commandCore(): SimulatorCore {
    return {
      nfcc: this,
      state: () => this._state,
      setState: (state) => this._setState(state),
      log: (line) => this._log(line),
      violation: (message) => this._violation(message),
      notify: (op, payload) => this._notify(op, payload),
      endRf: (error) => this._endRf(error),
      forgetConfiguration: () => this._forgetConfiguration(),
      fieldInfo: () => this._fieldInfo(),
      takeArmed: () => {
        const armed = this._armed;
        this._armed = undefined;
        return armed;
      },
      activateNow: () => this._activateNow({}),
      cork: () => this._line.cork(),
      uncork: () => this._line.uncork(),
    };
  }

  private _notify(op: number, payload: readonly number[]): Promise<void> {
    return this._control.send(kMt.notification, op, payload);
  }

  // --- state --------------------------------------------------------------------------------

  private _setState(state: ControllerState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state);
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
    await this._notify(kOp.rfDeactivate, [kDeactivateType.discovery, reason]);
    if (this._fieldInfo()) await this._notify(kOp.rfFieldInfo, [kFieldStatus.off]);
  }

  /** Ends whatever RF session there was: the exchange in progress fails with `error`. */
  private _endRf(error: NciSimulatorError): void {
    this._exchange.end(error);
    const ended = this._activation;
    this._activation = undefined;
    if (ended) this.emit('deactivated', error.message.replace(/ during the exchange$/, ''));
  }

  private _violation(message: string): void {
    this.violations.push(message);
    this._log(`PROTOCOL VIOLATION: ${message}`);
    this.emit('violation', message);
    this._exchange.fail(new NciSimulatorError('VIOLATION', `protocol violation by the DH: ${message}`), true);
  }

  private _assertUsable(): void {
    if (isGone(this._state)) throw new NciSimulatorError('GONE', `the controller simulator's port is ${this._state === 'closed' ? 'closed' : 'gone'}`);
  }

  private _gone(error: NciSimulatorError, state: 'closed' | 'gone'): void {
    this._endRf(error);
    this._armed?.reject(error);
    this._armed = undefined;
    this._line.stop();
    this._exchange.stop();
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
