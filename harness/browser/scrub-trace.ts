/**
 * Takes secrets out of a Playwright trace after it is written. A trace records what the page saw
 * and sent: the `fill` call with its value, the DOM snapshots with the input's value, the form POST
 * body in the network log. Filling "without recording" would still leave the last two, so the runner
 * rewrites the zip instead: every occurrence of a secret (as typed, URL-encoded, JSON- or
 * HTML-escaped) in the trace's JSON lines and text resources becomes a marker. Images are left as
 * they are (a password field shows dots). Only whole tokens are replaced — a secret next to a letter
 * or digit is part of something else (a hash, an id) — and the same way everywhere, so ids the
 * viewer matches up stay matched.
 */
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

interface ZipEntry {
  name: string;
  data: Buffer;
  time: number;
  date: number;
}

export class TraceScrubError extends Error {
  override name = 'TraceScrubError';
}

/** Rewrites the zip at `path` with every secret replaced by `marker`; returns how many were replaced. */
export function scrubTraceZip(path: string, secrets: Iterable<string>, marker: string): number {
  const needles = needlesOf(secrets);
  if (needles.length === 0) return 0;
  const entries = readZip(readFileSync(path));
  let replaced = 0;
  const out = entries.map((entry) => {
    if (isImage(entry.data)) return entry;
    const isJsonLines = /\.(trace|network|stacks)$/.test(entry.name);
    const { text, count } = isJsonLines ? scrubJsonLines(entry.data.toString('utf8'), needles, marker) : scrubText(entry.data.toString('latin1'), needles, marker, 'latin1');
    replaced += count;
    return count === 0 ? entry : { ...entry, data: Buffer.from(text, isJsonLines ? 'utf8' : 'latin1') };
  });
  if (replaced > 0) {
    writeFileSync(`${path}.tmp`, writeZip(out));
    renameSync(`${path}.tmp`, path);
  }
  return replaced;
}

interface Needle {
  /** As it appears in decoded text (utf8 strings). */
  text: string;
  /** As its UTF-8 bytes appear in latin1-decoded resources. */
  bytes: string;
}

function needlesOf(secrets: Iterable<string>): Needle[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(encodeURIComponent(secret).replace(/%20/g, '+'));
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'));
  }
  // Longest first: a secret that contains another is replaced whole.
  return [...forms].sort((a, b) => b.length - a.length).map((text) => ({ text, bytes: Buffer.from(text, 'utf8').toString('latin1') }));
}

function scrubJsonLines(text: string, needles: Needle[], marker: string): { text: string; count: number } {
  let count = 0;
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const r = scrubText(value, needles, marker, 'text');
      count += r.count;
      return r.text;
    }
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const lines = text.split('\n').map((line) => {
    if (line.trim() === '') return line;
    const before = count;
    try {
      const scrubbed = JSON.stringify(walk(JSON.parse(line)));
      return count === before ? line : scrubbed;
    } catch {
      const r = scrubText(line, needles, marker, 'text');
      count += r.count;
      return r.text;
    }
  });
  return { text: lines.join('\n'), count };
}

const kWordChar = /[A-Za-z0-9]/;

function scrubText(text: string, needles: Needle[], marker: string, form: 'text' | 'latin1'): { text: string; count: number } {
  let count = 0;
  for (const needle of needles) {
    const find = form === 'text' ? needle.text : needle.bytes;
    let from = 0;
    let at: number;
    while ((at = text.indexOf(find, from)) !== -1) {
      const before = text[at - 1];
      const after = text[at + find.length];
      if ((before && kWordChar.test(before)) || (after && kWordChar.test(after))) {
        from = at + 1;
        continue;
      }
      text = text.slice(0, at) + marker + text.slice(at + find.length);
      from = at + marker.length;
      count++;
    }
  }
  return { text, count };
}

function isImage(data: Buffer): boolean {
  const png = data.length > 8 && data.readUInt32BE(0) === 0x89504e47;
  const jpeg = data.length > 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
  const webp = data.length > 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP';
  const gif = data.length > 6 && data.toString('latin1', 0, 4) === 'GIF8';
  return png || jpeg || webp || gif;
}

// --- a small ZIP reader and writer (stored and deflated entries, no ZIP64: traces are small) ---

function readZip(zip: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new TraceScrubError('not a ZIP file (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff) throw new TraceScrubError('a ZIP64 archive (too big to rewrite)');
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new TraceScrubError(`central directory entry ${i} is damaged`);
    const method = zip.readUInt16LE(at + 10);
    const time = zip.readUInt16LE(at + 12);
    const date = zip.readUInt16LE(at + 14);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (compressedSize === 0xffffffff || localAt === 0xffffffff) throw new TraceScrubError(`${name}: a ZIP64 entry (too big to rewrite)`);
    const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    const raw = zip.subarray(dataAt, dataAt + compressedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = inflateRawSync(raw);
    else throw new TraceScrubError(`${name}: compression method ${method} is not supported`);
    entries.push({ name, data, time, date });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function writeZip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const compressed = deflateRawSync(entry.data);
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(entry.time, 10);
    local.writeUInt16LE(entry.date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(entry.time, 12);
    central.writeUInt16LE(entry.date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
