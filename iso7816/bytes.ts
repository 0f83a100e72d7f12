/**
 * Byte helpers. Every hex conversion in the project goes through this module,
 * so that a malformed hex string is reported the same way everywhere.
 */

export type Bytes = Uint8Array;

const kHexPattern = /^(?:[0-9a-fA-F]{2})*$/;

/** Parses hex, ignoring spaces, colons and dashes between bytes ("00 A4 04 0C", "3b:88"). */
export function fromHex(text: string): Bytes {
  const compact = text.replace(/[\s:-]/g, '');
  if (!kHexPattern.test(compact)) {
    throw new TypeError(`not a hex byte string: "${text}" (expected pairs of 0-9/A-F, e.g. "00A4040C")`);
  }
  return Uint8Array.from(Buffer.from(compact, 'hex'));
}

/** Upper-case hex without separators: the form used in traces, images and JSON output. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').toUpperCase();
}

/** One byte as two upper-case hex digits ('0A'): INS bytes, tags, NCI fields. */
export function hexByte(value: number): string {
  return (value & 0xff).toString(16).toUpperCase().padStart(2, '0');
}

/** Hex with a space between bytes, for people. */
export function toSpacedHex(bytes: Uint8Array): string {
  return toHex(bytes).replace(/(..)(?!$)/g, '$1 ');
}

export function concat(...parts: ReadonlyArray<Uint8Array | readonly number[]>): Bytes {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compares in time independent of where the first difference is (PIN and password checks). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export function u16(value: number): Bytes {
  return Uint8Array.of((value >> 8) & 0xff, value & 0xff);
}

export function readU16(bytes: Uint8Array, offset: number): number {
  const hi = bytes[offset];
  const lo = bytes[offset + 1];
  if (hi === undefined || lo === undefined) throw new RangeError(`no 16-bit value at offset ${offset} of ${bytes.length} bytes`);
  return (hi << 8) | lo;
}

export function ascii(text: string): Bytes {
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

export function utf8(text: string): Bytes {
  return Uint8Array.from(Buffer.from(text, 'utf8'));
}

export function decodeUtf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

export function decodeAscii(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Bytes {
  return Uint8Array.from(Buffer.from(text, 'base64'));
}
