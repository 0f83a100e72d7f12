/**
 * 券面事項入力補助AP (card-info input helper), AID D3 92 10 00 31 00 01 01 04 08: the My Number
 * and the basic-4 information as text, with a signature over both, behind a 4-digit PIN or the
 * 照合番号 A / B.
 */
import { fromHex } from '../../iso7816/bytes.js';
import type { Applet } from '../card/applet.js';
import { needsPin, type AccessRule, type ElementaryFile } from '../card/file-system.js';
import { kIsoInstructions } from '../card/iso-commands.js';
import type { CardImageStore } from '../image/image-store.js';
import { binaryFiles, fileTable } from './applet-files.js';

export const kKenhojoAid = fromHex('D3921000310001010408');

export const KENHOJO_EF = {
  MY_NUMBER: 0x0001,
  BASIC_FOUR: 0x0002,
  SIGNATURE: 0x0003,
  CERTIFICATE: 0x0004,
  BASIC_INFO: 0x0005,
  PIN: 0x0011,
  PIN_A: 0x0014,
  PIN_B: 0x0015,
} as const;

export function createKenhojoApplet(store: CardImageStore): Applet {
  const image = store.image;
  const protectedRead = needsPin('kenhojo', 'kenhojoA', 'kenhojoB');
  const access = (fid: number): AccessRule | undefined => {
    if (fid === KENHOJO_EF.BASIC_INFO) return undefined;
    if (fid === KENHOJO_EF.CERTIFICATE && !image.options.kenhojoCertificateNeedsPin) return undefined;
    return protectedRead;
  };
  const files: ElementaryFile[] = [
    ...binaryFiles(image.applets.kenhojo.files, access),
    { kind: 'pin', fid: KENHOJO_EF.PIN, pin: 'kenhojo' },
    { kind: 'pin', fid: KENHOJO_EF.PIN_A, pin: 'kenhojoA' },
    { kind: 'pin', fid: KENHOJO_EF.PIN_B, pin: 'kenhojoB' },
  ];
  return { name: 'kenhojo', aid: kKenhojoAid, files: fileTable(files), instructions: kIsoInstructions };
}
