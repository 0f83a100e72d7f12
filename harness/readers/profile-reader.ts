/**
 * The profile shim: wraps any Reader so that what goes through it meets the limits and habits of
 * one device (harness/profiles, firmware-profiles/*.yaml) — the frame and APDU sizes, extended
 * length, chaining, T=0 procedure bytes, latency, the transceive timeout, the session time limit,
 * the AID allow-list, and the odds of the field dropping or the card moving. A scenario run through
 * it fails the way that device fails; an exchange the device would pass reaches the card unchanged.
 *
 * Faults are drawn from a seeded generator, so that a run can be repeated exactly.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromHex, hexByte, toHex } from '../../iso7816/bytes.js';
import type { DeviceProfile } from '../profiles/profile.js';
import { ReaderError, type CardConnection, type Reader, type ReaderEvents } from './reader.js';

/** The ATRs a profile can present (the card definition's presets: contact, and PC/SC part 3 from ATQB). */
export interface ProfileAtrs {
  contact: Uint8Array;
  contactless: Uint8Array;
}

export interface ProfileReaderOptions {
  atrs: ProfileAtrs;
  /** Uniform in [0, 1); seeded by the caller for repeatable runs. */
  random?: () => number;
  /** Takes the card out of the field and puts it back (a power cycle): field drop, card moved. */
  powerCycle?: () => Promise<void>;
  log?: (line: string) => void;
}


/** What an APDU's header says about its length fields (ISO 7816-4 cases). */
export function apduShape(command: Uint8Array): { extended: boolean; hasData: boolean; hasLe: boolean; le: number | undefined } {
  if (command.length <= 4) return { extended: false, hasData: false, hasLe: false, le: undefined };
  if (command.length === 5) return { extended: false, hasData: false, hasLe: true, le: command[4] === 0 ? 256 : command[4] };
  if (command[4] !== 0) {
    const lc = command[4]!;
    const hasLe = command.length === 5 + lc + 1;
    const le = hasLe ? (command[5 + lc] === 0 ? 256 : command[5 + lc]) : undefined;
    return { extended: false, hasData: true, hasLe, le };
  }
  // B5 = 00: extended. Case 2E is 7 bytes (00 Le1 Le2); otherwise Lc is the next two bytes.
  if (command.length === 7) {
    const le = (command[5]! << 8) | command[6]!;
    return { extended: true, hasData: false, hasLe: true, le: le === 0 ? 65536 : le };
  }
  const lc = (command[5]! << 8) | command[6]!;
  const hasLe = command.length === 7 + lc + 2;
  const leRaw = hasLe ? (command[7 + lc]! << 8) | command[8 + lc]! : undefined;
  return { extended: true, hasData: true, hasLe, le: leRaw === undefined ? undefined : leRaw === 0 ? 65536 : leRaw };
}

/** The device refused or failed an exchange the way its profile says it does. */
function deviceLimit(profile: DeviceProfile, what: string): ReaderError {
  return new ReaderError('DEVICE_LIMIT', `${profile.name}: ${what} (profile ${profile.id})`);
}

export class ProfileReader extends EventEmitter<ReaderEvents> implements Reader {
  readonly name: string;
  readonly kind: string;
  private readonly _random: () => number;
  private readonly _forwardInserted = (): void => void this.emit('inserted', this._atr());
  private readonly _forwardRemoved = (): void => void this.emit('removed');

  constructor(
    readonly inner: Reader,
    readonly profile: DeviceProfile,
    private readonly _options: ProfileReaderOptions,
  ) {
    super();
    this.name = inner.name;
    this.kind = `${inner.kind} as ${profile.id}`;
    this._random = _options.random ?? Math.random;
    inner.on('inserted', this._forwardInserted);
    inner.on('removed', this._forwardRemoved);
  }

  cardPresent(): boolean {
    return this.inner.cardPresent();
  }

  atr(): Uint8Array | undefined {
    return this.inner.atr() ? this._atr() : undefined;
  }

  async waitForCard(timeoutMs: number): Promise<Uint8Array> {
    await this.inner.waitForCard(timeoutMs);
    return this._atr();
  }

  async connect(): Promise<CardConnection> {
    const connection = await this.inner.connect();
    const session = new DeviceSession(this.profile, connection, this._random, this._options);
    return {
      atr: this._atr(),
      readerName: connection.readerName,
      transmit: (command) => session.transmit(command),
      disconnect: (disposition) => connection.disconnect(disposition),
    };
  }

  close(): Promise<void> {
    this.inner.off('inserted', this._forwardInserted);
    this.inner.off('removed', this._forwardRemoved);
    return this.inner.close();
  }

  private _atr(): Uint8Array {
    return this.profile.atr === 'contact' ? this._options.atrs.contact : this._options.atrs.contactless;
  }
}

/** One connection through the device: its session clock, T=0 buffer and PIN-to-signature window. */
class DeviceSession {
  private readonly _opened = Date.now();
  /** T=0 surfacing: the response data waiting for GET RESPONSE. */
  private _pending: Uint8Array | undefined;
  /** A VERIFY succeeded; the next signature is where a hand-held card may have moved. */
  private _verified = false;

