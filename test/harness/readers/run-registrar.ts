/**
 * Runs CLI commands from one registrar on a yargs parser set up as harness/cli/main.ts sets up its
 * own (strict, no process exit, a UserError for usage problems), so that a command can be tested
 * before it is wired into main.ts, and with a provider of the test's choosing.
 */
import yargs from 'yargs';
import { UserError } from '../../../harness/cli/errors.js';
import type { CommandContext, CommandRegistrar } from '../../../harness/cli/command.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function runRegistrar(register: CommandRegistrar, argv: readonly string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = { io: { out: (t) => out.push(t), err: (t) => err.push(t) }, exitCode: 0 };
  const parser = register(
    yargs([...argv])
      .strict()
      .exitProcess(false)
      .fail((message, error) => {
        throw error ?? new UserError(message, 2);
      }),
    ctx,
  );
  let code = 0;
  try {
    await parser.parseAsync();
    code = ctx.exitCode;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    err.push(e.message);
    code = e.exitCode;
  }
  return { code, out: out.join('\n'), err: err.join('\n') };
}
