/**
 * The jpki-hil command line. Every command module registers itself on the yargs parser; `run`
 * returns the exit status so that tests can run the CLI in-process.
 */
import yargs, { type Argv } from 'yargs';
import { registerAgentCommand } from './commands/agent.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerCaCommands } from './commands/ca.js';
import { registerCertifyCommand } from './commands/certify.js';
import { registerCitizenCommand } from './commands/citizen.js';
import { registerCardCommands } from './commands/card.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerMyPageCommand } from './commands/mypage.js';
import { registerPortalCommand } from './commands/portal.js';
import { registerReaderCommands } from './commands/readers.js';
import { registerRunCommands } from './commands/run.js';
import { UserError } from './errors.js';
import { kProcessIo, type CliIo } from './output.js';

export interface CommandContext {
  io: CliIo;
  /** Set by a command to the exit status it wants (default 0). */
  exitCode: number;
}

export type CommandRegistrar = (parser: Argv, ctx: CommandContext) => Argv;

export async function run(argv: readonly string[], io: CliIo = kProcessIo): Promise<number> {
  const ctx: CommandContext = { io, exitCode: 0 };
  let parser: Argv = yargs([...argv])
    .scriptName('jpki-hil')
    .usage('$0 <command> [options]\n\nA hardware-in-the-loop test harness for services that use the My Number Card (JPKI).')
    .strict()
    .demandCommand(1, 'Name a command (run, merge-reports, certify, ca, card, portal, citizen, mypage, agent, readers, info, demo, doctor, bench).')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      // Stop here: yargs would otherwise go on to run the handler with the bad arguments.
      throw error ?? new UserError(`${message}\n  see: jpki-hil ${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')} --help`.replace('  --help', ' --help'), 2);
    });
  for (const register of [registerRunCommands, registerCertifyCommand, registerCaCommands, registerCardCommands, registerDemoCommand, registerDoctorCommand, registerBenchCommand, registerReaderCommands, registerAgentCommand, registerPortalCommand, registerCitizenCommand, registerMyPageCommand]) parser = register(parser, ctx);
  let helpText = '';
  try {
    await parser.parseAsync([...argv], {}, (_err, _argv, output) => {
      helpText = output;
    });
  } catch (e) {
    if (e instanceof UserError) {
      io.err(`jpki-hil: ${e.message}`);
      return e.exitCode;
    }
    io.err(`jpki-hil: internal error: ${(e as Error).stack ?? String(e)}`);
    return 70;
  }
  if (helpText) io.out(helpText);
  return ctx.exitCode;
}
