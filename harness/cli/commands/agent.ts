/**
 * `jpki-hil agent pc`: the PC agent on a PC/SC reader, for a person clicking through a portal (the
 * runner starts the agent in-process instead). The PIN is typed into this terminal, as the real
 * client software has its own PIN dialog: the page never sees it.
 */
import { emitKeypressEvents } from 'node:readline';
import type { Argv } from 'yargs';
import { pinFormatProblem } from '../../../emulator/index.js';
import { originPolicy, startPcAgent, kDefaultPcAgentPort, type PcAgent, type PinRequest } from '../../agents/pc-agent/pc-agent.js';
import { PcscReaderProvider } from '../../readers/pcsc-reader.js';
import type { ReaderProvider } from '../../readers/reader.js';
import { formatReaderList } from './readers.js';
import { UserError } from '../errors.js';
import type { CommandContext, CommandRegistrar } from '../command.js';

/** The terminal the PIN is typed into: process.stdin/stdout, or a stand-in in tests. */
export interface PinTerminal {
  input: NodeJS.ReadableStream & { isTTY?: boolean; isRaw?: boolean; setRawMode?(mode: boolean): unknown };
  output: NodeJS.WritableStream;
}

interface KeyPress {
  name?: string;
  ctrl?: boolean;
}

const kPinNames: Record<PinRequest['pin'], string> = {
  auth: '利用者証明用電子証明書の暗証番号 (authentication PIN, 4 digits)',
  kenhojo: '券面事項入力補助用の暗証番号 (card-info PIN, 4 digits)',
};
const kPurposes: Record<PinRequest['purpose'], string> = {
  login: 'to log in',
  'card-info': 'to read the card info for the portal',
};

export function pinPromptText(request: PinRequest): string {
  const again = request.retry ? '暗証番号が違います (wrong PIN). ' : '';
  const tries = request.triesLeft === undefined ? '' : ` [残り${request.triesLeft}回 / ${request.triesLeft} tries left]`;
  return `${again}${kPinNames[request.pin]} ${kPurposes[request.purpose]}${tries}, Esc cancels: `;
}

/**
 * Asks for a PIN without echo, in raw mode: Enter accepts, Backspace deletes, Esc or Ctrl-D cancel
 * (null). Ctrl-C cancels too and calls `onInterrupt`, since raw mode keeps it from raising SIGINT.
 * A PIN of the wrong format is asked again before the card sees it: a typo must not cost a try.
 */
export class TerminalPinPrompt {
  private _cancel: (() => void) | undefined;

  constructor(
    private readonly _terminal: PinTerminal,
    private readonly _onInterrupt: () => void = () => undefined,
  ) {}

  async ask(request: PinRequest): Promise<string | null> {
    let note = '';
    for (;;) {
      const value = await this._readHidden(`${note}${pinPromptText(request)}`);
      if (value === null) return null;
      const problem = pinFormatProblem(request.pin, value);
      if (problem === undefined) return value;
      note = `(${problem}; the card was not asked) `;
    }
  }

  /** Ends a prompt in progress as cancelled, restoring the terminal (the agent is stopping). */
  cancel(): void {
    this._cancel?.();
  }

  private _readHidden(question: string): Promise<string | null> {
    const { input, output } = this._terminal;
    emitKeypressEvents(input);
    const wasRaw = input.isRaw === true;
    input.setRawMode?.(true);
    input.resume();
    output.write(question);
    return new Promise((resolve) => {
      let value = '';
      const finish = (result: string | null): void => {
        input.off('keypress', onKey);
        input.setRawMode?.(wasRaw);
        input.pause();
        output.write('\n');
        this._cancel = undefined;
        resolve(result);
      };
      const onKey = (text: string | undefined, key: KeyPress | undefined): void => {
        if (key?.ctrl && key.name === 'c') {
          finish(null);
          this._onInterrupt();
        } else if (key?.name === 'escape' || (key?.ctrl && key.name === 'd')) {
          finish(null);
        } else if (key?.name === 'return' || key?.name === 'enter') {
          finish(value);
        } else if (key?.name === 'backspace') {
          value = value.slice(0, -1);
        } else if (text !== undefined && text.length === 1 && text >= ' ' && text !== '\x7f') {
          value += text;
        }
      };
      this._cancel = () => finish(null);
      input.on('keypress', onKey);
    });
  }
}

