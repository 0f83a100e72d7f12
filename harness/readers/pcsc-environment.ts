/**
 * Facts about the local PC/SC stack that serve, doctor and the tests need: is pcscd running, is
 * vpcd listening, is the quickack loopback route there (docs/pcsc.md).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

export const kQuickackHost = '127.0.0.2';
export const kQuickackRouteCommand = `ip route add local ${kQuickackHost} dev lo table local proto kernel scope host src 127.0.0.1 quickack 1`;
export const kPcscdSocket = '/run/pcscd/pcscd.comm';
/** What `setup.sh --pcsc` installs and doctor checks; socat makes the NFC bridge's pty pair in tests and the bench. */
export const kPcscPackages = ['pcscd', 'vsmartcard-vpcd', 'opensc', 'pcsc-tools', 'libpcsclite-dev', 'socat'] as const;

function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

export function quickackRouteActive(): boolean {
  const routes = run('ip', ['route', 'show', 'table', 'local']) ?? '';
  return routes.split('\n').some((line) => line.startsWith(`local ${kQuickackHost} `) && /\bquickack 1\b/.test(line));
}

/** Where `card serve` connects by default: the quickack address when the route exists. */
export function defaultVpcdHost(): string {
  return quickackRouteActive() ? kQuickackHost : '127.0.0.1';
}

export function pcscdRunning(): boolean {
  return run('pgrep', ['-x', 'pcscd']) !== undefined && existsSync(kPcscdSocket);
}

export function missingPackages(): string[] {
  return kPcscPackages.filter((p) => !(run('dpkg-query', ['-W', '-f=${Status}', p]) ?? '').includes('install ok installed'));
}

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function tcpListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
