/** Turns the base64 file map of a card image into EF objects, with the access rule per FID. */
import { fromBase64 } from '../../iso7816/bytes.js';
import { kAlways, type AccessRule, type BinaryFile, type ElementaryFile } from '../card/file-system.js';

export function binaryFiles(files: Record<string, string>, accessOf: (fid: number) => AccessRule | undefined): ElementaryFile[] {
  return Object.entries(files).map(([fidText, content]): BinaryFile => {
    const fid = parseInt(fidText, 16);
    return { kind: 'binary', fid, content: fromBase64(content), read: accessOf(fid) ?? kAlways };
  });
}

export function fileTable(files: readonly ElementaryFile[]): ReadonlyMap<number, ElementaryFile> {
  return new Map(files.map((f) => [f.fid, f]));
}
