/**
 * What every probe step talks to the card through: a fresh card session per step (a warm reset,
 * so no step inherits another's AP, EF or verified PIN), a transcript of every exchange with PINs
 * masked, and the one gate through which a VERIFY with data may reach the card. The gate is where
 * the probe's promise to a lab lives: a PIN is only ever sent as the lab gave it, a made-up value
 * only within the --allow-pin-tries budget, and a change of a try counter that the probe did not
 * plan stops the run.
 */
import { encodeCommandApdu, parseResponseApdu } from '../../iso7816/apdu.js';
import { ascii, toHex, type Bytes } from '../../iso7816/bytes.js';
import { swHex } from '../../iso7816/status-words.js';
import { kAids } from '../jpki/jpki-client.js';
import { maskCommand } from '../../iso7816/secret-mask.js';
import type { CardConnection, Reader } from '../readers/reader.js';

/** The PINs the probe knows how to ask about: their AP and PIN EF. */
export type ProbePin = 'auth' | 'sign' | 'kenhojo' | 'juki';

export const kProbePins: Readonly<Record<ProbePin, { ap: keyof typeof kAids; ef: number; label: string }>> = {
  kenhojo: { ap: 'kenhojo', ef: 0x0011, label: 'card-info (券面事項入力補助) PIN' },
  auth: { ap: 'jpki', ef: 0x0018, label: 'authentication PIN' },
  sign: { ap: 'jpki', ef: 0x001b, label: 'signing password' },
  juki: { ap: 'juki', ef: 0x001c, label: '住基 PIN' },
};

export const kProbePinFlags: Readonly<Record<ProbePin, string>> = { kenhojo: '--kenhojo-pin', auth: '--auth-pin', sign: '--sign-pin', juki: '--juki-pin' };

export interface TranscriptEntry {
  /** The step this exchange belongs to. */
  step: string;
  /** A warm reset between steps, or one command and its response. */
  kind: 'reset' | 'apdu';
  /** Hex; the data of VERIFY and CHANGE REFERENCE DATA replaced by `**` per byte. */
  command?: string;
  /** Response data in hex (without the SW). */
  response?: string;
  sw?: string;
  /** The data is this card's own (certificates, random bytes, signatures, tries): a diff compares its length only. */
  cardSpecific?: boolean;
}

export interface Reply {
  data: Bytes;
  sw: number;
  /** The SW as four upper-case hex digits. */
  swText: string;
}

/** The probe refused to go on: a counter moved that it did not move, or a given PIN was wrong. Exit 3. */
export class ProbeStopped extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeStopped';
  }
}

/** The card cannot be probed at all (not a My Number Card, no card): exit 2. */
export class ProbeRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeRefused';
  }
}

export interface ProbeSessionOptions {
  pins: Partial<Record<ProbePin, string>>;
  /** How many tries the probe may use up in total; undefined: none, and no made-up PIN is ever sent. */
  allowPinTries: number | undefined;
}

export type Tries = Record<ProbePin, number | null>;

const kEmpty = new Uint8Array(0);

function isTriesSw(sw: number): boolean {
  return (sw & 0xfff0) === 0x63c0;
}

export class ProbeSession {
  readonly transcript: TranscriptEntry[] = [];
  /** Tries the probe used on purpose, per PIN. */
  readonly triesUsed: Partial<Record<ProbePin, number>> = {};
  /** What the counters are now, as the probe last learnt or planned them. */
  expected: Tries = { kenhojo: null, auth: null, sign: null, juki: null };
  /** PINs verified with the lab's value since the last counter check (their counter may go back up to the limit). */
  private readonly _verifiedSinceCheck = new Set<ProbePin>();
  private _connection: CardConnection | undefined;
  private _step = 'start';
  /** Set only while verifyPin or sendMadeUpPin sends: every other VERIFY with data is refused. */
  private _pinSendAllowed = false;

  constructor(
    readonly reader: Reader,
    readonly options: ProbeSessionOptions,
  ) {}

  get atr(): Bytes {
    return this._connection?.atr ?? this.reader.atr() ?? kEmpty;
  }

