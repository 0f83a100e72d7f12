/**
 * The card runtime: power and ATR, the AP registry, SELECT by DF name, dispatch by INS, and the
 * one place where errors become status words (design rule 4).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { encodeResponseApdu, parseCommandApdu, type CommandApdu } from '../../iso7816/apdu.js';
import { equalBytes, fromHex, type Bytes } from '../../iso7816/bytes.js';
import { maskCommand } from '../../iso7816/secret-mask.js';
import { bytesRemainingSw, CardError, SW, wrongLeSw } from '../../iso7816/status-words.js';
import type { CardImageStore } from '../image/image-store.js';
import type { Applet, CardContext, CardHooks } from './applet.js';
import type { KeyId } from './file-system.js';
import { INS } from '../../iso7816/instructions.js';
import { fileControlInformation, kIsoInstructions } from './iso-commands.js';

export interface CardLogger {
  error(message: string): void;
}

export interface CardRuntimeOptions {
  hooks?: CardHooks;
  logger?: CardLogger;
}

/** Builds the applets of a card from its image; each applet file exports one such factory. */
export type AppletFactory = (store: CardImageStore) => Applet | undefined;

const kEmpty = new Uint8Array(0);

/**
 * Why the card answered an error, keyed on the R-APDU object it returned: the detail a handler gave
 * its CardError ("offset 4000 is at or past the end of the 2048-byte EF"). It never goes on the
 * wire — a real card says only its SW — but traces and reports next to the card show it.
 */
const kAnswerDetails = new WeakMap<Uint8Array, string>();

/** The reason behind an error R-APDU that `Card.transmit` returned, when its handler gave one. */
export function answerDetail(response: Uint8Array): string | undefined {
  return kAnswerDetails.get(response);
}
const kSupportedCla = new Set([0x00, 0x80]);

export class Card {
  private readonly _applets: Applet[];
  private readonly _ctx: CardContext;
  private readonly _logger: CardLogger;
  private _powered = false;

  constructor(
    readonly store: CardImageStore,
    appletFactories: readonly AppletFactory[],
    options: CardRuntimeOptions = {},
  ) {
    const image = store.image;
    const keys = new Map<KeyId, KeyObject>([['auth', createPrivateKey(image.applets.jpki.keys.auth)]]);
    if (image.applets.jpki.keys.sign) keys.set('sign', createPrivateKey(image.applets.jpki.keys.sign));
    this._applets = appletFactories.map((make) => make(store)).filter((a): a is Applet => a !== undefined);
    this._logger = options.logger ?? { error: (m) => process.stderr.write(`${m}\n`) };
    this._ctx = {
      store,
      options: image.options,
      hooks: options.hooks ?? {},
      keys,
      applet: undefined,
      currentEf: undefined,
      verified: new Set(),
      pendingResponse: undefined,
    };
  }

  get atr(): Bytes {
    return fromHex(this.store.image.atr);
  }

  get powered(): boolean {
    return this._powered;
  }

  get applets(): readonly Applet[] {
    return this._applets;
  }

  /** A read-only view of the session state, for the control API and tests. */
  get session(): { applet: string | undefined; currentEf: number | undefined; verified: string[] } {
    return {
      applet: this._ctx.applet?.name,
      currentEf: this._ctx.currentEf?.fid,
      verified: [...this._ctx.verified].sort(),
    };
  }

  /** Cold reset: the card OS starts with no AP selected and nothing verified. Returns the ATR. */
  powerOn(): Bytes {
    this._clearSession();
    this._powered = true;
    return this.atr;
  }

  /** Warm reset: same effect on the card state as a cold one. */
  reset(): Bytes {
    return this.powerOn();
  }

  powerOff(): void {
    this._clearSession();
    this._powered = false;
  }

  /** Processes one C-APDU and returns the R-APDU (data ‖ SW1 SW2). Never throws for card reasons. */
  transmit(command: Uint8Array): Bytes {
    if (!this._powered) throw new Error('the card is not powered: call powerOn() before transmit()');
    try {
      const cmd = parseCommandApdu(command);
      const answer = this._answer(cmd);
      return encodeResponseApdu(answer.data, answer.sw);
    } catch (e) {
      if (e instanceof CardError) return withDetail(encodeResponseApdu(kEmpty, e.sw), e.detail);
      // A bug in an applet must not take the reader connection down: answer 6F00 and say where.
      this._logger.error(`jpki-hil card: internal error answering ${maskCommand(command)}: ${(e as Error).stack ?? String(e)}`);
      return withDetail(encodeResponseApdu(kEmpty, SW.UNKNOWN_ERROR), `internal error: ${(e as Error).message}`);
    }
  }

  private _clearSession(): void {
    this._ctx.applet = undefined;
    this._ctx.currentEf = undefined;
    this._ctx.verified.clear();
    this._ctx.pendingResponse = undefined;
  }

