/**
 * One card application: its AID, its files and the commands it understands, and the card session
 * its handlers see. The runtime owns SELECT by DF name and the security state; an applet only
 * answers the commands in its table.
 */
import type { KeyObject } from 'node:crypto';
import type { CommandApdu } from '../../iso7816/apdu.js';
import type { Bytes } from '../../iso7816/bytes.js';
import type { CardImageStore } from '../image/image-store.js';
import type { ElementaryFile, KeyId, PinId } from './file-system.js';
import type { CardOptions } from './options.js';

/** Answers one command: returns the response data (SW 9000) or throws CardError. */
export type CommandHandler = (cmd: CommandApdu, ctx: CardContext) => Bytes;

export interface InstructionEntry {
  /** The CLA bytes this instruction accepts; anything else answers 6E00. */
  readonly cla: readonly number[];
  readonly handle: CommandHandler;
  /** When given and false for the card's options, the instruction is absent (6D00), whatever the CLA. */
  readonly enabled?: (options: CardOptions) => boolean;
}

/** INS → handler. An INS not in the table answers 6D00. */
export type InstructionTable = ReadonlyMap<number, InstructionEntry>;

export interface Applet {
  /** Short name used in traces and state dumps: "jpki", "kenhojo", ... */
  readonly name: string;
  readonly aid: Bytes;
  readonly files: ReadonlyMap<number, ElementaryFile>;
  readonly instructions: InstructionTable;
}

/**
 * The state of one powered card session: which AP and EF are current, which PINs are verified.
 * It lives in memory only and is cleared by power-off and reset; SELECT of an AP changes it as
 * the `securityOnApSwitch` and `securityOnReselect` options say.
 */
export interface CardHooks {
  /**
   * Called after a VERIFY has written the decremented counter and before the PIN is compared.
   * Tests use it to look at the image on disk at exactly that moment; fault injection to tear.
   */
  beforePinCompare?(pin: PinId): void;
}

export interface CardContext {
  readonly store: CardImageStore;
  readonly options: CardOptions;
  readonly hooks: CardHooks;
  readonly keys: ReadonlyMap<KeyId, KeyObject>;
  applet: Applet | undefined;
  currentEf: ElementaryFile | undefined;
  readonly verified: Set<PinId>;
  /** With `shortLe: 61xx`, the part of the last answer that GET RESPONSE has still to give. */
  pendingResponse: Bytes | undefined;
}
