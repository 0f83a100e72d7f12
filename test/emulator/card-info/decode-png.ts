/**
 * A tiny PNG reader for tests: enough to check what emulator/issuance/png.ts writes (8-bit gray or
 * RGBA, no interlace, filter type 0 rows). CRCs are checked with node:zlib's crc32, independently of
 * the encoder's own table.
 */
import { crc32, inflateSync } from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  channels: 1 | 4;
  pixels: Uint8Array;
  chunkTypes: string[];
  /** iTXt keyword → text. */
  texts: Map<string, string>;
}

export const kPngMagic = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

export function decodePng(png: Uint8Array): DecodedPng {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!buf.subarray(0, 8).equals(Buffer.from(kPngMagic))) throw new Error('not a PNG signature');
  const chunkTypes: string[] = [];
  const texts = new Map<string, string>();
  const idat: Buffer[] = [];
  let header: { width: number; height: number; channels: 1 | 4 } | undefined;
  let p = 8;
  while (p < buf.length) {
    const length = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    const data = buf.subarray(p + 8, p + 8 + length);
    const crc = buf.readUInt32BE(p + 8 + length);
    if (crc32(buf.subarray(p + 4, p + 8 + length)) !== crc) throw new Error(`bad CRC in ${type}`);
    chunkTypes.push(type);
    if (type === 'IHDR') {
      const [depth, color, compression, filter, interlace] = data.subarray(8, 13);
      if (depth !== 8 || (color !== 0 && color !== 6) || compression !== 0 || filter !== 0 || interlace !== 0) {
        throw new Error(`unsupported IHDR ${data.toString('hex')}`);
      }
      header = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), channels: color === 0 ? 1 : 4 };
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'iTXt') {
      const nul = data.indexOf(0);
      const keyword = data.toString('latin1', 0, nul);
      if (data[nul + 1] !== 0) throw new Error('compressed iTXt not expected');
      const language = data.indexOf(0, nul + 3);
      const translated = data.indexOf(0, language + 1);
      texts.set(keyword, data.toString('utf8', translated + 1));
    }
    p += 12 + length;
  }
  if (!header) throw new Error('no IHDR');
  if (chunkTypes[0] !== 'IHDR' || chunkTypes.at(-1) !== 'IEND') throw new Error(`bad chunk order ${chunkTypes.join(',')}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = header.width * header.channels;
  if (raw.length !== (stride + 1) * header.height) throw new Error(`IDAT inflates to ${raw.length} bytes`);
  const pixels = new Uint8Array(stride * header.height);
  for (let y = 0; y < header.height; y++) {
    if (raw[y * (stride + 1)] !== 0) throw new Error(`row ${y} uses filter ${raw[y * (stride + 1)]}`);
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { ...header, pixels, chunkTypes, texts };
}
