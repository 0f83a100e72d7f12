/**
 * One card application: its AID, its files and the commands it understands. The runtime owns
 * SELECT by DF name and the security state; an applet only answers the commands in its table.
 */
import type { CommandApdu } from '../../iso7816/apdu.js';
import type { Bytes } from '../../iso7816/bytes.js';
import type { CardContext } from './context.js';
import type { ElementaryFile } from './file-system.js';
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