interface PcArgs {
  reader?: string;
  port: number;
  allowOrigin?: string[];
}

async function runPcAgent(ctx: CommandContext, openProvider: () => ReaderProvider, terminal: PinTerminal, args: PcArgs): Promise<void> {
  if (!terminal.input.isTTY || typeof terminal.input.setRawMode !== 'function') {
    throw new UserError('the PC agent asks for the PIN in the terminal, but stdin is not a terminal; run `jpki-hil agent pc` in a terminal (not piped, not in the background)');
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new UserError(`--port ${args.port} is not a port number (0-65535)`);
  const allowedOrigins = args.allowOrigin && args.allowOrigin.length > 0 ? args.allowOrigin : undefined;
  try {
    originPolicy(allowedOrigins);
  } catch (e) {
    throw new UserError(`--allow-origin: ${(e as Error).message}`);
  }
  const log = (line: string): void => ctx.io.err(`agent pc: ${line}`);
  const provider = openProvider();
  try {
    log(`readers:\n${formatReaderList(await provider.list())}`);
  } catch (e) {
    // Not fatal: the agent answers NO_READER until the reader (or pcscd) is there.
    log(`cannot list the readers yet (${(e as Error).message})`);
  }

  const prompt = new TerminalPinPrompt(terminal, () => process.kill(process.pid, 'SIGINT'));
  let agent: PcAgent;
  try {
    agent = await startPcAgent({ reader: () => provider.open(args.reader), port: args.port, askPin: (r) => prompt.ask(r), allowedOrigins, log });
  } catch (e) {
    await provider.close();
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'EADDRINUSE') throw new UserError(`port ${args.port} on 127.0.0.1 is in use (another agent?); choose one with --port`);
    throw e;
  }
  agent.events.on('request', (e) => log(`#${e.connection} request ${String(e.id)} ${e.type ?? '(not a request)'}`));
  agent.events.on('answer', (e) => {
    const a = e.answer;
    log(`#${e.connection} answer ${String(a.id)} ${a.ok ? 'ok' : `${a.code}${a.triesLeft === undefined ? '' : ` (${a.triesLeft} tries left)`}`} in ${e.ms} ms`);
  });
  ctx.io.out(`PC agent listening on ${agent.url}${allowedOrigins ? ` for pages from ${allowedOrigins.join(', ')}` : ' for pages from loopback origins'}`);
  ctx.io.out('Ctrl-C stops it.');

  const signal = await new Promise<string>((resolve) => {
    const stop = (name: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(name);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  log(`${signal}: stopping`);
  prompt.cancel();
  await agent.close();
  await provider.close();
}

/** The command over any provider and terminal: the CLI uses PC/SC and this process's terminal. */
export function createAgentCommand(openProvider: () => ReaderProvider, terminal: PinTerminal): CommandRegistrar {
  return (parser: Argv, ctx: CommandContext) =>
    parser.command('agent', 'Run an agent that a portal talks to', (agent) =>
      agent
        .command(
          'pc',
          "Run the PC agent (the client software a portal's login page talks to) on a PC/SC reader; the PIN is asked here",
          (y) =>
            y
              .option('reader', { type: 'string', describe: 'Reader name, or a unique part of it', defaultDescription: 'the first reader with a card' })
              .option('port', { type: 'number', default: kDefaultPcAgentPort, describe: 'Loopback port of the WebSocket (0: any free port)' })
              .option('allow-origin', {
                type: 'string',
                array: true,
                describe: 'Origin of the portal pages allowed to use the agent (repeatable)',
                defaultDescription: 'loopback origins only',
              })
              .example('$0 agent pc --allow-origin http://127.0.0.1:8443', 'for the portal served by `jpki-hil portal serve`')
              .example('$0 agent pc --reader "Virtual PCD 00 00"', 'with the card served by `jpki-hil card serve`'),
          (args) => runPcAgent(ctx, openProvider, terminal, { reader: args.reader, port: args.port, allowOrigin: args['allow-origin'] }),
        )
        .demandCommand(1, 'Name an agent: pc'),
    );
}

export const registerAgentCommand: CommandRegistrar = createAgentCommand(() => new PcscReaderProvider(), { input: process.stdin, output: process.stdout });
