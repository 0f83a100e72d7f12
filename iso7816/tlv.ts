/**
 * BER-TLV as the My Number Card uses it: one- or two-byte tags (the card writes private-class
 * tags in two-byte form, `DF nn` / `FF nn`, even for tag numbers below 31) and lengths in short
 * or long form.
 */
import { concat, type Bytes } from './bytes.js';

export interface Tlv {
  /** The tag as it is on the wire: 0x30, 0xDF22, 0x5F4E, 0x7F21, ... */
  readonly tag: number;
  readonly value: Bytes;
  /** Bytes the whole TLV takes, header included. */
  readonly size: number;
}

export function encodeTag(tag: number): Bytes {
  if (tag < 0 || tag > 0xffff) throw new RangeError(`tag 0x${tag.toString(16)} is not a one- or two-byte tag`);
  return tag > 0xff ? Uint8Array.of(tag >> 8, tag & 0xff) : Uint8Array.of(tag);
}

/**
 * How a length of 128 or more is written: `minimal` is DER (`81 LL` up to 255, then `82 hi lo`);
 * `two-byte` is always `82 hi lo` (`82 00 LL` up to 255), the My Number Card's card-info form.
 */
export type LongLengthForm = 'minimal' | 'two-byte';

/** BER length: short form below 128, else long form as `form` says (DER by default). */
export function encodeLength(length: number, form: LongLengthForm = 'minimal'): Bytes {
  if (length < 0x80) return Uint8Array.of(length);
  if (form === 'two-byte' && length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  if (form === 'two-byte') throw new RangeError(`TLV length ${length} does not fit 82 hi lo`);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  if (length <= 0xffffff) return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
  throw new RangeError(`TLV length ${length} is too large`);
}

export function tlv(tag: number, ...value: Uint8Array[]): Bytes {
  const body = concat(...value);
  return concat(encodeTag(tag), encodeLength(body.length), body);
}

export type TlvEncoder = (tag: number, ...value: Uint8Array[]) => Bytes;

/** `tlv` with long lengths written in `form`. */
export function tlvEncoder(form: LongLengthForm): TlvEncoder {
  return (tag, ...value) => {
    const body = concat(...value);
    return concat(encodeTag(tag), encodeLength(body.length, form), body);
  };
}

/** Reads one TLV at `offset`; throws RangeError when it is truncated or malformed. */
export function readTlv(bytes: Uint8Array, offset = 0): Tlv {
  let p = offset;
  const first = bytes[p++];
  if (first === undefined) throw new RangeError(`no TLV at offset ${offset}`);
  let tag = first;
  if ((first & 0x1f) === 0x1f) {
    const second = bytes[p++];
    if (second === undefined) throw new RangeError(`truncated two-byte tag at offset ${offset}`);
    if (second & 0x80) throw new RangeError(`tags longer than two bytes are not used by this card (offset ${offset})`);
    tag = (first << 8) | second;
  }
  const lengthByte = bytes[p++];
  if (lengthByte === undefined) throw new RangeError(`truncated length at offset ${p - 1}`);
  let length = lengthByte;
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 3) throw new RangeError(`unsupported length form 0x${lengthByte.toString(16)} at offset ${p - 1}`);
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = bytes[p++];
      if (b === undefined) throw new RangeError(`truncated long-form length at offset ${p - 1}`);
      length = (length << 8) | b;
    }
  }
  if (p + length > bytes.length) {
    throw new RangeError(`TLV at offset ${offset} declares ${length} bytes but only ${bytes.length - p} remain`);
  }
  return { tag, value: bytes.subarray(p, p + length), size: p + length - offset };
}

/** Reads consecutive TLVs filling `bytes` (stopping at trailing 0x00/0xFF padding). */
export function readTlvList(bytes: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const b = bytes[offset];
    if (b === 0x00 || (b === 0xff && (bytes[offset + 1] === undefined || bytes[offset + 1] === 0xff))) break;
    const item = readTlv(bytes, offset);
    out.push(item);
    offset += item.size;
  }
  return out;
}

/** Finds the first child with `tag` among the TLVs in `bytes`. */
export function findTlv(bytes: Uint8Array, tag: number): Tlv | undefined {
  return readTlvList(bytes).find((t) => t.tag === tag);
}
