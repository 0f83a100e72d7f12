/**
 * The RF side of the NCI host's state machine: listening or not as insert/remove want it, a
 * reader's activation taken (ISO-DEP only) or sent back to discovery, the deactivation that ends
 * the session, and the data messages routed to the session in progress.
 */
import type { CommandChannel } from './command-channel.js';
import type { CreditFlow } from './credit-flow.js';
import { NciHostError, StaleError } from './host-errors.js';
import type { NciHostState } from './host-options.js';
import {
  describeDeactivationReason,
  describeDeactivationType,
  describeStatus,
  discoverPayload,
  kDeactivationType,
  kGid,
  kNciStatus,
  kOid,
  parseActivation,
  type Activation,
  type NfcTechnology,
} from './messages.js';
import { describeActivation, refusedActivation, type EarlyActivation, type RfSession } from './rf-session.js';

/** RF_DISCOVER status DISCOVERY_ALREADY_STARTED: it is listening already. */
const kDiscoveryAlreadyStarted = 0xa0;

export interface ListenHost {
  readonly technologies: readonly NfcTechnology[];
  readonly channel: CommandChannel;
  readonly session: RfSession;
  readonly early: EarlyActivation;
  readonly credits: CreditFlow;
  state(): NciHostState;
  setState(state: NciHostState): void;
  wantListening(): boolean;
  epoch(): number;
  stopped(): boolean;
  /** Runs multi-command operations one at a time. */
  exclusive(fn: () => Promise<void>): Promise<void>;
  endSession(reason?: string): void;
  requestInit(reason: string): void;
  activated(activation: Activation): void;
  log(line: string): void;
}

export class ListenControl {
  constructor(private readonly _host: ListenHost) {}

  /** Brings the controller in line with insert/remove: listening when wanted, idle when not. */
  reconcile(): void {
    const h = this._host;
    void h.exclusive(async () => {
      const epoch = h.epoch();
      const state = h.state();
      try {
        if (!h.wantListening() && (state === 'listening' || state === 'active')) {
          const status = (await h.channel.command(epoch, kGid.rf, kOid.rfDeactivate, [kDeactivationType.idle]))[0];
          if (status !== kNciStatus.ok) h.log(`RF_DEACTIVATE answered ${describeStatus(status)}; counting the card as out of the field`);
          h.endSession('the card was taken out of the field');
          h.log('the card is out of the field: the controller stopped listening');
          h.setState('removed');
        } else if (h.wantListening() && state === 'removed') {
          const status = (await h.channel.command(epoch, kGid.rf, kOid.rfDiscover, discoverPayload(h.technologies)))[0];
          if (status !== kNciStatus.ok && status !== kDiscoveryAlreadyStarted) throw new NciHostError(`RF_DISCOVER answered ${describeStatus(status)}`);
          h.log('the card is in the field: the controller listens again');
          h.setState('listening');
        }
      } catch (e) {
        this._commandFailed(e);
      }
    });
  }

  /** RF_INTF_ACTIVATED_NTF. */
  activated(payload: Uint8Array): void {
    const h = this._host;
    let activation: Activation;
    try {
      activation = parseActivation(payload);
    } catch (e) {
      h.log(`malformed RF_INTF_ACTIVATED_NTF: ${(e as Error).message}; sending the controller back to listening`);
      this._backToDiscovery();
      return;
    }
    const state = h.state();
    if (state !== 'listening' && state !== 'active') {
      if (h.early.discoverSent && isInitialising(state)) {
        h.early.holdActivation(payload);
        return;
      }
      h.log(`an activation while ${state}: ignored`);
      return;
    }
    const refused = refusedActivation(activation);
    if (refused) {
      h.log(`${refused}: sending the controller back to listening`);
      this._backToDiscovery();
      return;
    }
    if (state === 'active') h.endSession('a new activation replaced the session');
    const kept = h.session.begin(activation);
    h.setState('active');
    h.log(describeActivation(kept, h.credits.flowControlled));
    h.activated(kept);
  }

  /** RF_DEACTIVATE_NTF. */
  deactivated(payload: Uint8Array): void {
    const h = this._host;
    const type = payload[0] ?? kDeactivationType.idle;
    const reason = payload[1];
    const wasActive = h.state() === 'active';
    // The reader already in the field left again before the initialisation was through.
    h.early.clear();
    const words = `${describeDeactivationType(type)}${reason === undefined ? '' : `, ${describeDeactivationReason(reason)}`}`;
    h.endSession(wasActive ? `deactivated (${words})` : undefined);
    if (h.state() === 'removed' || isInitialising(h.state())) return;
    if (type === kDeactivationType.idle) {
      if (!h.wantListening()) return;
      // The controller stopped listening on its own: ask it to listen again.
      h.log(`the NFC controller went idle (${words}): asking it to listen again`);
      h.setState('removed');
      this.reconcile();
      return;
    }
    if (wasActive) h.log(`the reader let the card go (deactivated to ${words}); listening again`);
    if (h.wantListening()) h.setState('listening');
  }

  /** A data message on the static RF connection: a C-APDU for the session in progress. */
  data(apdu: Uint8Array): void {
    const h = this._host;
    if (h.early.holding && isInitialising(h.state())) {
      h.early.holdData(apdu);
      return;
    }
    if (h.state() !== 'active') {
      h.log(`a data message (${apdu.length} bytes) outside an RF session: dropped`);
      return;
    }
    h.session.serve(apdu);
  }

  private _backToDiscovery(): void {
    const h = this._host;
    void h.exclusive(async () => {
      try {
        await h.channel.command(h.epoch(), kGid.rf, kOid.rfDeactivate, [kDeactivationType.discovery]);
      } catch (e) {
        this._commandFailed(e);
      }
    });
  }

  /** A command outside the initialisation failed: the controller is reset, unless that failure is moot. */
  private _commandFailed(e: unknown): void {
    if (e instanceof StaleError || this._host.stopped()) return;
    this._host.log(`${(e as Error).message}: resetting the NFC controller`);
    this._host.requestInit((e as Error).message);
  }
}

/** Initialising or recovering: the controller is not yet (again) ready. */
export function isInitialising(state: NciHostState): boolean {
  return state === 'initialising' || state === 'recovering';
}
