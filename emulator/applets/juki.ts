/**
 * 住基AP (住民基本台帳 AP), AID D3 92 10 00 31 00 01 01 01 00: the record with the card's
 * manufacture number (read by READ RECORD 00 B2 01 0C 00, no PIN) and the 住基 PIN EF 001C.
 */
import { fromBase64, fromHex } from '../../iso7816/bytes.js';
import type { Applet } from '../card/applet.js';
import { kAlways, type ElementaryFile } from '../card/file-system.js';
import { kIsoInstructions } from '../card/iso-commands.js';
import type { CardImageStore } from '../image/image-store.js';
import { fileTable } from './applet-files.js';

export const kJukiAid = fromHex('D3921000310001010100');

export const JUKI_EF = {
  /** Record EF with SFI 1. */
  MANUFACTURE_RECORD: 0x0001,
  PIN: 0x001c,
} as const;

export function createJukiApplet(store: CardImageStore): Applet {
  const files: ElementaryFile[] = [
    { kind: 'record', fid: JUKI_EF.MANUFACTURE_RECORD, records: store.image.applets.juki.records.map(fromBase64), read: kAlways },
    { kind: 'pin', fid: JUKI_EF.PIN, pin: 'juki' },
  ];
  return { name: 'juki', aid: kJukiAid, files: fileTable(files), instructions: kIsoInstructions };
}
