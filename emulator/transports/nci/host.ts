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
 *
 * This is the state machine; it composes the command channel, the inbound stream, the credit
 * flow, the RF session, the notification table and the initialisation retries.
 */
import { EventEmitter } from 'node:events';
import { toHex } from '../../../iso7816/bytes.js';
import type { CardSlot } from '../control-api.js';
import type { ServedCard } from '../served-card.js';
import type { ByteLink } from './byte-link.js';
import { CommandChannel } from './command-channel.js';
import { CreditFlow } from './credit-flow.js';
import { NciHostError, NciPortGoneError, StaleError } from './host-errors.js';
import { dispatchNotification, type NotificationHandlers } from './host-notifications.js';
import { hostTimings, listenTechnologies, type NciHostEvents, type NciHostOptions, type NciHostState, type NciHostTimings } from './host-options.js';
import { HostTimers } from './host-timers.js';
import { InboundStream } from './inbound-stream.js';
import { configureController } from './init-sequence.js';
import { InitRetries } from './init-retries.js';
import { isInitialising, ListenControl } from './listen-control.js';
import {
  defaultTypeBParameters,
  describeController,
  describeResetTrigger,
  discoverPayload,
  kDeactivationType,
  kGid,
  kOid,
  typeBParametersFromAtr,
  type Activation,
  type NciControllerInfo,
  type NfcTechnology,
  type TypeBParameters,
} from './messages.js';
import { controlMessage, encodeMessage, type NciMessage } from './packet.js';
import { EarlyActivation, RfSession } from './rf-session.js';

export { NciHostError, NciPortGoneError } from './host-errors.js';
export type { NciHostEvents, NciHostOptions, NciHostState } from './host-options.js';

/** CORE_RESET trigger 0x02: the reset was asked for by CORE_RESET_CMD. */
const kResetTriggerCommand = 0x02;

export class NciCardHost extends EventEmitter<NciHostEvents> implements CardSlot {
  private _state: NciHostState = 'initialising';
  private _started = false;
  private _everReady = false;
  private _wantListening: boolean;
  private _epoch = 0;
  private _lock: Promise<unknown> = Promise.resolve();
  private _controller: NciControllerInfo | undefined;
  private _maxControlPayload = 255;
  private _linkClosed = false;
  private _error: Error | undefined;
  private _resolveStopped!: (error: Error | undefined) => void;
  private readonly _technologies: readonly NfcTechnology[];
  private readonly _typeB: TypeBParameters;
  private readonly _fromAtr: boolean;
  private readonly _o: NciHostTimings;
  private readonly _timers = new HostTimers();
  private readonly _channel: CommandChannel;
  private readonly _inbound: InboundStream;
  private readonly _credits: CreditFlow;
  private readonly _session: RfSession;
  private readonly _early = new EarlyActivation();
  private readonly _init: InitRetries;
  private readonly _listen: ListenControl;
  private readonly _notifications: NotificationHandlers;
  private readonly _onData = (bytes: Uint8Array): void => this._inbound.push(bytes);
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
    this._o = hostTimings(_options);
    this._technologies = listenTechnologies(_options);
    this._wantListening = _options.listen ?? true;
    const fromAtr = typeBParametersFromAtr(served.card.atr);
    this._typeB = fromAtr ?? defaultTypeBParameters();
    this._fromAtr = fromAtr !== undefined;

