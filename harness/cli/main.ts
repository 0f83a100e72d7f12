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
import { describeEscapedError, UserError } from './errors.js';
import type { CommandContext } from './command.js';
import { kProcessIo, type CliIo } from './output.js';


/** The text given for `--name` on the command line, for a message about it. */
function givenText(argv: readonly string[], name: string): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === `--${name}`) return argv[i + 1] ?? '';
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return '';
}

/**
 * yargs turns a number option it cannot parse into NaN and lets it through; a port out of range
 * would fail later with a message about listen(). Both are refused here, naming the option.
 */
function checkNumbers(args: Record<string, unknown>, argv: readonly string[]): void {
  for (const [key, value] of Object.entries(args)) {
    if (typeof value !== 'number' || key.length === 1 || /[A-Z]/.test(key)) continue;
    if (Number.isNaN(value)) throw new UserError(`--${key} "${givenText(argv, key)}" is not a number; give digits, e.g. --${key} ${/port$/.test(key) ? '8080' : '1'}`, 2);
    if (/(^|-)port$/.test(key) && (!Number.isInteger(value) || value < 0 || value > 65535)) throw new UserError(`--${key} ${value} is not a TCP port; give 0 to 65535 (0: any free port)`, 2);
  }
}

/** The command named on the line: its leading words, up to two, before any option or its value. */
function commandWords(argv: readonly string[]): string[] {
  const first = argv.findIndex((a) => a.startsWith('-'));
  return (first === -1 ? argv : argv.slice(0, first)).slice(0, 2);
}

/** yargs' message on one line, naming an unknown `--no-x` as typed rather than as `x`. */
function usageMessage(message: string, argv: readonly string[]): string {
  const line = message.replace(/\s*\n\s*/g, ' ');
  return line.replace(/^(Unknown arguments?: )(.*)$/, (_all, head: string, names: string) =>
    head + names.split(', ').map((name) => (argv.includes(`--no-${name}`) && !argv.includes(`--${name}`) ? `--no-${name}` : `--${name}`)).join(', '),
  );
}

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
    .option('debug', { type: 'boolean', global: true, default: false, describe: 'Print the stack trace of an unexpected error' })
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .middleware((args) => checkNumbers(args, argv), true)
    .fail((message, error) => {
      // Stop here: yargs would otherwise go on to run the handler with the bad arguments.
      throw error ?? new UserError(`${usageMessage(message, argv)}; see: jpki-hil ${commandWords(argv).join(' ')} --help`.replace('  --help', ' --help'), 2);
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
    // A system error nobody caught (a path that cannot be read or written) is still the user's
    // to fix: one line naming the path. Anything else is a bug, with its stack only on --debug.
    const described = describeEscapedError(e);
    if (described) {
      io.err(`jpki-hil: ${described}`);
      return 2;
    }
    if (argv.includes('--debug')) io.err(`jpki-hil: internal error: ${(e as Error).stack ?? String(e)}`);
    else io.err(`jpki-hil: internal error: ${(e as Error).message ?? String(e)} (a bug: run again with --debug for the stack trace and report it)`.replace(/\n/g, ' '));
    return 70;
  }
  if (helpText) io.out(helpText);
  return ctx.exitCode;
}
