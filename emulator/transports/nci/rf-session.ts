/**
 * The RF session: from RF_INTF_ACTIVATED_NTF to the deactivation, the card is powered and each
 * C-APDU the reader sends is answered in turn, the R-APDU segmented to the activation's max data
 * payload and sent a credit a packet. An answer that comes after the session ended is dropped.
 * Also what a reader already in the field sends before the host has noted that it listens.
 */
import { toHex } from '../../../iso7816/bytes.js';
import type { ServedCard } from '../served-card.js';
import type { CreditFlow } from './credit-flow.js';
import { SessionEndedError } from './host-errors.js';
import { describeInterface, kNfcAPassiveListen, kRfInterfaceIsoDep, kRfProtocolIsoDep, kStaticRfConnId, nciByte, type Activation } from './messages.js';
import { dataMessage, encodeMessage } from './packet.js';

export interface RfSessionDeps {
  served: ServedCard;
  credits: CreditFlow;
  log(line: string): void;
  /** Writes one packet; false when the line is gone. */
  write(packet: Uint8Array): boolean;
  /** A tear cut the card's power: it leaves the field until inserted again. */
  tear(): void;
}

/** Why the card cannot take this activation (it speaks ISO-DEP only), or undefined when it can. */
export function refusedActivation(activation: Activation): string | undefined {
  if (activation.rfInterface === kRfInterfaceIsoDep && activation.rfProtocol === kRfProtocolIsoDep) return undefined;
  return `a reader activated the ${describeInterface(activation.rfInterface)} interface with RF protocol ${nciByte(activation.rfProtocol)}; the card speaks ISO-DEP only`;
}

/** "a reader activated the card over NFC-B (max data payload 255, 1 credit(s), ATTRIB info …)". */
export function describeActivation(activation: Activation, flowControlled: boolean): string {
  const technology = activation.techAndMode === kNfcAPassiveListen ? 'NFC-A' : 'NFC-B';
  const credits = flowControlled ? `${activation.initialCredits} credit(s)` : 'no flow control';
  const attrib = activation.activationParams.length > 0 ? `, ${technology === 'NFC-A' ? 'RATS' : 'ATTRIB'} info ${toHex(activation.activationParams)}` : '';
  return `a reader activated the card over ${technology} (max data payload ${activation.maxDataPayload}, ${credits}${attrib})`;
}

export class RfSession {
  private _session = 0;
  private _activation: Activation | undefined;
  private _serveQueue: Promise<void> = Promise.resolve();

  constructor(private readonly _deps: RfSessionDeps) {}

  /** The current session's activation, while a reader holds the card. */
  get activation(): Activation | undefined {
    return this._activation;
  }

  /** A new session: the card is powered, the credits are the activation's. Returns the activation as kept. */
  begin(activation: Activation): Activation {
    this._session++;
    this._activation = { ...activation, maxDataPayload: activation.maxDataPayload === 0 ? 255 : activation.maxDataPayload };
    this._deps.credits.begin(activation.initialCredits);
    this._deps.served.card.powerOn();
    return this._activation;
  }

  /** Ends the session, if there is one: the card loses power as a card leaving the field does. True when one was active. */
  end(): boolean {
    const active = this._activation !== undefined;
    this._session++;
    this._activation = undefined;
    this._deps.credits.end();
    this._deps.served.card.powerOff();
    return active;
  }

  /** Answers a C-APDU after those before it. */
  serve(apdu: Uint8Array): void {
    const session = this._session;
    this._serveQueue = this._serveQueue
      .then(() => this._serve(session, apdu))
      .catch((e: unknown) => this._deps.log(`failed to answer: ${(e as Error).stack ?? String(e)}`));
  }

  private async _serve(session: number, apdu: Uint8Array): Promise<void> {
    if (session !== this._session) return;
    const { log } = this._deps;
    if (apdu.length === 0) {
      log('an empty data message from the controller: nothing to answer');
      return;
    }
    const ins = apdu.length > 1 ? nciByte(apdu[1]!) : '?';
    const result = await this._deps.served.exchange(apdu);
    if (session !== this._session) {
      log(`the answer to INS ${ins} was dropped: the reader left before it was ready`);
      return;
    }
    if (result.kind === 'torn') {
      log(`tear: power cut ${result.when} the command took effect; the card is out of the field until 'insert'`);
      this._deps.tear();
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
        await this._deps.credits.take(ins);
      } catch (e) {
        if (e instanceof SessionEndedError) {
          this._deps.log(`the rest of the answer to INS ${ins} was dropped (${packets.length - i} of ${packets.length} packets): the reader left`);
          return;
        }
        this._deps.log((e as Error).message);
        return;
      }
      if (session !== this._session) return;
      this._deps.write(packet);
    }
  }
}

/**
 * A reader already in the field answers RF_DISCOVER at once: its activation (and the C-APDUs right
 * behind it) can come in the same read as the response, before the initialisation has noted that
 * it listens. They are held until then.
 */
export class EarlyActivation {
  /** RF_DISCOVER is out and its response not yet handled: an activation now is a reader already in the field. */
  discoverSent = false;
  private _activation: Uint8Array | undefined;
  private _data: Uint8Array[] = [];

  /** True while an activation is held. */
  get holding(): boolean {
    return this._activation !== undefined;
  }

  holdActivation(payload: Uint8Array): void {
    this._activation = payload;
  }

  /** A data message the reader sent right after the held activation, in the same burst: served after it. */
  holdData(apdu: Uint8Array): void {
    this._data.push(apdu);
  }

  clear(): void {
    this._activation = undefined;
    this._data = [];
  }

  /** What is held, let go of. */
  take(): { activation: Uint8Array; data: Uint8Array[] } | undefined {
    const activation = this._activation;
    const data = this._data;
    this.clear();
    return activation ? { activation, data } : undefined;
  }
}
