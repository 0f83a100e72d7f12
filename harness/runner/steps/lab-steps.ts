/**
 * Steps around the flow: the portal's test outbox, operator prompts and lab commands.
 */
import { spawn } from 'node:child_process';
import { labProblem, productDefect } from '../failures.js';
import { kSecretMarker, maskCommandLine } from '../secrets.js';
import type { ScenarioWorld } from '../world.js';
import type { StepRun } from './step-api.js';
import { excerpt, sleep } from './step-util.js';

export async function readOutbox(world: ScenarioWorld, channel: 'sms' | 'email', to: string | undefined, saveAs: string, run: StepRun): Promise<void> {
  for (;;) {
    let messages;
    try {
      messages = await world.outbox(channel, to);
    } catch (e) {
      throw productDefect((e as Error).message, e);
    }
    const fresh = messages.filter((m) => !world.seenOutbox.has(outboxKey(m)));
    const newest = fresh.at(-1) ?? messages.at(-1);
    if (newest && fresh.length > 0) {
      for (const m of messages) world.seenOutbox.add(outboxKey(m));
      world.saved[saveAs] = newest.code ?? newest.text ?? '';
      // The message carries a one-time code: the log says that it came, not what it says.
      run.log(`${channel} to ${newest.to}: saved as ${saveAs} (${kSecretMarker})`);
      return;
    }
    if (run.signal.aborted) throw productDefect(`no new ${channel} message${to ? ` to ${to}` : ''} in the portal's outbox (${messages.length} read before)`);
    await sleep(100, run.signal);
  }
}

export function outboxKey(m: { to: string; code?: string | undefined; text?: string | undefined; sentAt?: string | undefined }): string {
  return `${m.to}|${m.sentAt ?? ''}|${m.code ?? ''}|${m.text ?? ''}`;
}

export async function operatorStep(prompt: string, run: StepRun): Promise<void> {
  if (!run.operator) throw labProblem(`an operator step needs a person at a terminal ("${prompt}"); run jpki-hil interactively, or leave out scenarios that require real hardware`);
  const answer = await run.operator(prompt, run.signal);
  if (!answer.done) throw productDefect(`the operator reported a failure: ${answer.note || '(no note)'}`);
}

export async function commandStep(argv: string[], expectExit: number, run: StepRun): Promise<void> {
  const [file, ...args] = argv;
  const world = run.world;
  const child = spawn(file!, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: run.signal,
    env: { ...process.env, JPKI_HIL_BASE_URL: world.baseUrl, JPKI_HIL_READER: world.slot.reader.name },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolveExit, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') reject(labProblem(`${file} did not finish within the step's ${run.timeoutMs} ms`));
      else if (e.code === 'ENOENT') reject(labProblem(`the lab tool "${file}" is not installed (not found on PATH)`));
      else reject(labProblem(`cannot run ${file}: ${e.message}`));
    });
    child.once('close', (c) => resolveExit(c));
  });
  for (const line of output.trimEnd().split('\n').slice(-20)) if (line) run.log(`${file}: ${line}`);
  if (code !== expectExit) throw labProblem(`${maskCommandLine(argv).join(' ')} exited with ${code ?? 'a signal'}, expected ${expectExit}${output ? `: ${excerpt(output.trim().split('\n').slice(-3).join(' / '))}` : ''}`);
}
