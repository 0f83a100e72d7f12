/**
 * The elementary files of one application (DF). Contents are data from the card image; which
 * PIN opens which file is decided by the applet that builds the table.
 */
import type { Bytes } from '../../iso7816/bytes.js';

/** The PINs a My Number Card holds, named by their role. */
export type PinId =
  | 'auth' // JPKI 利用者証明用暗証番号, EF 0018
  | 'sign' // JPKI 署名用パスワード, EF 001B
  | 'kenhojo' // 券面事項入力補助用暗証番号, kenhojo EF 0011
  | 'kenhojoA' // kenhojo 照合番号A (My Number), EF 0014
  | 'kenhojoB' // kenhojo 照合番号B, EF 0015
  | 'kenkakuA' // 券面AP 照合番号A, EF 0013
  | 'kenkakuB' // 券面AP 照合番号B, EF 0012
  | 'juki'; // 住基AP 暗証番号, EF 001C

export const kPinIds: readonly PinId[] = ['auth', 'sign', 'kenhojo', 'kenhojoA', 'kenhojoB', 'kenkakuA', 'kenkakuB', 'juki'];

export type KeyId = 'auth' | 'sign';

/** Who may read a file or use a key: anyone, or a holder of one of the listed verified PINs. */
export type AccessRule = { readonly kind: 'always' } | { readonly kind: 'pin'; readonly anyOf: readonly PinId[] };

export const kAlways: AccessRule = { kind: 'always' };
export const needsPin = (...anyOf: PinId[]): AccessRule => ({ kind: 'pin', anyOf });

interface FileBase {
  /** The two-byte file identifier. */
  readonly fid: number;
}

export interface BinaryFile extends FileBase {
  readonly kind: 'binary';
  readonly content: Bytes;
  readonly read: AccessRule;
}

export interface PinFile extends FileBase {
  readonly kind: 'pin';
  readonly pin: PinId;
}

export interface KeyFile extends FileBase {
  readonly kind: 'key';
  readonly key: KeyId;
  readonly use: AccessRule;
}

export interface RecordFile extends FileBase {
  readonly kind: 'record';
  readonly records: readonly Bytes[];
  readonly read: AccessRule;
}

export type ElementaryFile = BinaryFile | PinFile | KeyFile | RecordFile;

/**
 * The short EF identifier of a file: on this card the low five bits of a FID up to 001E
 * (JSAPDU reads EF 0001 as SFI 1 and verifies PIN EF 0011 as reference 0x11).
 */
export function shortFid(fid: number): number | undefined {
  return fid >= 1 && fid <= 0x1e ? fid : undefined;
}

export function fidHex(fid: number): string {
  return fid.toString(16).toUpperCase().padStart(4, '0');
}
