/**
 * 券面AP (card surface AP), AID D3 92 10 00 31 00 01 01 04 02: the printed surface as images,
 * behind 照合番号A (the My Number) or 照合番号B (birth date, expiry year, security code).
 */
import { fromHex } from '../../iso7816/bytes.js';
import type { Applet } from '../card/applet.js';
import { needsPin, type AccessRule, type ElementaryFile } from '../card/file-system.js';
import { kIsoInstructions } from '../card/iso-commands.js';
import type { CardImageStore } from '../image/image-store.js';
import { binaryFiles, fileTable } from './applet-files.js';

export const kKenkakuAid = fromHex('D3921000310001010402');

export const KENKAKU_EF = {
  BIRTH: 0x0001,
  ENTRIES: 0x0002,
  BASIC_INFO: 0x0003,
  CERTIFICATE: 0x0004,
  MY_NUMBER_IMAGE: 0x0005,
  PIN_B: 0x0012,
  PIN_A: 0x0013,
} as const;

export function createKenkakuApplet(store: CardImageStore): Applet {
  const access = (fid: number): AccessRule | undefined => {
    switch (fid) {
      case KENKAKU_EF.ENTRIES:
      case KENKAKU_EF.BIRTH:
        return needsPin('kenkakuA', 'kenkakuB');
      // Showing the My Number needs the My Number itself.
      case KENKAKU_EF.MY_NUMBER_IMAGE:
        return needsPin('kenkakuA');
      default:
        return undefined;
    }
  };
  const files: ElementaryFile[] = [
    ...binaryFiles(store.image.applets.kenkaku.files, access),
    { kind: 'pin', fid: KENKAKU_EF.PIN_B, pin: 'kenkakuB' },
    { kind: 'pin', fid: KENKAKU_EF.PIN_A, pin: 'kenkakuA' },
  ];
  return { name: 'kenkaku', aid: kKenkakuAid, files: fileTable(files), instructions: kIsoInstructions };
}
