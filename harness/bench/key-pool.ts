/**
 * A pool of RSA-2048 test keys on disk, so that a population of a thousand benchmark cards does
 * not spend minutes generating two keys each on every run. The file says what it is in its first
 * lines: keys made for load tests, not secret, to be used for nothing else. `--fresh-keys`
 * throws the pool away and generates it again.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateCardKey, writeFileAtomic } from '../../emulator/index.js';

export const kKeyPoolBanner = [
  '# jpki-hil benchmark key pool: RSA-2048 TEST KEYS for emulated test cards in load tests.',
  '# They are not secret and protect nothing; never use them for anything else.',
  '# Delete this file or run the bench with --fresh-keys to generate new ones.',
].join('\n');

export interface KeyPool {
  /** The keys, in the order cards take them. */
  keys: KeyObject[];
  /** Keys generated in this call (0 when the pool on disk was big enough). */
  generated: number;
  /** Seconds spent generating them. */
  generateSeconds: number;
  /** A key source for issueCard that hands out each key once, in order. */
  source(): () => Promise<KeyObject>;
}

function readPool(path: string): KeyObject[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const blocks = text.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/g) ?? [];
  return blocks.map((pem) => createPrivateKey(pem));
}

/**
 * Generates `count` keys at once on libuv's thread pool, which issuance uses too, so every core
 * works (keep UV_THREADPOOL_SIZE at or above the number of cores).
 */
export async function generateKeys(count: number, onProgress?: (done: number) => void): Promise<KeyObject[]> {
  let done = 0;
  return Promise.all(
    Array.from({ length: count }, async () => {
      const key = await generateCardKey();
      done++;
      if (onProgress && done % 50 === 0) onProgress(done);
      return key;
    }),
  );
}

/** Loads the pool at `path`, generating and appending keys until it holds `count`. */
export async function loadKeyPool(path: string, count: number, options: { fresh?: boolean; progress?: (line: string) => void } = {}): Promise<KeyPool> {
  if (options.fresh) rmSync(path, { force: true });
  const keys = readPool(path);
  let generated = 0;
  let generateSeconds = 0;
  if (keys.length < count) {
    const missing = count - keys.length;
    options.progress?.(`key pool: generating ${missing} RSA-2048 test keys (${path})`);
    const start = performance.now();
    const fresh = await generateKeys(missing, (done) => options.progress?.(`key pool: ${done} of ${missing} keys`));
    generateSeconds = (performance.now() - start) / 1000;
    generated = fresh.length;
    keys.push(...fresh);
    mkdirSync(dirname(path), { recursive: true });
    const pems = keys.map((k) => k.export({ type: 'pkcs8', format: 'pem' }).toString().trim());
    writeFileAtomic(path, `${kKeyPoolBanner}\n${pems.join('\n')}\n`);
  }
  return {
    keys,
    generated,
    generateSeconds,
    source() {
      let next = 0;
      return () => {
        const key = keys[next++];
        if (!key) return Promise.reject(new Error(`the key pool holds ${keys.length} keys and all are taken`));
        return Promise.resolve(key);
      };
    },
  };
}
