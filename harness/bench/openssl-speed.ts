/** `openssl speed rsa2048`, measured in the same run as our own figures so that ratios compare like with like. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OpensslSpeed {
  signPerSec: number;
  processes: number;
}

/** Parses the "rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>" line of `openssl speed`. */
export function parseOpensslSpeed(output: string): number {
  const line = output.split('\n').find((l) => /^\s*rsa\s+2048 bits/.test(l));
  const fields = line?.trim().split(/\s+/);
  const signPerSec = fields ? Number(fields[5]) : NaN;
  if (!Number.isFinite(signPerSec)) throw new Error(`no "rsa 2048 bits" line with sign/s in openssl speed output:\n${output.slice(-400)}`);
  return signPerSec;
}

export async function opensslSpeed(options: { seconds: number; processes?: number }): Promise<OpensslSpeed> {
  const processes = options.processes ?? 1;
  const args = ['speed', '-seconds', String(options.seconds), ...(processes > 1 ? ['-multi', String(processes)] : []), 'rsa2048'];
  const { stdout } = await run('openssl', args, { timeout: (options.seconds * 4 + 30) * 1000, maxBuffer: 4 * 1024 * 1024 });
  return { signPerSec: parseOpensslSpeed(stdout), processes };
}

/**
 * RSA-2048 keys per second from `openssl genpkey` on `processes` parallel lanes, each generating
 * one key after another until the time is up: the anchor of the card issuance figure.
 */
export async function opensslGenpkeyRate(options: { seconds: number; processes: number }): Promise<{ keysPerSec: number; keys: number }> {
  const start = performance.now();
  const deadline = start + options.seconds * 1000;
  let keys = 0;
  await Promise.all(
    Array.from({ length: options.processes }, async () => {
      while (performance.now() < deadline) {
        await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', '/dev/null'], { timeout: 60_000 });
        keys++;
      }
    }),
  );
  return { keysPerSec: keys / ((performance.now() - start) / 1000), keys };
}