    const log = (line: string): void => this._log(line);
    this._channel = new CommandChannel({
      timers: this._timers,
      timeoutMs: this._o.commandTimeoutMs,
      send: (message) => this._send(message),
      log,
      isCurrent: (epoch) => epoch === this._epoch && !this._isStopped(),
    });
    this._inbound = new InboundStream(this._timers, this._o.silenceMs, {
      message: (message) => this._message(message),
      garbled: (text) => this._garbled(text),
      log,
      stopped: () => this._isStopped(),
    });
    this._credits = new CreditFlow(this._timers, this._o, log);
    this._session = new RfSession({ served, credits: this._credits, log, write: (packet) => this._write(packet), tear: () => void this.remove() });
    this._init = new InitRetries({
      address: this.address,
      retryPauseMs: this._o.retryPauseMs,
      maxInitAttempts: this._o.maxInitAttempts,
      stopped: () => this._isStopped(),
      epoch: () => this._epoch,
      attempt: (epoch) => this._exclusive(() => this._initialise(epoch)),
      supersede: () => {
        this._epoch++;
        this._channel.abort(new StaleError());
      },
      delay: (ms) => this._timers.delay(ms),
      shutdown: (error) => this._shutdown(error),
      log,
    });
    this._listen = new ListenControl({
      technologies: this._technologies,
      channel: this._channel,
      session: this._session,
      early: this._early,
      credits: this._credits,
      state: () => this._state,
      setState: (state) => this._setState(state),
      wantListening: () => this._wantListening,
      epoch: () => this._epoch,
      stopped: () => this._isStopped(),
      exclusive: (fn) => this._exclusive(fn),
      endSession: (reason) => this._endSession(reason),
      requestInit: (reason) => this._requestInit(reason),
      activated: (activation) => this.emit('activated', activation),
      log,
    });
    this._notifications = {
      reset: (payload) => this._resetNotification(payload),
      credits: (payload) => this._credits.notified(payload, this._state === 'active'),
      activated: (payload) => this._listen.activated(payload),
      deactivated: (payload) => this._listen.deactivated(payload),
      field: (on) => this.emit('field', on),
      log,
    };
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
    return this._session.activation;
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
    this._listen.reconcile();
    return this._waitFor((s) => s === 'listening' || s === 'active');
  }

  /** Takes the card out of the field: the controller stops listening (and ends a session in progress). */
  remove(): Promise<void> {
    this._wantListening = false;
    if (this._isStopped()) return Promise.resolve();
    this._listen.reconcile();
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

  /** Runs multi-command operations one at a time. */
  private _exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this._lock.then(fn);
    this._lock = run.catch(() => undefined);
    return run;
  }

  // --- Link ------------------------------------------------------------------------------------

  private _send(message: NciMessage): void {
    const max = message.mt === 'data' ? (this._session.activation?.maxDataPayload ?? 255) : this._maxControlPayload;
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
    this._channel.abort(error ?? new StaleError());
    this._endSession();
    this._inbound.stop();
    this._timers.cancelAll();
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

  /** A garbled stretch once the controller is ready resets it, unless the options say to resync. */
  private _garbled(text: string): boolean {
    const ready = this._state === 'listening' || this._state === 'active' || this._state === 'removed';
    if (!ready || this._o.onGarbage !== 'reset') return false;
    this._log(`${text}: resetting the NFC controller`);
    this._requestInit('garbled NCI stream');
    return true;
  }

  private _message(message: NciMessage): void {
    switch (message.mt) {
      case 'data':
        this._listen.data(message.payload);
        return;
      case 'response':
        this._channel.response(message);
        return;
      case 'notification':
        dispatchNotification(message, this._notifications);
        return;
      case 'command':
        return;
    }
  }

  // --- Initialisation --------------------------------------------------------------------------

  /** Starts (or restarts) the initialisation; whatever the previous one was doing is abandoned. */
  private _requestInit(reason?: string): void {
    if (this._isStopped()) return;
    this._epoch++;
    this._channel.abort(new StaleError());
    this._endSession(reason);
    this._setState(this._everReady ? 'recovering' : 'initialising');
    this._init.request();
  }

  private async _initialise(epoch: number): Promise<void> {
    if (epoch !== this._epoch) throw new StaleError();
    this._inbound.reset();
    this._maxControlPayload = 255;
    const info = await configureController(epoch, {
      channel: this._channel,
      address: this.address,
      technologies: this._technologies,
      typeB: this._typeB,
      pupi: this._options.pupi,
      nfcid1: this._options.nfcid1,
      log: (line) => this._log(line),
      identified: (controller) => {
        this._controller = controller;
        this._maxControlPayload = Math.min(Math.max(controller.maxControlPayload, 1), 255);
      },
    });
    const listen = this._wantListening;
    this._early.clear();
    this._early.discoverSent = listen;
    try {
      if (listen) await this._channel.okCommand(epoch, kGid.rf, kOid.rfDiscover, discoverPayload(this._technologies));
    } finally {
      this._early.discoverSent = false;
    }
    if (epoch !== this._epoch) throw new StaleError();
    this._everReady = true;
    this._log(`NFC controller ready on ${this.address}: ${describeController(info)}; ${listen ? `listening for ${this._technologies.map((t) => `NFC-${t}`).join(' and ')}` : 'not listening (card removed)'}`);
    this._setState(listen ? 'listening' : 'removed');
    const early = this._early.take();
    if (early && listen) {
      this._listen.activated(early.activation);
      for (const apdu of early.data) this._listen.data(apdu);
    }
  }

  // --- Notifications ---------------------------------------------------------------------------

  private _resetNotification(payload: Uint8Array): void {
    if (this._channel.takeResetNotification(payload)) return;
    const trigger = payload[0] ?? 0;
    // The answer to our own CORE_RESET arriving late belongs to the initialisation in progress.
    if (trigger === kResetTriggerCommand && isInitialising(this._state)) return;
    this._log(`the NFC controller reset itself (${describeResetTrigger(trigger)}): initialising again`);
    this._requestInit('the NFC controller reset');
  }

  /** Ends the RF session, if there is one: the card loses power as a card leaving the field does. */
  private _endSession(reason?: string): void {
    const active = this._session.end();
    this._inbound.dropPartialMessages();
    if (active) this.emit('deactivated', reason ?? 'the session ended');
  }
}