  constructor(
    private readonly _profile: DeviceProfile,
    private readonly _connection: CardConnection,
    private readonly _random: () => number,
    private readonly _options: ProfileReaderOptions,
  ) {}

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const p = this._profile;
    const ins = command[1] ?? 0;
    const limit = p.session.timeLimitMs;
    if (limit !== null && Date.now() - this._opened > limit) {
      throw deviceLimit(p, `the session ended: the device allows ${limit} ms per session and ${Date.now() - this._opened} ms have passed`);
    }
    this._checkCommand(command);
    if (this._random() < p.faults.fieldDropProbability) return this._lose('the field dropped during the exchange');
    if (ins === 0x2a && this._verified && this._random() < p.faults.cardMoveProbability) {
      this._verified = false;
      return this._lose('the card moved between PIN entry and signing');
    }
    const timeout = p.timeouts.appRaisesToMs ?? p.timeouts.transceiveMs;
    const started = performance.now();
    const exchange = (async () => {
      let response = await this._exchange(command);
      const extra = p.latency.baseMs + (p.latency.perByteUs * (command.length + response.length)) / 1000 + (p.latency.perIns[hexByte(ins)] ?? 0);
      if (extra > 0) await sleep(extra);
      if (response.length > p.apdu.maxResponse) {
        throw deviceLimit(p, `a response of ${response.length} bytes exceeds the device's ${p.apdu.maxResponse}`);
      }
      response = this._surfaceT0(command, response);
      return response;
    })();
    if (timeout === null) return exchange;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        exchange,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(deviceLimit(p, `no answer to INS ${hexByte(ins)} within the ${timeout} ms transceive timeout${p.timeouts.appRaisesToMs === null ? ' (the app keeps the default)' : ''}`)),
            timeout,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      exchange.catch(() => undefined);
      if (performance.now() - started > (timeout ?? Infinity)) this._options.log?.(`${p.id}: INS ${hexByte(ins)} took ${Math.round(performance.now() - started)} ms`);
    }
  }

  /** What the device refuses before anything reaches the card. */
  private _checkCommand(command: Uint8Array): void {
    const p = this._profile;
    const shape = apduShape(command);
    if (shape.extended && !p.apdu.extendedLength) throw deviceLimit(p, `an extended-length APDU (${command.length} bytes) is not supported`);
    if (command.length > p.apdu.maxCommand) throw deviceLimit(p, `a command of ${command.length} bytes exceeds the device's ${p.apdu.maxCommand}`);
    if (((command[0] ?? 0) & 0x10) !== 0 && (command[0] ?? 0) < 0x80 && !p.apdu.chaining) throw deviceLimit(p, 'command chaining (CLA b5) is not supported');
    if (command[1] === 0xa4 && command[2] === 0x04 && p.select.selectByNameChecked && p.select.aidAllowList) {
      const lc = command[4] ?? 0;
      const aid = toHex(command.subarray(5, 5 + lc));
      if (!p.select.aidAllowList.includes(aid)) {
        throw deviceLimit(p, `SELECT of AID ${aid} by name is refused: the app did not declare it (allowed: ${p.select.aidAllowList.join(', ')}) — a security violation`);
      }
    }
  }

  /** The exchange with the card, answering GET RESPONSE from the T=0 buffer when the device surfaces 61xx. */
  private async _exchange(command: Uint8Array): Promise<Uint8Array> {
    if (this._profile.apdu.t0 === 'surface' && command[1] === 0xc0 && this._pending) {
      const shape = apduShape(command);
      const wanted = Math.min(shape.le ?? 256, this._pending.length);
      const out = this._pending.subarray(0, wanted);
      const rest = this._pending.subarray(wanted);
      this._pending = rest.length > 0 ? rest : undefined;
      const sw = rest.length > 0 ? [0x61, Math.min(rest.length, 256) & 0xff] : [0x90, 0x00];
      return Uint8Array.from([...out, ...sw]);
    }
    this._pending = undefined;
    const response = await this._connection.transmit(command);
    const sw = response.length >= 2 ? (response[response.length - 2]! << 8) | response[response.length - 1]! : 0;
    if (command[1] === 0x20 && command.length > 5) this._verified = sw === 0x9000;
    return response;
  }

  /**
   * T=0 seen by the application: a command with data and Le gets `61 xx` and its data by GET
   * RESPONSE; a command without data whose Le does not match what the card has gets `6C xx`.
   */
  private _surfaceT0(command: Uint8Array, response: Uint8Array): Uint8Array {
    if (this._profile.apdu.t0 !== 'surface' || command[1] === 0xc0 || response.length <= 2) return response;
    const data = response.subarray(0, response.length - 2);
    const sw = (response[response.length - 2]! << 8) | response[response.length - 1]!;
    if (sw !== 0x9000) return response;
    const shape = apduShape(command);
    if (shape.hasData) {
      this._pending = Uint8Array.from(data);
      return Uint8Array.from([0x61, data.length >= 256 ? 0x00 : data.length]);
    }
    if (shape.hasLe && shape.le !== data.length) return Uint8Array.from([0x6c, data.length >= 256 ? 0x00 : data.length]);
    return response;
  }

  private async _lose(why: string): Promise<never> {
    await this._options.powerCycle?.();
    throw new ReaderError('CARD_REMOVED', `${this._profile.name}: ${why} (profile ${this._profile.id}, fault injected)`, { injected: true });
  }
}

/** The ATR presets of card definitions, as bytes. */
export function atrsFrom(presets: { contact: string; contactless: string }): ProfileAtrs {
  return { contact: fromHex(presets.contact), contactless: fromHex(presets.contactless) };
}
