/**
 * Where a card image lives while the card runs. The runtime calls `commit()` after changing PIN
 * state and before it acts on the change; the file store makes that durable (design rule 6).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CardImageError, validateCardImage, type CardImage } from './card-image.js';

export interface CardImageStore {
  readonly image: CardImage;
  /** Makes the current state of `image` durable; throws when it cannot. */
  commit(): void;
}

/** Keeps the image in memory only: tests, benchmarks, throwaway cards. */
export class MemoryImageStore implements CardImageStore {
  commits = 0;
  constructor(readonly image: CardImage) {}
  commit(): void {
    this.commits++;
  }
}

/** Writes `data` to `path` so that a crash leaves either the old or the new file, never a mix. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
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

export function readCardImage(path: string): CardImage {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`card image ${path} does not exist; create one with 'jpki-hil card issue --out ${path}'`);
    throw new Error(`cannot read card image ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CardImageError('(root)', `not valid JSON (${(e as Error).message})`, path);
  }
  return validateCardImage(json, path);
}

export function serializeCardImage(image: CardImage): string {
  return `${JSON.stringify(image, null, 2)}\n`;
}

export class FileImageStore implements CardImageStore {
  readonly image: CardImage;
  constructor(readonly path: string) {
    this.image = readCardImage(path);
  }
  commit(): void {
    writeFileAtomic(this.path, serializeCardImage(this.image));
  }
}