  /** Tries the budget still allows. */
  get triesLeftInBudget(): number {
    const used = Object.values(this.triesUsed).reduce((a, b) => a + b, 0);
    return (this.options.allowPinTries ?? 0) - used;
  }

  pinGiven(pin: ProbePin): boolean {
    return this.options.pins[pin] !== undefined;
  }

  /** Starts a step on a freshly reset card: nothing selected, nothing verified. */
  async begin(step: string): Promise<void> {
    this._step = step;
    if (this._connection) {
      await this._connection.disconnect('reset');
      this._connection = undefined;
      this.transcript.push({ step, kind: 'reset' });
    }
    this._connection = await this.reader.connect();
  }

  async end(): Promise<void> {
    const connection = this._connection;
    this._connection = undefined;
    // Reset, so that no PIN the probe verified stays verified after it.
    await connection?.disconnect('reset').catch(() => undefined);
  }

  async send(command: Uint8Array, cardSpecific = false): Promise<Reply> {
    if (!this._connection) throw new Error('ProbeSession.send before begin()');
    const ins = command[1];
    // The one place a VERIFY or CHANGE REFERENCE DATA could slip through: only verifyPin and
    // sendMadeUpPin may send VERIFY with data, and nothing sends CHANGE REFERENCE DATA.
    if (ins === 0x24) throw new Error('the probe never changes a PIN');
    if (ins === 0x20 && command.length > 4 && !this._pinSendAllowed) throw new Error('a VERIFY with data must go through verifyPin or sendMadeUpPin');
    const raw = await this._connection.transmit(command);
    const { data, sw } = parseResponseApdu(raw);
    const swText = swHex(sw);
    this.transcript.push({ step: this._step, kind: 'apdu', command: maskCommand(command), response: toHex(data), sw: swText, ...(cardSpecific ? { cardSpecific } : {}) });
    return { data, sw, swText };
  }

