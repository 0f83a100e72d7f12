/**
 * A small PNG writer for the pictures the 券面AP stores (name, address, security code, My Number,
 * face). The real card holds scans of the printed surface; we draw stand-ins and record the exact
 * text each picture shows in an iTXt chunk, so a test or a host-side check can read back what a
 * person would see without optical character recognition.
 *
 * Only what the card data needs: 8-bit grayscale or RGBA, no interlace, filter type 0 on every row.
 */
import { deflateSync } from 'node:zlib';
import { ascii, concat, fromHex, utf8, type Bytes } from '../../iso7816/bytes.js';

const kPngSignature = fromHex('89 50 4E 47 0D 0A 1A 0A');

/** PNG colour types we write: 0 = grayscale, 6 = RGBA. */
export type PngColor = 'gray' | 'rgba';

export interface PngImage {
  readonly width: number;
  readonly height: number;
  readonly color: PngColor;
  /** Row-major samples, 1 byte per pixel for gray, 4 for RGBA, no row filter bytes. */
  readonly pixels: Uint8Array;
  /** One optional iTXt chunk: a Latin-1 keyword (1–79 bytes) and UTF-8 text, stored uncompressed. */
  readonly text?: { readonly keyword: string; readonly text: string } | undefined;
}

/** The iTXt keyword under which renderTextImage() records the text it drew. */
export const kTextKeyword = 'Text';

// CRC-32 as PNG (and zlib) define it: reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF.
const kCrcTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const part of parts) {
    for (const byte of part) c = (kCrcTable[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function u32(value: number): Bytes {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0);
  return out;
}

function chunk(type: string, data: Uint8Array): Bytes {
  const typeBytes = ascii(type);
  return concat(u32(data.length), typeBytes, data, u32(crc32(typeBytes, data)));
}

function iTxtData(keyword: string, text: string): Bytes {
  // The keyword must be 1-79 printable Latin-1 characters without leading/trailing/double spaces (PNG 11.3.4.2).
  if (!/^[\x21-\x7e\xa1-\xff](?:[\x21-\x7e\xa1-\xff]| (?! ))*$/.test(keyword) || keyword.length > 79 || keyword.endsWith(' ')) {
    throw new TypeError(`"${keyword}" is not a valid PNG text keyword`);
  }
  // keyword NUL, compression flag 0, compression method 0, empty language tag NUL, empty translated keyword NUL, text.
  return concat(ascii(keyword), [0, 0, 0, 0, 0], utf8(text));
}

export function encodePng(image: PngImage): Bytes {
  const { width, height, color, pixels } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`PNG dimensions must be positive integers, got ${width}x${height}`);
  }
  const channels = color === 'gray' ? 1 : 4;
  const stride = width * channels;
  if (pixels.length !== stride * height) {
    throw new RangeError(`${width}x${height} ${color} needs ${stride * height} sample bytes, got ${pixels.length}`);
  }
  // Every scanline is prefixed with filter type 0 (None); the images are small and flat, deflate does the rest.
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = concat(u32(width), u32(height), [8, color === 'gray' ? 0 : 6, 0, 0, 0]);
  return concat(
    kPngSignature,
    chunk('IHDR', ihdr),
    image.text ? chunk('iTXt', iTxtData(image.text.keyword, image.text.text)) : new Uint8Array(0),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  );
}

// 5x7 glyphs, one byte per row, bit 4 = leftmost column. Only what the card pictures need to be
// legible: digits (My Number, security code, dates), Latin letters and a little punctuation.
const kFont: Readonly<Record<string, string>> = {
  '0': '0E 11 13 15 19 11 0E', '1': '04 0C 04 04 04 04 0E', '2': '0E 11 01 02 04 08 1F',
  '3': '1F 02 04 02 01 11 0E', '4': '02 06 0A 12 1F 02 02', '5': '1F 10 1E 01 01 11 0E',
  '6': '06 08 10 1E 11 11 0E', '7': '1F 01 02 04 08 08 08', '8': '0E 11 11 0E 11 11 0E',
  '9': '0E 11 11 0F 01 02 0C',
  A: '0E 11 11 11 1F 11 11', B: '1E 11 11 1E 11 11 1E', C: '0E 11 10 10 10 11 0E', D: '1C 12 11 11 11 12 1C',
  E: '1F 10 10 1E 10 10 1F', F: '1F 10 10 1E 10 10 10', G: '0E 11 10 17 11 11 0F', H: '11 11 11 1F 11 11 11',
  I: '0E 04 04 04 04 04 0E', J: '07 02 02 02 02 12 0C', K: '11 12 14 18 14 12 11', L: '10 10 10 10 10 10 1F',
  M: '11 1B 15 15 11 11 11', N: '11 11 19 15 13 11 11', O: '0E 11 11 11 11 11 0E', P: '1E 11 11 1E 10 10 10',
  Q: '0E 11 11 11 15 12 0D', R: '1E 11 11 1E 14 12 11', S: '0F 10 10 0E 01 01 1E', T: '1F 04 04 04 04 04 04',
  U: '11 11 11 11 11 11 0E', V: '11 11 11 11 11 0A 04', W: '11 11 11 15 15 15 0A', X: '11 11 0A 04 0A 11 11',
  Y: '11 11 11 0A 04 04 04', Z: '1F 01 02 04 08 10 1F',
  '-': '00 00 00 1F 00 00 00', '.': '00 00 00 00 00 0C 0C', ',': '00 00 00 00 0C 04 08',
  ':': '00 0C 0C 00 0C 0C 00', '/': '00 01 02 04 08 10 00',
};
// A hollow box ("tofu") marks characters the font lacks, Japanese included, so the picture still
// shows how many characters there are and where.
const kPlaceholderGlyph = '1F 11 11 11 11 11 1F';
const kGlyphs = new Map(Object.entries(kFont).map(([ch, rows]) => [ch, fromHex(rows)]));
const kPlaceholder = fromHex(kPlaceholderGlyph);

