/**
 * The CLI command contract: what every command module receives and what it registers. Command
 * modules import this file, never main.ts, so that main.ts alone knows the list of commands.
 */
import type { Argv } from 'yargs';
import type { CliIo } from './output.js';

export interface CommandContext {
  io: CliIo;
  /** Set by a command to the exit status it wants (default 0). */
  exitCode: number;
}

export type CommandRegistrar = (parser: Argv, ctx: CommandContext) => Argv;
