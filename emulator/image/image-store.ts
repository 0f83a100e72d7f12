/**
 * Where a card image lives while the card runs. The runtime calls `commit()` after changing PIN
 * state and before it acts on the change; the file store makes that durable (design rule 6).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CardImageError, validateCardImage, type CardImage } from './card-image.js';
import { isProcessAlive, lockCardImage, type CardImageLock } from './image-lock.js';

export interface CardImageStore {
  readonly image: CardImage;
  /** Makes the current state of `image` durable; throws when it cannot. */
  commit(): void;
  /** Lets go of the image (a file store releases its lock); commits refuse afterwards. */
  close?(): void;
}

/** Keeps the image in memory only: tests, benchmarks, throwaway cards. */
export class MemoryImageStore implements CardImageStore {
  commits = 0;
  constructor(readonly image: CardImage) {}
  commit(): void {
    this.commits++;
  }
}

/**
 * mkdir -p that fails instead of looping: Node's recursive mkdir spins forever under /proc (where
 * mkdir answers ENOENT below an existing directory). Creates each missing level itself, so the
 * error names the level that could not be made.
 */
export function makeDirectories(dir: string, mode = 0o777): void {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    let stat;
    try {
      stat = statSync(at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw e;
      missing.unshift(at);
      const up = dirname(at);
      if (up === at) break;
      at = up;
      continue;
    }
    if (!stat.isDirectory()) throw Object.assign(new Error(`ENOTDIR: ${at} is not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', path: at, syscall: 'mkdir' });
    break;
  }
  for (const level of missing) {
    try {
      mkdirSync(level, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * The name of the temporary file that writeFileAtomic writes before renaming it over `target`:
 * `.<target>.<pid>.<8 hex>.tmp`, so that a later opener can tell whose it was.
 */
export function atomicTempName(target: string, pid = process.pid): string {
  return `.${target}.${pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** The target file and writer pid of a writeFileAtomic temporary file name, else undefined. */
export function parseAtomicTempName(name: string): { target: string; pid: number } | undefined {
  const m = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name);
  return m ? { target: m[1]!, pid: Number(m[2]) } : undefined;
}

/**
 * Removes the temporary copies of `path` that writers killed halfway left behind: full copies of
 * the file (for a card image: its private keys and PINs). Only those of dead processes.
 */
export function removeStaleTempFiles(path: string): string[] {
  const dir = dirname(path);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const parsed = parseAtomicTempName(name);
    if (!parsed || parsed.target !== basename(path) || parsed.pid === process.pid || isProcessAlive(parsed.pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // gone already, or not ours to remove: the next opener tries again
    }
  }
  return removed;
}

/** Writes `data` to `path` so that a crash leaves either the old or the new file, never a mix. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = join(dirname(path), atomicTempName(basename(path)));
  // Owner-only while it is a temporary copy, whatever the final mode (a card image holds keys).
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    if (mode !== 0o600) chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // the rename error is the one worth reporting
    }
    throw e;
  }
  // The rename itself is durable only once the directory entry is.
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** The largest image the store reads: an issued card is a few dozen kB. */
const kMaxImageBytes = 4 * 1024 * 1024;

function readImageText(path: string): string {
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!stat.isFile()) throw new Error(`card image ${path} is not a regular file; name a card image .json file`);
    if (stat.size > kMaxImageBytes) throw new Error(`card image ${path} is ${stat.size} bytes, far more than a card image (a few dozen kB); is this the right file?`);
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (!(e as NodeJS.ErrnoException).code) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`card image ${path} does not exist; create one with 'jpki-hil card issue --out ${path}'`);
    if (code === 'EISDIR') throw new Error(`card image ${path} is a directory, not a card image file; name the .json file`);
    if (code === 'ELOOP') throw new Error(`card image ${path} is a symbolic link loop; point it at a card image file`);
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`card image ${path} cannot be read (permission denied); check its owner and mode`);
    throw new Error(`cannot read card image ${path}: ${(e as Error).message}`);
  }
}

/** Reads a card image without holding it (`card show`, `ca revoke`): for looking, not for running. */
export function readCardImage(path: string): CardImage {
  return parseCardImage(readImageText(path), path);
}

function parseCardImage(text: string, path: string): CardImage {
  if (text.trim() === '') throw new CardImageError('(root)', 'the file is empty; issue the card again with jpki-hil card issue', path);
  let json: unknown;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) throw new CardImageError('(root)', 'the file is binary, not a card image (JSON); is this the right file?', path);
  try {
    json = JSON.parse(text);
  } catch (e) {
    // The parser quotes the text around the error: keep the message to one short line.
    const why = (e as Error).message.replace(/\s+/g, ' ').slice(0, 120);
    throw new CardImageError('(root)', `not valid JSON (${why})`, path);
  }
  return validateCardImage(json, path);
}

export function serializeCardImage(image: CardImage): string {
  return `${JSON.stringify(image, null, 2)}\n`;
}

export interface FileImageStoreOptions {
  /** What holds the card, for the message another opener gets (default: this process's command). */
  holder?: string | undefined;
}

/**
 * A card image file held by this process as a card is held by one reader: opening takes the
 * image's lock (refused while a live process holds it), removes the temporary copies dead writers
 * left, and reads the image; `close()` (or the process's exit) lets go of it. Every commit checks
 * first that the lock is still this store's and that the file is the one it last wrote, so that a
 * PIN-counter write can never silently undo another's.
 */
export class FileImageStore implements CardImageStore {
  readonly image: CardImage;
  private lock: CardImageLock | undefined;
  private onDisk: string;
  constructor(
    readonly path: string,
    options: FileImageStoreOptions = {},
  ) {
    this.lock = lockCardImage(path, options.holder);
    try {
      removeStaleTempFiles(this.lock.path);
      this.onDisk = readImageText(path);
      this.image = parseCardImage(this.onDisk, path);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  commit(): void {
    if (!this.lock) throw new Error(`card image ${this.path} was closed; open it again to change it`);
    if (!this.lock.stillHeld()) throw new Error(`card image ${this.path} lost its lock (${this.lock.path}.lock was removed or taken over); not writing`);
    let current: string;
    try {
      current = readFileSync(this.lock.path, 'utf8');
    } catch (e) {
      throw new Error(`cannot re-read card image ${this.path} before writing it: ${(e as Error).message}`);
    }
    if (current !== this.onDisk) throw new Error(`card image ${this.path} was changed on disk by another writer; not overwriting it`);
    const text = serializeCardImage(this.image);
    // The lock's path is the image's real path: a symbolic link to the image stays a link.
    writeFileAtomic(this.lock.path, text);
    this.onDisk = text;
  }

  close(): void {
    this.lock?.release();
    this.lock = undefined;
  }
}
