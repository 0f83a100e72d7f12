/**
 * Host-side decoding of the 券面事項入力補助AP (kenhojo) files: what a client does with the bytes
 * after READ BINARY. Written from the client behaviour recorded in the reference (PYMYNA, MYNA,
 * JSAPDU), not from the emulator, so it can catch the emulator drifting from what clients accept.
 * The emulator may not import it (the import rules say so): its encoder and this decoder stay apart.
 */
import { readTlv, readTlvList } from '../iso7816/tlv.js';

export type Basic4Sex = '1' | '2' | '9';

export interface KenhojoBasic4 {
  readonly name: string;
  readonly address: string;
  /** YYYY-MM-DD. */
  readonly birth: string;
  /** ISO/IEC 5218: 1 male, 2 female, 9 not applicable. */
  readonly sex: Basic4Sex;
}

const kUtf8 = new TextDecoder('utf-8', { fatal: true });

function text(value: Uint8Array, field: string): string {
  try {
    return kUtf8.decode(value);
  } catch {
    throw new TypeError(`kenhojo ${field} is not valid UTF-8`);
  }
}

/**
 * EF 0001: `xF 10 0C` + 12 ASCII digits (+ 2 unknown trailing bytes, ignored). Clients differ on
 * whether the first byte is FF or DF and all of them accept either, so we do too.
 */
export function parseKenhojoMyNumber(ef0001: Uint8Array): string {
  const item = readTlv(ef0001, 0);
  if (item.tag !== 0xff10 && item.tag !== 0xdf10) {
    throw new TypeError(`kenhojo EF 0001 starts with tag 0x${item.tag.toString(16)}, expected FF10 or DF10`);
  }
  const digits = text(item.value, 'My Number');
  if (!/^[0-9]{12}$/.test(digits)) throw new TypeError(`kenhojo EF 0001 holds "${digits}", not 12 digits`);
  return digits;
}

/**
 * EF 0002: `FF 20` { `DF 21` offsets, `DF 22` name, `DF 23` address, `DF 24` birth YYYYMMDD,
 * `DF 25` sex }. Short- or long-form outer length; anything after the outer TLV is ignored.
 */
export function parseKenhojoBasic4(ef0002: Uint8Array): KenhojoBasic4 {
  const outer = readTlv(ef0002, 0);
  if (outer.tag !== 0xff20) throw new TypeError(`kenhojo EF 0002 starts with tag 0x${outer.tag.toString(16)}, expected FF20`);
  const fields = new Map<number, Uint8Array>();
  for (const child of readTlvList(outer.value)) {
    if (fields.has(child.tag)) throw new TypeError(`kenhojo EF 0002 repeats tag 0x${child.tag.toString(16)}`);
    fields.set(child.tag, child.value);
  }
  const field = (tag: number, label: string): Uint8Array => {
    const value = fields.get(tag);
    if (!value) throw new TypeError(`kenhojo EF 0002 lacks ${label} (tag 0x${tag.toString(16)})`);
    return value;
  };
  const birth = text(field(0xdf24, 'birth date'), 'birth date');
  const ymd = /^([0-9]{4})([0-9]{2})([0-9]{2})$/.exec(birth);
  if (!ymd) throw new TypeError(`kenhojo birth date "${birth}" is not YYYYMMDD`);
  const sex = text(field(0xdf25, 'sex'), 'sex');
  if (sex !== '1' && sex !== '2' && sex !== '9') throw new TypeError(`kenhojo sex "${sex}" is not an ISO 5218 code 1, 2 or 9`);
  return {
    name: text(field(0xdf22, 'name'), 'name'),
    address: text(field(0xdf23, 'address'), 'address'),
    birth: `${ymd[1]}-${ymd[2]}-${ymd[3]}`,
    sex,
  };
}
