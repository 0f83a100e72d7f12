/**
 * Looks for secrets in what a run leaves behind: every file under a directory, ZIP archives
 * unpacked with Info-ZIP's `unzip` (not our own reader), each secret as text and as the hex of its
 * ASCII bytes (how an APDU trace would show it), upper and lower case.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/** Every file under `dir` as name → bytes; a .zip's members appear as `<zip>!/<member>`. */
export function artifactsUnder(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const visit = (path: string, name: string): void => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry), name ? `${name}/${entry}` : entry);
      return;
    }
    const bytes = readFileSync(path);
    out[name] = bytes;
    if (name.endsWith('.zip')) {
      const unpacked = mkdtempSync(join(tmpdir(), 'jpki-hil-unzip-'));
      try {
        execFileSync('unzip', ['-q', '-o', path, '-d', unpacked]);
        for (const [member, data] of Object.entries(artifactsUnder(unpacked))) out[`${name}!/${relative(unpacked, join(unpacked, member))}`] = data;
      } finally {
        rmSync(unpacked, { recursive: true, force: true });
      }
    }
  };
  visit(dir, '');
  return out;
}

/**
 * Where each secret shows: "file: form" lines, empty when none does. A short digit PIN is looked for
 * as a token of its own (not inside a longer number, a hash or a decimal such as a Playwright trace's
 * `"timestamp":3806.517`), since "0740" may well be part of a time; longer secrets anywhere.
 */
export function findSecrets(files: Record<string, string | Buffer>, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    const text = typeof content === 'string' ? content : content.toString('latin1');
    for (const secret of secrets) {
      const hex = Buffer.from(secret, 'utf8').toString('hex');
      if (text.includes(hex) || text.includes(hex.toUpperCase())) found.push(`${name}: ${secret} in hex`);
      const token = /^\d{1,5}$/.test(secret) ? new RegExp(`(?<![0-9A-Za-z.])${secret}(?![0-9A-Za-z]|\\.[0-9])`) : undefined;
      if (token ? token.test(text) : text.includes(Buffer.from(secret, 'utf8').toString('latin1'))) found.push(`${name}: ${secret} as text`);
    }
  }
  return found;
}