const kScale = 2; // each font dot is 2x2 pixels
const kAdvance = 6 * kScale; // 5 columns plus 1 column of spacing
const kLineHeight = 9 * kScale; // 7 rows plus 2 rows of leading
const kMargin = 4;
const kPaper = 0xff;
const kInk = 0x00;

function glyphFor(ch: string): Uint8Array | undefined {
  // ASCII space and the ideographic space (U+3000, common between family and given name) stay blank.
  if (ch === ' ' || ch === '\u3000') return undefined;
  return kGlyphs.get(ch.toUpperCase()) ?? kPlaceholder;
}

export interface TextImageOptions {
  /** Picture width in pixels; text wraps to fit. Default: one line wide enough for the whole text. */
  readonly width?: number | undefined;
  /** Picture height in pixels; lines that do not fit are cut off. Default: tall enough for every line. */
  readonly height?: number | undefined;
}

/**
 * Draws `text` black on white with the built-in font (lower case shown as upper case) and records
 * the exact text in the iTXt chunk `Text`.
 */
export function renderTextImage(text: string, options: TextImageOptions = {}): Bytes {
  const chars = [...text]; // code points, so a surrogate pair is one glyph
  const perLine =
    options.width === undefined
      ? Math.max(1, chars.length)
      : Math.max(1, Math.floor((options.width - 2 * kMargin + kScale) / kAdvance));
  const lines: string[][] = [];
  for (let i = 0; i < chars.length; i += perLine) lines.push(chars.slice(i, i + perLine));
  if (lines.length === 0) lines.push([]);
  const width = options.width ?? 2 * kMargin + perLine * kAdvance - kScale;
  const height = options.height ?? 2 * kMargin + lines.length * kLineHeight - 2 * kScale;
  const pixels = new Uint8Array(width * height).fill(kPaper);
  const plot = (x: number, y: number): void => {
    if (x >= 0 && x < width && y >= 0 && y < height) pixels[y * width + x] = kInk;
  };
  lines.forEach((line, row) => {
    line.forEach((ch, column) => {
      const glyph = glyphFor(ch);
      if (!glyph) return;
      const left = kMargin + column * kAdvance;
      const top = kMargin + row * kLineHeight;
      glyph.forEach((bits, gy) => {
        for (let gx = 0; gx < 5; gx++) {
          if (!(bits & (0x10 >> gx))) continue;
          for (let d = 0; d < kScale * kScale; d++) plot(left + gx * kScale + (d % kScale), top + gy * kScale + Math.floor(d / kScale));
        }
      });
    });
  });
  return encodePng({ width, height, color: 'gray', pixels, text: { keyword: kTextKeyword, text } });
}

/**
 * A grey head-and-shoulders silhouette, 120x150, standing in for the face photo. The real card
 * stores a JPEG 2000 photo; we store PNG because we have no JPEG 2000 encoder and clients that
 * display the photo only pass the bytes on.
 */
export function placeholderFace(): Bytes {
  const width = 120;
  const height = 150;
  const background = 0xeb;
  const figure = 0x96;
  const inEllipse = (x: number, y: number, cx: number, cy: number, rx: number, ry: number): boolean =>
    ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      const head = inEllipse(px, py, 60, 58, 26, 32);
      const neck = px >= 49 && px <= 71 && py >= 80 && py <= 108;
      const shoulders = inEllipse(px, py, 60, 152, 56, 50);
      pixels[y * width + x] = head || neck || shoulders ? figure : background;
    }
  }
  return encodePng({
    width,
    height,
    color: 'gray',
    pixels,
    text: { keyword: 'Description', text: 'placeholder face photo (the real card stores JPEG 2000)' },
  });
}