  selectAp(ap: keyof typeof kAids, p2 = 0x0c): Promise<Reply> {
    return this.send(encodeCommandApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2, data: kAids[ap], ...(p2 === 0x0c ? {} : { ne: 256 }) }));
  }

  selectEf(fid: number): Promise<Reply> {
    return this.send(encodeCommandApdu({ cla: 0x00, ins: 0xa4, p1: 0x02, p2: 0x0c, data: Uint8Array.of(fid >> 8, fid & 0xff) }));
  }

  readBinary(offset: number, ne: number, cardSpecific = false): Promise<Reply> {
    return this.send(encodeCommandApdu({ cla: 0x00, ins: 0xb0, p1: offset >> 8, p2: offset & 0xff, ne }), cardSpecific);
  }

  /** SELECT the AP and EF, then READ BINARY; the reply of the first command that did not answer 9000. */
  async selectAndRead(ap: keyof typeof kAids, fid: number, offset: number, ne: number, cardSpecific = false): Promise<Reply> {
    const selected = await this.selectAp(ap);
    if (selected.sw !== 0x9000) return selected;
    const ef = await this.selectEf(fid);
    if (ef.sw !== 0x9000) return ef;
    return this.readBinary(offset, ne, cardSpecific);
  }

  /** The empty VERIFY on a PIN EF of the current AP: tries left, or null when the answer is not 63Cx. */
  async statusQuery(pin: ProbePin): Promise<{ tries: number | null; reply: Reply }> {
    const ef = await this.selectEf(kProbePins[pin].ef);
    if (ef.sw !== 0x9000) return { tries: null, reply: ef };
    const reply = await this.send(Uint8Array.of(0x00, 0x20, 0x00, 0x80), true);
    return { tries: isTriesSw(reply.sw) ? reply.sw & 0x0f : null, reply };
  }

  /**
   * VERIFY with the value the lab gave (its PIN EF must be current). A wrong value used a try the
   * probe did not mean to use: stop at once, before anything else touches the card.
   */
  async verifyPin(pin: ProbePin): Promise<Reply> {
    const value = this.options.pins[pin];
    if (value === undefined) throw new Error(`verifyPin(${pin}) without a value: the step must check pinGiven first`);
    const reply = await this._sendPin(ascii(value));
    if (reply.sw === 0x9000) {
      this._verifiedSinceCheck.add(pin);
      return reply;
    }
    if (isTriesSw(reply.sw)) {
      throw new ProbeStopped(
        `the card rejected the ${kProbePins[pin].label} given with ${kProbePinFlags[pin]} (${reply.swText}: ${reply.sw & 0x0f} tries left); the probe stopped so that no further try is used — check the value`,
      );
    }
    return reply;
  }

  /**
   * VERIFY with a value the lab did not give, to learn an answer that only a wrong or blocked PIN
   * gets. It counts one try against the budget unless the PIN is already blocked (0 tries left).
   */
  async sendMadeUpPin(pin: ProbePin, value: string): Promise<Reply> {
    const before = this.expected[pin];
    if (this.options.allowPinTries === undefined) throw new Error('sendMadeUpPin without --allow-pin-tries');
    const costs = before !== null && before > 0;
    if (costs && this.triesLeftInBudget < 1) throw new Error('sendMadeUpPin beyond the --allow-pin-tries budget');
    const reply = await this._sendPin(ascii(value));
    if (reply.sw === 0x9000) {
      // The made-up value happened to be the PIN: the counter is back at its limit.
      this._verifiedSinceCheck.add(pin);
    } else if (costs) {
      this.triesUsed[pin] = (this.triesUsed[pin] ?? 0) + 1;
      this.expected[pin] = before - 1;
    }
    return reply;
  }

  /**
   * VERIFY of a PIN that is already blocked (0 tries left), which can lose no try: with the lab's
   * value when it was given, else with a made-up one (only under --allow-pin-tries).
   */
  async sendToBlockedPin(pin: ProbePin): Promise<Reply> {
    if (this.expected[pin] !== 0) throw new Error(`sendToBlockedPin(${pin}) on a PIN that is not blocked`);
    const value = this.options.pins[pin];
    if (value === undefined && this.options.allowPinTries === undefined) throw new Error('sendToBlockedPin with a made-up value needs --allow-pin-tries');
    return this._sendPin(ascii(value ?? '0000'));
  }

  private async _sendPin(value: Bytes): Promise<Reply> {
    this._pinSendAllowed = true;
    try {
      return await this.send(encodeCommandApdu({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80, data: value }));
    } finally {
      this._pinSendAllowed = false;
    }
  }

  /** Reads every counter in a fresh session (the caller's step name labels it). */
  async readTries(step: string): Promise<Tries> {
    await this.begin(step);
    const tries: Tries = { kenhojo: null, auth: null, sign: null, juki: null };
    let ap: string | undefined;
    for (const pin of Object.keys(kProbePins) as ProbePin[]) {
      const where = kProbePins[pin].ap;
      if (where !== ap) {
        const selected = await this.selectAp(where);
        ap = where;
        if (selected.sw !== 0x9000) continue;
      }
      tries[pin] = (await this.statusQuery(pin)).tries;
    }
    return tries;
  }

  /**
   * Compares the counters with what the probe planned: a counter lower than planned, or one that
   * appeared or vanished, stops the run. A PIN verified with the lab's value may have gone back up
   * to its limit, as a correct VERIFY does on the card.
   */
  async checkTries(after: string): Promise<Tries> {
    const now = await this.readTries(`tries after ${after}`);
    for (const pin of Object.keys(now) as ProbePin[]) {
      const planned = this.expected[pin];
      const actual = now[pin];
      const fine = planned === actual || (planned !== null && actual !== null && actual > planned && this._verifiedSinceCheck.has(pin));
      if (!fine) {
        throw new ProbeStopped(
          `the ${kProbePins[pin].label}'s tries left went from ${planned ?? 'none'} to ${actual ?? 'none'} during "${after}", which the probe did not do; it stopped so that no further try is used`,
        );
      }
    }
    this._verifiedSinceCheck.clear();
    this.expected = now;
    return now;
  }
}
