/**
 * One card image is one physical card, and a card sits in one reader at a time: whoever opens an
 * image for writing holds its lock until it closes the image or exits. The lock is a directory
 * `<image>.lock` made atomically by proper-lockfile, with `holder.json` inside naming the holder
 * (pid, command, host) so that a refusal can say who holds the card. A lock whose holder is dead is
 * taken over at once; a lock held on another host only once it has not been refreshed for a while.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, realpathSync, renameSync, rmdirSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';

export interface LockHolder {
  pid: number;
  /** What the holder is doing, e.g. "jpki-hil card serve" (never its arguments: they may hold PINs). */
  command: string;
  host: string;
  since: string;
  /** The holder's process start time (Linux /proc), so that a reused pid is not taken for the holder. */
  start?: string | undefined;
  /** Tells this lock from an earlier one by the same pid. */
  token: string;
}

/** The image is held by someone else: the message names the holder and what to do. */
export class CardImageLockedError extends Error {
  constructor(
    readonly path: string,
    readonly holder: LockHolder | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'CardImageLockedError';
  }
}

export interface CardImageLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Whether the lock on disk is still this one (a commit refuses to write otherwise). */
  stillHeld(): boolean;
  release(): void;
}

/** A lock on another host counts as abandoned once its holder has not refreshed it for this long. */
const kRemoteStaleMs = 60_000;
const kRefreshMs = 20_000;
/** A lock directory without holder.json is being made; older than this, its maker died halfway. */
const kHalfMadeMs = 2_000;

export const lockDirOf = (path: string): string => `${canonical(path)}.lock`;
const holderFileOf = (lockDir: string): string => join(lockDir, 'holder.json');

const held = new Map<string, CardImageLock>();
let exitHookInstalled = false;

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    // Not there yet (a card about to be issued): its directory may still be a symlink.
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

