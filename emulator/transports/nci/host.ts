/**
 * The NCI device host that serves the emulated card as a contactless card: it initialises an NFC
 * controller (a PN7150/PN7160 behind a microcontroller that forwards NCI over a serial line) for
 * listen-mode ISO-DEP, and answers the C-APDUs a reader sends over the static RF connection with the
 * card's R-APDUs. The sequence and the recoveries are those of docs/nci-bridge.md:
 *
 *   CORE_RESET(reset config) → [CORE_RESET_NTF] → CORE_INIT → CORE_SET_CONFIG → RF_DISCOVER_MAP →
 *   RF_SET_LISTEN_MODE_ROUTING → RF_DISCOVER → RF_INTF_ACTIVATED_NTF → data on ConnId 0 … →
 *   RF_DEACTIVATE_NTF → listening again.
 *
 * Every command has a timeout; no answer, a controller that resets itself or a garbled stream
 * means CORE_RESET and initialise again (bounded: a controller that keeps failing stops the host
 * with an error). The line going away stops the host with "the NCI port … went away".
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { toHex } from '../../../iso7816/bytes.js';
import type { CardSlot } from '../control-api.js';
import type { ServedCard } from '../served-card.js';
import type { ByteLink } from './byte-link.js';
import {
  controllerInfo,
  coreInitPayload,
  defaultTypeBParameters,
  describeController,
  describeDeactivationReason,
  describeDeactivationType,
  describeInterface,
  describeMessage,
  describeResetTrigger,
  describeStatus,
  discoverMapPayload,
  discoverPayload,
  nciByte as hex,
  kCoreResetResetConfig,
  kCreditsFlowControlOff,
  kDeactivationType,
  kGid,
  kNciStatus,
  kNfcAPassiveListen,
  kOid,
  kOptionalConfigParams,
  kRfInterfaceIsoDep,
  kRfProtocolIsoDep,
  kStaticRfConnId,
  listenConfigParams,
  listenRoutingPayload,
  messageName,
  parseActivation,
  parseCoreInitResponse,
  parseCoreResetNotification,
  parseCoreResetResponse,
  parseCredits,
  parseSetConfigResponse,
  setConfigPayload,
  typeBParametersFromAtr,
  type Activation,
  type CoreResetNotification,
  type NciControllerInfo,
  type NfcTechnology,
  type TypeBParameters,
} from './messages.js';
import { controlMessage, dataMessage, encodeMessage, NciParser, type NciControlMessage, type NciMessage, type NciParserEvent } from './packet.js';

export type NciHostState = 'initialising' | 'listening' | 'active' | 'removed' | 'recovering' | 'stopped';

export interface NciHostOptions {
  /** RF technologies to listen on: NFC-B (the My Number Card's), optionally NFC-A as well. Default ['B']. */
  technologies?: readonly NfcTechnology[];
  /** How long each command waits for its response. Default 1000 ms. */
  commandTimeoutMs?: number;
  /** How long the line may stay quiet in the middle of a packet before the packet counts as garbage. Default 250 ms. */
  silenceMs?: number;
  /** After how long without credits the host says that an answer is waiting. Default 1000 ms. */
  creditLogMs?: number;
  /** After how long without credits the host gives the answer up. Default 5000 ms. */
  creditTimeoutMs?: number;
  /** Pause before the first retry of a failed initialisation; doubles up to 8 s. Default 500 ms. */
  retryPauseMs?: number;
  /** Consecutive failed initialisations before the host stops with an error. Default 5. */
  maxInitAttempts?: number;
  /** On a garbled stream: reset the controller (default), or only skip to the next plausible packet. */
  onGarbage?: 'reset' | 'resync';
  /** Listen as soon as the controller is initialised (default true); false starts "removed". */
  listen?: boolean;
  /** NFCID0 (the PUPI) the reader sees, 4 bytes; default: random at each initialisation. */
  pupi?: Uint8Array;
  /** NFCID1 for NFC-A, 4 bytes; default: random (first byte 08) at each initialisation. */
  nfcid1?: Uint8Array;
}

export interface NciHostEvents {
  state: [NciHostState];
  log: [string];
  activated: [Activation];
  /** A session ended: why, in words. */
  deactivated: [string];
  /** The controller reported the reader's RF field coming (true) or going (false). */
  field: [boolean];
}

export class NciHostError extends Error {
  constructor(
    message: string,
    /** Retrying cannot help (the controller lacks what the card needs). */
    readonly fatal = false,
  ) {
    super(message);
    this.name = 'NciHostError';
  }
}

