/**
 * A pseudo-terminal pair for the NFC bridge's tests and benchmark: two serial ports joined back to
 * back, one for the host driver (`card serve --nci`) and one for the controller simulator. Node has
 * no pty API, so Debian's socat makes the pair (`socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`);
 * the ports are real ttys, so the whole serial stack (termios, the serialport binding, the kernel's
 * line discipline) is in the path, as design rule 7 asks. Killing socat takes both ends away, as
 * pulling a USB serial adapter does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const kSocatInstallHint = 'install it with: sudo apt-get install -y socat (or bash scripts/setup.sh --pcsc)';

/** socat is missing, or did not make the pair in time. */
export class PtyPairError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PtyPairError';
  }
}

export interface PtyPair {
  /** The end for the host driver (a symlink to /dev/pts/N). */
  readonly a: string;
  /** The end for the controller simulator. */
  readonly b: string;
  /** The socat process's id (for logs; close() is how to end it). */
  readonly pid: number | undefined;
  /** True once socat has exited (after close(), or if it died). */
  readonly closed: boolean;
  /** Kills socat (both ends go away) and removes the links; safe to call twice. */
  close(): Promise<void>;
}

/** True when a socat binary is on the PATH. */
export function socatAvailable(): boolean {
  const probe = spawnSync('socat', ['-V'], { stdio: 'ignore', timeout: 5000 });
  return probe.error === undefined && probe.status === 0;
}

export interface PtyPairOptions {
  /** Directory for the two links (default: a new temporary directory, removed on close). */
  dir?: string;
  /** How long socat may take to make the pair (default 5 s). */
  timeoutMs?: number;
  /** The socat binary (default: socat on the PATH). */
  socat?: string;
}

/** Starts socat and resolves once both links exist and socat is moving data between them. */
export async function openPtyPair(options: PtyPairOptions = {}): Promise<PtyPair> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'jpki-hil-pty-'));
  const a = join(dir, 'nci-host');
  const b = join(dir, 'nci-controller');
  const timeoutMs = options.timeoutMs ?? 5000;
  const cleanupDir = (): void => {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  let child: ChildProcess;
  try {
    child = spawn(options.socat ?? 'socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    cleanupDir();
    throw new PtyPairError(`cannot start socat for a pseudo-terminal pair: ${(e as Error).message}; ${kSocatInstallHint}`, { cause: e });
  }
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    // Keep the start of the log (where the PTY names and errors are) but never grow without bound.
    if (log.length < 8192) log += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  try {
    await new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearInterval(poll);
        clearTimeout(timer);
        child.off('error', onError);
        child.off('exit', onExit);
        if (error) reject(error);
        else resolve();
      };
      const onError = (e: NodeJS.ErrnoException): void => {
        finish(
          new PtyPairError(
            e.code === 'ENOENT' ? `socat is not installed: the NCI bridge tests need it for a pseudo-terminal pair; ${kSocatInstallHint}` : `socat failed to start: ${e.message}`,
            { cause: e },
          ),
        );
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        finish(new PtyPairError(`socat exited (${signal ?? `code ${code}`}) before the pseudo-terminal pair was ready:\n${log.trim()}`));
      };
      // socat makes the links, then logs that it starts moving data: only then is the pair usable
      // (bytes written before that are lost).
      const poll = setInterval(() => {
        if (existsSync(a) && existsSync(b) && log.includes('starting data transfer loop')) finish();
      }, 10);
      const timer = setTimeout(() => finish(new PtyPairError(`socat did not make the pseudo-terminal pair within ${timeoutMs} ms:\n${log.trim()}`)), timeoutMs);
      child.once('error', onError);
      child.once('exit', onExit);
    });
  } catch (e) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    cleanupDir();
    throw e;
  }

  let closed = false;
  void exited.then(() => {
    closed = true;
  });
  return {
    a,
    b,
    pid: child.pid,
    get closed() {
      return closed || child.exitCode !== null || child.signalCode !== null;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
        if (!killed) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      closed = true;
      rmSync(a, { force: true });
      rmSync(b, { force: true });
      cleanupDir();
    },
  };
}