function processStart(pid: number): string | undefined {
  try {
    // Field 22 of /proc/<pid>/stat, counted after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether `pid` on this host still runs the process that took the lock. */
export function isProcessAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (start === undefined) return true;
  const now = processStart(pid);
  return now === undefined || now === start;
}

/** What this process is, for a refusal message: the program and its subcommand words, no arguments. */
export function describeThisProcess(): string {
  const script = process.argv[1] ? basename(process.argv[1]).replace(/\.(c|m)?js$/, '') : basename(process.execPath);
  const words: string[] = [];
  for (const arg of process.argv.slice(2)) {
    if (!/^[a-z][a-z-]*$/.test(arg) || words.length === 2) break;
    words.push(arg);
  }
  return [script, ...words].join(' ');
}

function readHolder(lockDir: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(holderFileOf(lockDir), 'utf8')) as LockHolder;
    return typeof holder.pid === 'number' && typeof holder.token === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function lockedMessage(path: string, holder: LockHolder): string {
  const who = `pid ${holder.pid} (${holder.command})${holder.host === hostname() ? '' : ` on ${holder.host}`}, since ${holder.since}`;
  const fix =
    holder.host === hostname()
      ? `stop that process first (a card sits in one reader at a time), or work on a copy of the image`
      : `stop it there, or remove ${lockDirOf(path)} if that host is gone`;
  return `card image ${path} is in use by ${who}; ${fix}`;
}

/** Whether the lock in `lockDir` may be taken over; throws when a live holder has it. */
function judgeExisting(path: string, lockDir: string): 'stale' | 'wait' {
  const holder = readHolder(lockDir);
  if (holder === undefined) {
    let age: number;
    try {
      age = Date.now() - statSync(lockDir).mtimeMs;
    } catch {
      return 'wait'; // gone meanwhile: try again
    }
    return age > kHalfMadeMs ? 'stale' : 'wait';
  }
  if (holder.host === hostname()) {
    if (holder.pid === process.pid && held.get(canonical(path))?.holder.token === holder.token) {
      throw new CardImageLockedError(path, holder, `card image ${path} is already open in this process; close it before opening it again`);
    }
    if (isProcessAlive(holder.pid, holder.start)) throw new CardImageLockedError(path, holder, lockedMessage(path, holder));
    return 'stale';
  }
  const age = Date.now() - statSync(lockDir).mtimeMs;
  if (age < kRemoteStaleMs) throw new CardImageLockedError(path, holder, lockedMessage(path, holder));
  return 'stale';
}

/**
 * Removes an abandoned lock. Moving holder.json out first is atomic: when two processes find the
 * same dead holder, one wins and the other tries the lock again (and finds the winner's).
 */
function takeOver(lockDir: string): void {
  const aside = `${lockDir}-stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(holderFileOf(lockDir), aside);
    unlinkSync(aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  try {
    rmdirSync(lockDir);
  } catch (e) {
    // ENOENT: someone else removed it; ENOTEMPTY: someone else holds it now. Both: try again.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Runs on a normal exit and on process.exit() (the CLI turns SIGINT/SIGTERM into one). After
  // SIGKILL the next opener finds the holder dead and takes the lock over.
  process.on('exit', () => {
    for (const lock of [...held.values()]) lock.release();
  });
}

/**
 * Takes the lock of the card image at `path` (which need not exist yet) for this process.
 * Throws CardImageLockedError when a live process holds it.
 */
export function lockCardImage(path: string, command = describeThisProcess()): CardImageLock {
  const target = canonical(path);
  const lockDir = `${target}.lock`;
  const deadline = Date.now() + 3 * kHalfMadeMs;
  for (;;) {
    if (Date.now() > deadline) throw new CardImageLockedError(path, undefined, `card image ${path} is being opened by another process; try again, or remove ${lockDir} if no process uses it`);
    let releaseDir: () => void;
    let compromised = false;
    try {
      releaseDir = lockfile.lockSync(target, {
        lockfilePath: lockDir,
        realpath: false,
        stale: kRemoteStaleMs,
        update: kRefreshMs,
        onCompromised: () => {
          compromised = true;
        },
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ELOCKED: held and fresh; ENOTEMPTY: proper-lockfile found it old but it still has a holder.
      if (code === 'ELOCKED' || code === 'ENOTEMPTY' || code === 'EEXIST') {
        if (judgeExisting(path, lockDir) === 'stale') takeOver(lockDir);
        else sleepSync(50);
        continue;
      }
      if (code === 'ENOENT') throw new CardImageLockedError(path, undefined, `cannot lock card image ${path}: its directory ${dirname(target)} does not exist`);
      throw new CardImageLockedError(path, undefined, `cannot lock card image ${path}: cannot create ${lockDir} (${(e as Error).message})`);
    }
    const holder: LockHolder = {
      pid: process.pid,
      command,
      host: hostname(),
      since: new Date().toISOString(),
      start: processStart(process.pid),
      token: randomBytes(8).toString('hex'),
    };
    try {
      // proper-lockfile watches the directory's mtime to notice a stolen lock: keep it as it set it.
      const { atime, mtime } = statSync(lockDir);
      writeFileSync(holderFileOf(lockDir), `${JSON.stringify(holder)}\n`, { flag: 'wx', mode: 0o644 });
      utimesSync(lockDir, atime, mtime);
    } catch {
      // Another process removed the half-made lock under us: start again.
      try {
        releaseDir();
      } catch {
        // already gone
      }
      continue;
    }
    const lock: CardImageLock = {
      path: target,
      holder,
      stillHeld: () => !compromised && readHolder(lockDir)?.token === holder.token,
      release: () => {
        if (held.get(target) !== lock) return;
        held.delete(target);
        if (readHolder(lockDir)?.token === holder.token) {
          try {
            unlinkSync(holderFileOf(lockDir));
          } catch {
            // gone already
          }
        }
        try {
          releaseDir();
        } catch {
          // compromised or removed: nothing left to release
        }
      },
    };
    held.set(target, lock);
    installExitHook();
    return lock;
  }
}