  /**
   * Runs the command and fits its answer to Ne, for every command in one place: the handlers
   * return their whole answer and never see the `shortLe` and `signWithoutLe` options.
   */
  private _answer(cmd: CommandApdu): { data: Bytes; sw: number } {
    if (cmd.ins === INS.GET_RESPONSE && this._ctx.options.shortLe === '61xx') return this._getResponse(cmd);
    // Any other command ends the chain of GET RESPONSEs.
    this._ctx.pendingResponse = undefined;
    const data = this._process(cmd);
    if (data.length === 0) return { data, sw: SW.OK };
    const ne = cmd.ne;
    if (ne === undefined) {
      // Case 1 or 3 with an answer: only COMPUTE DIGITAL SIGNATURE gets here (SELECT gives no FCI without Le).
      if (this._ctx.options.signWithoutLe === '6700') throw new CardError(SW.WRONG_LENGTH, `the answer has ${data.length} bytes and the command has no Le`);
      return { data, sw: SW.OK };
    }
    if (data.length <= ne) return { data, sw: SW.OK };
    switch (this._ctx.options.shortLe) {
      case 'truncate':
        return { data: data.slice(0, ne), sw: SW.OK };
      case '6Cxx':
        // Ne is at most 256 here in practice; an answer over 256 bytes cannot be named by 6Cxx, so it is cut.
        if (data.length > 256) return { data: data.slice(0, ne), sw: SW.OK };
        throw new CardError(wrongLeSw(data.length), `Le asks for ${ne} of the ${data.length} bytes; send again with Le ${data.length & 0xff}`);
      case '61xx':
        this._ctx.pendingResponse = data.slice(ne);
        return { data: data.slice(0, ne), sw: bytesRemainingSw(data.length - ne) };
    }
  }

  /** GET RESPONSE (00 C0 00 00 Le), with `shortLe: 61xx` only: the next Ne bytes of the pending answer. */
  private _getResponse(cmd: CommandApdu): { data: Bytes; sw: number } {
    if (cmd.cla !== 0x00) throw new CardError(SW.CLA_NOT_SUPPORTED);
    const pending = this._ctx.pendingResponse;
    this._ctx.pendingResponse = undefined;
    if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) throw new CardError(SW.INCORRECT_P1P2);
    if (cmd.ne === undefined || cmd.data.length > 0) throw new CardError(SW.WRONG_LENGTH, 'GET RESPONSE is case 2 (Le, no data)');
    if (!pending) throw new CardError(SW.CONDITIONS_NOT_SATISFIED, 'no answer is waiting for GET RESPONSE');
    if (pending.length <= cmd.ne) return { data: pending, sw: SW.OK };
    this._ctx.pendingResponse = pending.slice(cmd.ne);
    return { data: pending.slice(0, cmd.ne), sw: bytesRemainingSw(pending.length - cmd.ne) };
  }

  private _process(cmd: CommandApdu): Bytes {
    if (!kSupportedCla.has(cmd.cla)) throw new CardError(SW.CLA_NOT_SUPPORTED);
    if (cmd.ins === INS.SELECT && cmd.p1 === 0x04 && cmd.cla === 0x00) return this._selectApplication(cmd);
    // With no AP selected the MF answers the shared ISO commands (and finds no files).
    const entry = (this._ctx.applet?.instructions ?? kIsoInstructions).get(cmd.ins);
    if (!entry || entry.enabled?.(this._ctx.options) === false) throw new CardError(SW.INS_NOT_SUPPORTED);
    if (!entry.cla.includes(cmd.cla)) throw new CardError(SW.CLA_NOT_SUPPORTED);
    return entry.handle(cmd, this._ctx);
  }

  private _selectApplication(cmd: CommandApdu): Bytes {
    const p2 = cmd.p2;
    if (p2 !== 0x0c && p2 !== 0x00 && p2 !== 0x04) throw new CardError(SW.INCORRECT_P1P2, 'only the first occurrence (P2 00, 04 or 0C) is supported');
    if (cmd.data.length < 1 || cmd.data.length > 16) throw new CardError(SW.WRONG_LENGTH, 'a DF name has 1 to 16 bytes');
    const applet = this._applets.find((a) => equalBytes(a.aid, cmd.data));
    // An unknown AID leaves the current AP, EF and security state as they were.
    if (!applet) throw new CardError(SW.FILE_NOT_FOUND);
    if (this.store.image.lifecycle === 'terminated') throw new CardError(parseInt(this._ctx.options.terminatedSelectSw, 16));
    const reselect = applet === this._ctx.applet;
    const keep = reselect ? this._ctx.options.securityOnReselect === 'keep' : this._ctx.options.securityOnApSwitch === 'keep';
    if (!keep) this._ctx.verified.clear();
    this._ctx.applet = applet;
    this._ctx.currentEf = undefined;
    if (p2 === 0x0c || cmd.ne === undefined) return kEmpty;
    return fileControlInformation(applet.aid, p2 === 0x04 ? 0x62 : 0x6f);
  }
}

function withDetail(response: Bytes, detail: string | undefined): Bytes {
  if (detail) kAnswerDetails.set(response, detail);
  return response;
}
