import { randomBytes, verify, X509Certificate } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard } from '../../../emulator/index.js';
import { fromBase64, toBase64 } from '../../../iso7816/bytes.js';
import { createAgentCommand, pinPromptText, TerminalPinPrompt, type PinTerminal } from '../../../harness/cli/commands/agent.js';
import { UserError } from '../../../harness/cli/errors.js';
import type { CommandContext } from '../../../harness/cli/command.js';
import { InProcessReaderProvider } from '../../../harness/readers/in-process-reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../../support/cards.js';
import { runRegistrar } from '../readers/run-registrar.js';
import { AgentTestClient } from './ws-test-client.js';

/** A terminal stand-in: keys are typed into `input` whenever a prompt appears on `output`. */
class FakeTerminal implements PinTerminal {
  readonly input = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    rawModes: [] as boolean[],
    setRawMode(this: { isRaw: boolean; rawModes: boolean[] }, mode: boolean) {
      this.isRaw = mode;
      this.rawModes.push(mode);
    },
  });
  shown = '';
  readonly output: Writable;

  /** `replies`: what is typed at each prompt, in order. */
  constructor(private readonly _replies: string[]) {
    this.output = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.shown += chunk.toString('utf8');
        if (chunk.toString('utf8').endsWith('Esc cancels: ')) {
          const reply = this._replies.shift();
          if (reply !== undefined) setImmediate(() => this.input.write(reply));
        }
        done();
      },
    });
  }
}

describe('TerminalPinPrompt', () => {
  const request = { pin: 'auth', purpose: 'login', triesLeft: 3, retry: false } as const;

  it('reads the PIN without echoing it, with Backspace, and restores the terminal mode', async () => {
    const terminal = new FakeTerminal(['129\x7f34\r']);
    expect(await new TerminalPinPrompt(terminal).ask(request)).toBe('1234');
    // Nothing of what was typed is shown, not even as asterisks.
    expect(terminal.shown).not.toMatch(/12|34|\*/);
    expect(terminal.shown).toContain('3 tries left');
    expect(terminal.input.rawModes).toEqual([true, false]);
  });

  it('asks again, without the card, when the PIN is not 4 digits; Esc cancels', async () => {
    const terminal = new FakeTerminal(['12\r', '\x1b', '5678\r']);
    const prompt = new TerminalPinPrompt(terminal);
    expect(await prompt.ask(request)).toBeNull();
    expect(terminal.shown).toContain('the card was not asked');
    expect(await prompt.ask({ pin: 'kenhojo', purpose: 'card-info', retry: true })).toBe('5678');
  });

  it('says in the prompt which PIN, what for, and when the last one was wrong', () => {
    expect(pinPromptText({ pin: 'kenhojo', purpose: 'card-info', triesLeft: 2, retry: true })).toMatch(
      /^暗証番号が違います \(wrong PIN\)\. 券面事項入力補助用の暗証番号 .* to read the card info .*2 tries left/,
    );
  });
});

describe('jpki-hil agent pc', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
  });
  afterAll(() => dir.remove());

  it('refuses to start when stdin is not a terminal, saying why', async () => {
    const notTty = { input: new PassThrough(), output: new PassThrough() };
    const result = await runRegistrar(createAgentCommand(() => new InProcessReaderProvider(), notTty), ['agent', 'pc', '--port', '0']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/stdin is not a terminal/);
  });

  it('refuses an --allow-origin that is not an origin', async () => {
    const result = await runRegistrar(createAgentCommand(() => new InProcessReaderProvider(), new FakeTerminal([])), [
      'agent',
      'pc',
      '--port',
      '0',
      '--allow-origin',
      'not a url',
    ]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/--allow-origin: .*not an http\(s\) origin/);
  });

  it('serves a page on the chosen reader with the PIN typed in the terminal, and stops on SIGTERM', async () => {
    const provider = new InProcessReaderProvider();
    const reader = provider.add('desk reader', createMemoryCard(fixture.image));
    const terminal = new FakeTerminal(['1234\r']);
    const out: string[] = [];
    let listening!: (url: string) => void;
    const url = new Promise<string>((resolve) => (listening = resolve));
    const ctx: CommandContext = {
      io: {
        out: (text) => {
          out.push(text);
          const m = /listening on (ws:\S+)/.exec(text);
          if (m) listening(m[1]!);
        },
        err: () => undefined,
      },
      exitCode: 0,
    };
    const parser = createAgentCommand(() => provider, terminal)(
      yargs(['agent', 'pc', '--reader', 'desk', '--port', '0', '--allow-origin', 'http://127.0.0.1:8443']).strict().exitProcess(false).fail((message, error) => {
        throw error ?? new UserError(message, 2);
      }),
      ctx,
    );
    const running = parser.parseAsync();
    const client = await AgentTestClient.open(await url, 'http://127.0.0.1:8443');
    const nonce = randomBytes(32);
    const answer = await client.request({ id: 'cli', type: 'sign', nonce: toBase64(nonce), purpose: 'login' });
    expect(answer).toMatchObject({ id: 'cli', ok: true });
    const certificate = new X509Certificate(fromBase64(answer.certificate as string));
    expect(verify('sha256', nonce, certificate.publicKey, fromBase64(answer.signature as string))).toBe(true);
    expect(terminal.shown).toContain('authentication PIN');
    expect(terminal.shown).not.toContain('1234');

    process.emit('SIGTERM');
    await running;
    await client.close();
    expect(out.join('\n')).toContain('for pages from http://127.0.0.1:8443');
    // Stopping closed the reader the agent had opened.
    expect(reader.closed).toBe(true);
  });
});