/** The serial port (or whatever carried NCI) is gone. */
export class NciPortGoneError extends NciHostError {
  constructor(message: string) {
    super(message, true);
    this.name = 'NciPortGoneError';
  }
}

/** An operation belongs to an initialisation that was superseded (reset, stop). */
class StaleError extends Error {
  constructor() {
    super('superseded');
  }
}

class SessionEndedError extends Error {}

interface PendingCommand {
  gid: number;
  oid: number;
  resolve(payload: Uint8Array): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface ResetWaiter {
  resolve(notification: CoreResetNotification): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

interface CreditWaiter {
  grant(): void;
  abort(error: Error): void;
}

const kDefaults = {
  commandTimeoutMs: 1000,
  silenceMs: 250,
  creditLogMs: 1000,
  creditTimeoutMs: 5000,
  retryPauseMs: 500,
  maxInitAttempts: 5,
};

export class NciCardHost extends EventEmitter<NciHostEvents> implements CardSlot {
  private _state: NciHostState = 'initialising';
  private _started = false;
  private _everReady = false;
  private _wantListening: boolean;
  private _epoch = 0;
  private readonly _parser = new NciParser({ from: 'nfcc', isOpenConnection: (connId) => connId === kStaticRfConnId });
  private _pending: PendingCommand | undefined;
  private _resetWaiter: ResetWaiter | undefined;
  private _lock: Promise<unknown> = Promise.resolve();
  private _needInit = false;
  private _initRunning = false;
  private _controller: NciControllerInfo | undefined;
  private _maxControlPayload = 255;
  private _session = 0;
  private _activation: Activation | undefined;
  private _credits = 0;
  private _flowControl = true;
  private _creditWaiter: CreditWaiter | undefined;
  private _serveQueue: Promise<void> = Promise.resolve();
  private _silenceTimer: NodeJS.Timeout | undefined;
  private readonly _timers = new Set<NodeJS.Timeout>();
  private readonly _wakers = new Set<() => void>();
  private _lastGarbleLog = 0;
  private _garbleUnlogged = 0;
  private _linkClosed = false;
  private _error: Error | undefined;
  private _resolveStopped!: (error: Error | undefined) => void;
  private readonly _technologies: readonly NfcTechnology[];
  private readonly _typeB: TypeBParameters;
  private readonly _fromAtr: boolean;
  private readonly _o: typeof kDefaults & { onGarbage: 'reset' | 'resync' };
  private readonly _onData = (bytes: Uint8Array): void => this._receive(bytes);
  private readonly _onClose = (error?: Error): void => this._linkGone(error);

  /** Resolves when the host has stopped: with the error that stopped it, or undefined after `stop()`. */
  readonly stopped: Promise<Error | undefined>;

  constructor(
    readonly served: ServedCard,
    private readonly _link: ByteLink,
    private readonly _options: NciHostOptions = {},
  ) {
    super();
    this.stopped = new Promise((resolve) => (this._resolveStopped = resolve));
    this._o = {
      commandTimeoutMs: _options.commandTimeoutMs ?? kDefaults.commandTimeoutMs,
      silenceMs: _options.silenceMs ?? kDefaults.silenceMs,
      creditLogMs: _options.creditLogMs ?? kDefaults.creditLogMs,
      creditTimeoutMs: _options.creditTimeoutMs ?? kDefaults.creditTimeoutMs,
      retryPauseMs: _options.retryPauseMs ?? kDefaults.retryPauseMs,
      maxInitAttempts: _options.maxInitAttempts ?? kDefaults.maxInitAttempts,
      onGarbage: _options.onGarbage ?? 'reset',
    };
    const technologies = _options.technologies ?? ['B'];
    if (!technologies.includes('B')) throw new RangeError('the NCI host always listens for NFC-B (the My Number Card is a Type B card)');
    this._technologies = technologies.includes('A') ? ['B', 'A'] : ['B'];
    if (_options.pupi && _options.pupi.length !== 4) throw new RangeError('the PUPI (NFCID0) is 4 bytes');
    if (_options.nfcid1 && _options.nfcid1.length !== 4) throw new RangeError('NFCID1 must be 4 bytes');
    this._wantListening = _options.listen ?? true;
    const fromAtr = typeBParametersFromAtr(served.card.atr);
    this._typeB = fromAtr ?? defaultTypeBParameters();
    this._fromAtr = fromAtr !== undefined;
  }

  get state(): NciHostState {
    return this._state;
  }

  /** Where the controller is: the link's description. */
  get address(): string {
    return this._link.description;
  }

  get technologies(): readonly NfcTechnology[] {
    return this._technologies;
  }

  /** ATQB's Application Data and Protocol Info as configured (from the card's contactless ATR). */
  get typeB(): TypeBParameters {
    return this._typeB;
  }

  /** What the controller said about itself at the last initialisation. */
  get controller(): NciControllerInfo | undefined {
    return this._controller;
  }

  /** The current RF session's activation, while a reader holds the card. */
  get activation(): Activation | undefined {
    return this._activation;
  }

  /** Why the host stopped, when it stopped on its own. */
  get error(): Error | undefined {
    return this._error;
  }

  /**
   * Starts: initialises the controller and listens. Resolves once listening (or initialised and
   * "removed" with `listen: false`); rejects with the error when the host stops before that.
   */
  start(): Promise<void> {
    if (!this._started) {
      this._started = true;
      this._link.on('data', this._onData);
      this._link.on('close', this._onClose);
      if (!this._fromAtr) this._log(`the card's ATR ${toHex(this.served.card.atr)} is not a contactless Type B ATR: the controller presents the default Type B parameters`);
      this._requestInit(undefined);
    }
    return this._waitFor((s) => s === 'listening' || s === 'active' || s === 'removed');
  }

  /** Puts the card (back) into the field: the controller listens again. */
  insert(): Promise<void> {
    if (this._isStopped()) return Promise.reject(this._error ?? new NciHostError('the NCI host has stopped'));
    this._wantListening = true;
    this._reconcile();
    return this._waitFor((s) => s === 'listening' || s === 'active');
  }

  /** Takes the card out of the field: the controller stops listening (and ends a session in progress). */
  remove(): Promise<void> {
    this._wantListening = false;
    if (this._isStopped()) return Promise.resolve();
    this._reconcile();
    return this._waitFor((s) => s === 'removed').catch(() => undefined);
  }

  /** Stops: tells the controller to stop listening (best effort), and closes the link. */
  async stop(): Promise<void> {
    if (this._isStopped()) return;
    this._wantListening = false;
    if (this._state === 'listening' || this._state === 'active') {
      this._send(controlMessage('command', kGid.rf, kOid.rfDeactivate, [kDeactivationType.idle]));
    }
    await this._shutdown(undefined);
  }

  // --- State ---------------------------------------------------------------------------------

  /** A method, not a comparison: the state changes across awaits, which narrowing cannot see. */
  private _isStopped(): boolean {
    return this._state === 'stopped';
  }

  /** RF_DISCOVER is out and its response not yet handled: an activation now is a reader already in the field. */
  private _discoverSent = false;
  private _pendingActivation: Uint8Array | undefined;
  /** Data messages the reader sent right after that activation, in the same burst: served after it. */
  private _pendingData: Uint8Array[] = [];

  private _setState(state: NciHostState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state);
  }

  private _log(line: string): void {
    this.emit('log', line);
  }

  private _waitFor(accept: (state: NciHostState) => boolean): Promise<void> {
    if (accept(this._state)) return Promise.resolve();
    if (this._isStopped()) return Promise.reject(this._error ?? new NciHostError('the NCI host has stopped'));
    return new Promise((resolve, reject) => {
      const listener = (state: NciHostState): void => {
        if (accept(state)) {
          this.off('state', listener);
          resolve();
        } else if (state === 'stopped') {
          this.off('state', listener);
          reject(this._error ?? new NciHostError('the NCI host has stopped'));
        }
      };
      this.on('state', listener);
    });
  }

  private _timer(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      fn();
    }, ms);
    this._timers.add(timer);
    return timer;
  }

  private _clearTimer(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this._timers.delete(timer);
  }

  /** A pause that ends early when the host stops. */
  private _delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this._wakers.delete(wake);
        this._clearTimer(timer);
        resolve();
      };
      const timer = this._timer(ms, wake);
      this._wakers.add(wake);
    });
  }

  /** Runs multi-command operations one at a time. */
  private _exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this._lock.then(fn);
    this._lock = run.catch(() => undefined);
    return run;
  }

  // --- Link ------------------------------------------------------------------------------------

  private _send(message: NciMessage): void {
    const max = message.mt === 'data' ? (this._activation?.maxDataPayload ?? 255) : this._maxControlPayload;
    for (const packet of encodeMessage(message, max)) if (!this._write(packet)) return;
  }

  private _write(bytes: Uint8Array): boolean {
    if (this._linkClosed || this._isStopped()) return false;
    try {
      this._link.write(bytes);
      return true;
    } catch (e) {
      this._linkGone(e as Error);
      return false;
    }
  }

  private _linkGone(error: Error | undefined): void {
    this._linkClosed = true;
    if (this._isStopped()) return;
    void this._shutdown(new NciPortGoneError(`the NCI port ${this.address} went away${error ? ` (${error.message})` : ''}`));
  }

  private async _shutdown(error: Error | undefined): Promise<void> {
    if (this._isStopped()) return;
    this._error = error;
    this._epoch++;
    this._abortPending(error ?? new StaleError());
    this._endSession();
    this._clearTimer(this._silenceTimer);
    for (const timer of this._timers) clearTimeout(timer);
    this._timers.clear();
    for (const wake of [...this._wakers]) wake();
    this._link.off('data', this._onData);
    if (error) this._log(error.message);
    this._setState('stopped');
    this._resolveStopped(error);
    if (!this._linkClosed) {
      this._linkClosed = true;
      this._link.off('close', this._onClose);
      try {
        await this._link.close();
      } catch {
        // Closing a line that is already gone has nothing left to report.
      }
    }
  }

  private _receive(bytes: Uint8Array): void {
    if (this._isStopped()) return;
    this._handleEvents(this._parser.push(bytes));
    this._clearTimer(this._silenceTimer);
    this._silenceTimer = undefined;
    if (this._parser.hasPartialPacket) {
      this._silenceTimer = this._timer(this._o.silenceMs, () => {
        this._silenceTimer = undefined;
        this._handleEvents(this._parser.expire());
      });
    }
  }

  private _handleEvents(events: NciParserEvent[]): void {
    for (const event of events) {
      if (this._isStopped()) return;
      if (event.kind === 'garbled') this._garbled(event);
      else this._message(event.message);
    }
  }

  private _garbled(event: Extract<NciParserEvent, { kind: 'garbled' }>): void {
    // The discarded bytes themselves stay out of the log: a stretch of a data packet can hold a VERIFY's PIN.
    const text = `garbled NCI stream: ${event.reason} (${event.discarded} byte(s) discarded)`;
    const ready = this._state === 'listening' || this._state === 'active' || this._state === 'removed';
    if (ready && this._o.onGarbage === 'reset') {
      this._log(`${text}: resetting the NFC controller`);
      this._requestInit('garbled NCI stream');
      return;
    }
    // While initialising, a command that lost its answer times out and the initialisation retries;
    // a burst of garbage is said once a second, not once per stretch.
    const now = Date.now();
    if (now - this._lastGarbleLog >= 1000) {
      this._log(`${text}${this._garbleUnlogged > 0 ? ` (and ${this._garbleUnlogged} more garbled stretch(es) before it)` : ''}; skipping to the next packet`);
      this._lastGarbleLog = now;
      this._garbleUnlogged = 0;
    } else {
      this._garbleUnlogged++;
    }
  }

  private _message(message: NciMessage): void {
    switch (message.mt) {
      case 'data':
        this._data(message.payload);
        return;
      case 'response':
        this._response(message);
        return;
      case 'notification':
        this._notification(message);
        return;
      case 'command':
        return;
    }
  }

  // --- Commands --------------------------------------------------------------------------------

  private _command(epoch: number, gid: number, oid: number, payload: ArrayLike<number>): Promise<Uint8Array> {
    if (epoch !== this._epoch || this._isStopped()) return Promise.reject(new StaleError());
    const name = messageName('command', gid, oid);
    return new Promise((resolve, reject) => {
      const timer = this._timer(this._o.commandTimeoutMs, () => {
        if (this._pending?.timer !== timer) return;
        this._pending = undefined;
        reject(new NciHostError(`no answer to ${name} within ${this._o.commandTimeoutMs} ms`));
      });
      this._pending = { gid, oid, resolve, reject, timer };
      this._send(controlMessage('command', gid, oid, payload));
    });
  }

  /** A command whose response is just a status, which must be OK. */
  private async _okCommand(epoch: number, gid: number, oid: number, payload: ArrayLike<number>): Promise<void> {
    const status = (await this._command(epoch, gid, oid, payload))[0];
    if (status !== kNciStatus.ok) throw new NciHostError(`${messageName('command', gid, oid)} answered ${describeStatus(status)}`);
  }

  private _response(message: NciControlMessage): void {
    const pending = this._pending;
    if (!pending || pending.gid !== message.gid || pending.oid !== message.oid) {
      this._log(`unexpected ${describeMessage(message)} (no such command is waiting): ignored`);
      return;
    }
    this._pending = undefined;
    this._clearTimer(pending.timer);
    pending.resolve(message.payload);
  }

  private _abortPending(error: Error): void {
    const pending = this._pending;
    this._pending = undefined;
    if (pending) {
      this._clearTimer(pending.timer);
      pending.reject(error);
    }
    const waiter = this._resetWaiter;
    this._resetWaiter = undefined;
    if (waiter) {
      this._clearTimer(waiter.timer);
      waiter.reject(error);
    }
  }

  // --- Initialisation --------------------------------------------------------------------------

  /** Starts (or restarts) the initialisation; whatever the previous one was doing is abandoned. */
  private _requestInit(reason?: string): void {
    if (this._isStopped()) return;
    this._epoch++;
    this._abortPending(new StaleError());
    this._endSession(reason);
    this._setState(this._everReady ? 'recovering' : 'initialising');
    this._needInit = true;
    if (!this._initRunning) void this._initLoop();
  }

  private async _initLoop(): Promise<void> {
    this._initRunning = true;
    let failures = 0;
    try {
      while (this._needInit && !this._isStopped()) {
        this._needInit = false;
        const epoch = this._epoch;
        try {
          await this._exclusive(() => this._initialise(epoch));
          failures = 0;
        } catch (e) {
          if (this._isStopped()) return;
          const error = e as Error;
          failures++;
          const why = error instanceof StaleError ? 'interrupted by a controller reset' : error.message;
          if (error instanceof NciHostError && error.fatal) {
            await this._shutdown(error);
            return;
          }
          if (failures >= this._o.maxInitAttempts) {
            await this._shutdown(
              new NciHostError(
                `the NFC controller on ${this.address} did not initialise after ${failures} attempts (last: ${why}); ` +
                  'check the baud rate, the wiring (TX↔RX) and that the microcontroller forwards NCI unchanged (jpki-hil doctor --nci)',
              ),
            );
            return;
          }
          if (!(error instanceof StaleError)) {
            const pause = Math.min(this._o.retryPauseMs * 2 ** (failures - 1), 8000);
            this._log(`initialisation failed: ${why}; trying again in ${pause} ms (attempt ${failures + 1} of ${this._o.maxInitAttempts})`);
            await this._delay(pause);
            if (this._isStopped()) return;
            // Answers that arrive late for the failed attempt must not count for the next one.
            this._epoch++;
            this._abortPending(new StaleError());
          }
          this._needInit = true;
        }
      }
    } finally {
      this._initRunning = false;
    }
  }

  private async _initialise(epoch: number): Promise<void> {
    if (epoch !== this._epoch) throw new StaleError();
    this._parser.reset();
    this._clearTimer(this._silenceTimer);
    this._silenceTimer = undefined;
    this._maxControlPayload = 255;

    // CORE_RESET: NCI 2.0 answers [Status] then CORE_RESET_NTF; NCI 1.x answers [Status, Version, ConfigStatus].
    let notification: CoreResetNotification | undefined;
    const ntf = new Promise<CoreResetNotification>((resolve, reject) => (this._resetWaiter = { resolve, reject }));
    ntf.then((n) => (notification = n)).catch(() => undefined);
    const reset = parseCoreResetResponse(await this._command(epoch, kGid.core, kOid.coreReset, [kCoreResetResetConfig]));
    if (reset.status !== kNciStatus.ok) throw new NciHostError(`CORE_RESET answered ${describeStatus(reset.status)}`);
    if (reset.nciVersion !== undefined) {
      this._resetWaiter = undefined;
    } else if (!notification) {
      const waiter = this._resetWaiter;
      if (waiter) {
        waiter.timer = this._timer(this._o.commandTimeoutMs, () => {
          if (this._resetWaiter !== waiter) return;
          this._resetWaiter = undefined;
          waiter.reject(new NciHostError(`no CORE_RESET_NTF within ${this._o.commandTimeoutMs} ms of CORE_RESET_RSP`));
        });
      }
      notification = await ntf;
    }
    const nciVersion = notification?.nciVersion ?? reset.nciVersion ?? 0x20;

    const init = parseCoreInitResponse(await this._command(epoch, kGid.core, kOid.coreInit, coreInitPayload(nciVersion)), nciVersion);
    if (init.status !== kNciStatus.ok) throw new NciHostError(`CORE_INIT answered ${describeStatus(init.status)}`);
    const info = controllerInfo(reset, notification, init);
    if (!info.interfaces.includes(kRfInterfaceIsoDep)) {
      throw new NciHostError(`the NFC controller on ${this.address} offers no ISO-DEP RF interface (it lists ${info.interfaces.map(describeInterface).join(', ') || 'none'}): it cannot serve a card`, true);
    }
    this._controller = info;
    this._maxControlPayload = Math.min(Math.max(info.maxControlPayload, 1), 255);

    const params = listenConfigParams({
      technologies: this._technologies,
      typeB: this._typeB,
      pupi: this._options.pupi ?? Uint8Array.from(randomBytes(4)),
      nfcid1: this._options.nfcid1 ?? Uint8Array.from([0x08, ...randomBytes(3)]),
    });
    const config = parseSetConfigResponse(await this._command(epoch, kGid.core, kOid.coreSetConfig, setConfigPayload(params)));
    if (config.status !== kNciStatus.ok) {
      const refused = config.invalid.map(hex).join(', ');
      if (config.status === kNciStatus.invalidParam && config.invalid.length > 0 && config.invalid.every((id) => kOptionalConfigParams.has(id))) {
        this._log(`the NFC controller refused configuration parameter(s) ${refused}; going on without them`);
      } else {
        throw new NciHostError(`CORE_SET_CONFIG answered ${describeStatus(config.status)}${refused ? ` (refused: ${refused})` : ''}`);
      }
    }
    await this._okCommand(epoch, kGid.rf, kOid.rfDiscoverMap, discoverMapPayload());
    await this._okCommand(epoch, kGid.rf, kOid.rfSetListenModeRouting, listenRoutingPayload(this._technologies));
    const listen = this._wantListening;
    this._pendingActivation = undefined;
    this._pendingData = [];
    this._discoverSent = listen;
    try {
      if (listen) await this._okCommand(epoch, kGid.rf, kOid.rfDiscover, discoverPayload(this._technologies));
    } finally {
      this._discoverSent = false;
    }
    if (epoch !== this._epoch) throw new StaleError();
    this._everReady = true;
    this._log(`NFC controller ready on ${this.address}: ${describeController(info)}; ${listen ? `listening for ${this._technologies.map((t) => `NFC-${t}`).join(' and ')}` : 'not listening (card removed)'}`);
    this._setState(listen ? 'listening' : 'removed');
    const pending = this._pendingActivation;
    const pendingData = this._pendingData;
    this._pendingActivation = undefined;
    this._pendingData = [];
    if (pending && listen) {
      this._activated(pending);
      for (const apdu of pendingData) this._data(apdu);
    }
  }

  // --- Listening, removed ----------------------------------------------------------------------

  /** Brings the controller in line with insert/remove: listening when wanted, idle when not. */
  private _reconcile(): void {
    void this._exclusive(async () => {
      const epoch = this._epoch;
      const state = this._state;
      try {
        if (!this._wantListening && (state === 'listening' || state === 'active')) {
          const status = (await this._command(epoch, kGid.rf, kOid.rfDeactivate, [kDeactivationType.idle]))[0];
          if (status !== kNciStatus.ok) this._log(`RF_DEACTIVATE answered ${describeStatus(status)}; counting the card as out of the field`);
          this._endSession('the card was taken out of the field');
          this._log('the card is out of the field: the controller stopped listening');
          this._setState('removed');
        } else if (this._wantListening && state === 'removed') {
          const status = (await this._command(epoch, kGid.rf, kOid.rfDiscover, discoverPayload(this._technologies)))[0];
          // DISCOVERY_ALREADY_STARTED: it is listening already.
          if (status !== kNciStatus.ok && status !== 0xa0) throw new NciHostError(`RF_DISCOVER answered ${describeStatus(status)}`);
          this._log('the card is in the field: the controller listens again');
          this._setState('listening');
        }
      } catch (e) {
        if (e instanceof StaleError || this._isStopped()) return;
        this._log(`${(e as Error).message}: resetting the NFC controller`);
        this._requestInit((e as Error).message);
      }
    });
  }

  // --- Notifications ---------------------------------------------------------------------------

  private _notification(message: NciControlMessage): void {
    const { gid, oid, payload } = message;
    if (gid === kGid.core) {
      switch (oid) {
        case kOid.coreReset:
          this._resetNotification(payload);
          return;
        case kOid.coreConnCredits:
          this._creditsNotification(payload);
          return;
        case kOid.coreGenericError:
          this._log(`the NFC controller reports ${describeStatus(payload[0])}`);
          return;
        case kOid.coreInterfaceError:
          this._log(`the NFC controller reports ${describeStatus(payload[0])} on connection ${payload[1] ?? '?'}`);
          return;
      }
    } else if (gid === kGid.rf) {
      switch (oid) {
        case kOid.rfIntfActivated:
          this._activated(payload);
          return;
        case kOid.rfDeactivate:
          this._deactivated(payload);
          return;
        case kOid.rfFieldInfo: {
          const on = (payload[0] ?? 0) & 0x01;
          this.emit('field', on === 1);
          return;
        }
      }
    }
    this._log(`ignoring ${describeMessage(message)}`);
  }

  private _resetNotification(payload: Uint8Array): void {
    const waiter = this._resetWaiter;
    if (waiter) {
      this._resetWaiter = undefined;
      this._clearTimer(waiter.timer);
      try {
        waiter.resolve(parseCoreResetNotification(payload));
      } catch (e) {
        waiter.reject(e as Error);
      }
      return;
    }
    const trigger = payload[0] ?? 0;
    // The answer to our own CORE_RESET arriving late belongs to the initialisation in progress.
    if (trigger === 0x02 && (this._state === 'initialising' || this._state === 'recovering')) return;
    this._log(`the NFC controller reset itself (${describeResetTrigger(trigger)}): initialising again`);
    this._requestInit('the NFC controller reset');
  }

  private _creditsNotification(payload: Uint8Array): void {
    let entries;
    try {
      entries = parseCredits(payload);
    } catch (e) {
      this._log(`malformed CORE_CONN_CREDITS_NTF: ${(e as Error).message}`);
      return;
    }
    for (const { connId, credits } of entries) {
      if (connId !== kStaticRfConnId || this._state !== 'active' || !this._flowControl) continue;
      this._credits = Math.min(this._credits + credits, 255);
      if (this._credits > 0) this._creditWaiter?.grant();
    }
  }

  private _activated(payload: Uint8Array): void {
    let activation: Activation;
    try {
      activation = parseActivation(payload);
    } catch (e) {
      this._log(`malformed RF_INTF_ACTIVATED_NTF: ${(e as Error).message}; sending the controller back to listening`);
      this._backToDiscovery();
      return;
    }
    if (this._state !== 'listening' && this._state !== 'active') {
      // A reader already in the field answers RF_DISCOVER at once: its activation can come in the same
      // read as the response, before the initialisation has noted that it listens. Kept for then.
      if (this._discoverSent && (this._state === 'initialising' || this._state === 'recovering')) {
        this._pendingActivation = payload;
        return;
      }
      this._log(`an activation while ${this._state}: ignored`);
      return;
    }
    if (activation.rfInterface !== kRfInterfaceIsoDep || activation.rfProtocol !== kRfProtocolIsoDep) {
      this._log(
        `a reader activated the ${describeInterface(activation.rfInterface)} interface with RF protocol ${hex(activation.rfProtocol)}; the card speaks ISO-DEP only: sending the controller back to listening`,
      );
      this._backToDiscovery();
      return;
    }
    if (this._state === 'active') this._endSession('a new activation replaced the session');
    this._session++;
    this._activation = { ...activation, maxDataPayload: activation.maxDataPayload === 0 ? 255 : activation.maxDataPayload };
    this._flowControl = activation.initialCredits !== kCreditsFlowControlOff;
    this._credits = this._flowControl ? activation.initialCredits : 0;
    this.served.card.powerOn();
    this._setState('active');
    const technology = activation.techAndMode === kNfcAPassiveListen ? 'NFC-A' : 'NFC-B';
    const credits = this._flowControl ? `${activation.initialCredits} credit(s)` : 'no flow control';
    const attrib = activation.activationParams.length > 0 ? `, ${technology === 'NFC-A' ? 'RATS' : 'ATTRIB'} info ${toHex(activation.activationParams)}` : '';
    this._log(`a reader activated the card over ${technology} (max data payload ${this._activation.maxDataPayload}, ${credits}${attrib})`);
    this.emit('activated', this._activation);
  }

  private _backToDiscovery(): void {
    void this._exclusive(async () => {
      try {
        await this._command(this._epoch, kGid.rf, kOid.rfDeactivate, [kDeactivationType.discovery]);
      } catch (e) {
        if (e instanceof StaleError || this._isStopped()) return;
        this._log(`${(e as Error).message}: resetting the NFC controller`);
        this._requestInit((e as Error).message);
      }
    });
  }

  private _deactivated(payload: Uint8Array): void {
    const type = payload[0] ?? kDeactivationType.idle;
    const reason = payload[1];
    const wasActive = this._state === 'active';
    // The reader already in the field left again before the initialisation was through.
    this._pendingActivation = undefined;
    this._pendingData = [];
    const words = `${describeDeactivationType(type)}${reason === undefined ? '' : `, ${describeDeactivationReason(reason)}`}`;
    this._endSession(wasActive ? `deactivated (${words})` : undefined);
    if (this._state === 'removed' || this._state === 'initialising' || this._state === 'recovering') return;
    if (type === kDeactivationType.idle) {
      if (!this._wantListening) return;
      // The controller stopped listening on its own: ask it to listen again.
      this._log(`the NFC controller went idle (${words}): asking it to listen again`);
      this._setState('removed');
      this._reconcile();
      return;
    }
    if (wasActive) this._log(`the reader let the card go (deactivated to ${words}); listening again`);
    if (this._wantListening) this._setState('listening');
  }

  /** Ends the RF session, if there is one: the card loses power as a card leaving the field does. */
  private _endSession(reason?: string): void {
    const active = this._activation !== undefined;
    this._session++;
    this._activation = undefined;
    this._credits = 0;
    const waiter = this._creditWaiter;
    this._creditWaiter = undefined;
    waiter?.abort(new SessionEndedError());
    this._parser.dropPartialMessages();
    this.served.card.powerOff();
    if (active) this.emit('deactivated', reason ?? 'the session ended');
  }

  // --- APDUs -----------------------------------------------------------------------------------

  private _data(apdu: Uint8Array): void {
    if (this._pendingActivation && (this._state === 'initialising' || this._state === 'recovering')) {
      this._pendingData.push(apdu);
      return;
    }
    if (this._state !== 'active') {
      this._log(`a data message (${apdu.length} bytes) outside an RF session: dropped`);
      return;
    }
    const session = this._session;
    this._serveQueue = this._serveQueue
      .then(() => this._serve(session, apdu))
      .catch((e: unknown) => this._log(`failed to answer: ${(e as Error).stack ?? String(e)}`));
  }

  private async _serve(session: number, apdu: Uint8Array): Promise<void> {
    if (session !== this._session) return;
    if (apdu.length === 0) {
      this._log('an empty data message from the controller: nothing to answer');
      return;
    }
    const ins = apdu.length > 1 ? hex(apdu[1]!) : '?';
    const result = await this.served.exchange(apdu);
    if (session !== this._session) {
      this._log(`the answer to INS ${ins} was dropped: the reader left before it was ready`);
      return;
    }
    if (result.kind === 'torn') {
      this._log(`tear: power cut ${result.when} the command took effect; the card is out of the field until 'insert'`);
      void this.remove();
      return;
    }
    await this._sendData(session, ins, result.response);
  }

  private async _sendData(session: number, ins: string, response: Uint8Array): Promise<void> {
    const activation = this._activation;
    if (!activation) return;
    const packets = encodeMessage(dataMessage(kStaticRfConnId, response), activation.maxDataPayload);
    for (const [i, packet] of packets.entries()) {
      try {
        await this._takeCredit(ins);
      } catch (e) {
        if (e instanceof SessionEndedError) {
          this._log(`the rest of the answer to INS ${ins} was dropped (${packets.length - i} of ${packets.length} packets): the reader left`);
          return;
        }
        this._log((e as Error).message);
        return;
      }
      if (session !== this._session) return;
      this._write(packet);
    }
  }

  private _takeCredit(ins: string): Promise<void> {
    if (!this._flowControl) return Promise.resolve();
    if (this._credits > 0) {
      this._credits--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const started = Date.now();
      let told = false;
      const logTimer = this._timer(this._o.creditLogMs, () => {
        told = true;
        this._log(`no credit from the NFC controller for ${this._o.creditLogMs} ms: the answer to INS ${ins} waits`);
      });
      const done = (): void => {
        this._clearTimer(logTimer);
        this._clearTimer(giveUp);
        if (this._creditWaiter === waiter) this._creditWaiter = undefined;
      };
      const giveUp = this._timer(this._o.creditTimeoutMs, () => {
        done();
        reject(new NciHostError(`gave up the answer to INS ${ins}: no credit from the NFC controller for ${this._o.creditTimeoutMs} ms; the session goes on until the reader leaves`));
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
      this._creditWaiter = waiter;
    });
  }
}
