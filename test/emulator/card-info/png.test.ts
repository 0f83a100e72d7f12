import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, encodePng, kTextKeyword, placeholderFace, renderTextImage } from '../../../emulator/issuance/png.js';
import { decodePng, kPngMagic } from './decode-png.js';

describe('crc32', () => {
  it('matches zlib and the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const sample = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
    expect(crc32(sample.subarray(0, 300), sample.subarray(300))).toBe(zlibCrc32(sample));
  });
});

describe('encodePng', () => {
  it('round-trips RGBA pixels and an iTXt chunk', () => {
    const pixels = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => i * 10);
    const png = encodePng({ width: 3, height: 2, color: 'rgba', pixels, text: { keyword: 'Comment', text: 'テスト ✓' } });
    expect(png.subarray(0, 8)).toEqual(kPngMagic);
    const decoded = decodePng(png);
    expect(decoded).toMatchObject({ width: 3, height: 2, channels: 4 });
    expect(decoded.pixels).toEqual(pixels);
    expect(decoded.chunkTypes).toEqual(['IHDR', 'iTXt', 'IDAT', 'IEND']);
    expect(decoded.texts.get('Comment')).toBe('テスト ✓');
  });

  it('writes no iTXt chunk without text', () => {
    const png = encodePng({ width: 1, height: 1, color: 'gray', pixels: Uint8Array.of(7) });
    expect(decodePng(png).chunkTypes).toEqual(['IHDR', 'IDAT', 'IEND']);
  });

  it('rejects a pixel buffer of the wrong size and a bad keyword', () => {
    expect(() => encodePng({ width: 2, height: 2, color: 'gray', pixels: new Uint8Array(3) })).toThrow(RangeError);
    const pixels = new Uint8Array(1);
    expect(() => encodePng({ width: 1, height: 1, color: 'gray', pixels, text: { keyword: '', text: 'x' } })).toThrow(TypeError);
    expect(() => encodePng({ width: 1, height: 1, color: 'gray', pixels, text: { keyword: 'a  b', text: 'x' } })).toThrow(TypeError);
    expect(() => encodePng({ width: 1, height: 1, color: 'gray', pixels, text: { keyword: 'k'.repeat(80), text: 'x' } })).toThrow(TypeError);
  });
});

/** How many pixels of a decoded gray image are ink (black). */
function inkCount(png: Uint8Array): number {
  return decodePng(png).pixels.filter((v) => v === 0).length;
}

describe('renderTextImage', () => {
  it('stores the exact text, Japanese included, in iTXt "Text"', () => {
    const text = '東京都千代田区霞が関２丁目1-2';
    const decoded = decodePng(renderTextImage(text));
    expect(decoded.texts.get(kTextKeyword)).toBe(text);
    expect(decoded.channels).toBe(1);
  });

  it('draws glyphs: "8" has more ink than "1", a space has none, an unknown character a box', () => {
    expect(inkCount(renderTextImage('8'))).toBeGreaterThan(inkCount(renderTextImage('1')));
    expect(inkCount(renderTextImage(' '))).toBe(0);
    expect(inkCount(renderTextImage('\u3000'))).toBe(0);
    // The box is a 5x7 outline: 2*5 + 2*5 = 20 dots, each 2x2 pixels.
    expect(inkCount(renderTextImage('花'))).toBe(20 * 4);
    expect(inkCount(renderTextImage('a'))).toBe(inkCount(renderTextImage('A')));
  });

  it('is wider for longer text and wraps to a given width', () => {
    const one = decodePng(renderTextImage('1234'));
    const two = decodePng(renderTextImage('12345678'));
    expect(two.width).toBeGreaterThan(one.width);
    const wrapped = decodePng(renderTextImage('12345678', { width: one.width }));
    expect(wrapped.width).toBe(one.width);
    expect(wrapped.height).toBeGreaterThan(one.height);
    expect(wrapped.pixels.filter((v) => v === 0).length).toBe(two.pixels.filter((v) => v === 0).length);
  });

  it('honours a fixed size, clipping what does not fit', () => {
    const decoded = decodePng(renderTextImage('12345678', { width: 40, height: 20 }));
    expect(decoded).toMatchObject({ width: 40, height: 20 });
  });

  it('encodes the empty string as a valid image', () => {
    expect(decodePng(renderTextImage('')).texts.get(kTextKeyword)).toBe('');
  });
});

describe('placeholderFace', () => {
  it('is a 120x150 grey silhouette on a light background', () => {
    const face = placeholderFace();
    expect(face.subarray(0, 8)).toEqual(kPngMagic);
    const decoded = decodePng(face);
    expect(decoded).toMatchObject({ width: 120, height: 150, channels: 1 });
    const at = (x: number, y: number): number | undefined => decoded.pixels[y * 120 + x];
    expect(at(2, 2)).toBe(0xeb); // corner: background
    expect(at(60, 58)).toBe(0x96); // head centre
    expect(at(60, 148)).toBe(0x96); // shoulders
    expect(at(5, 60)).toBe(0xeb); // beside the head
  });
});
