/**
 * `jpki-hil doctor`: checks each part the harness relies on and prints the fix for whatever is
 * missing — Node, the PC/SC packages, the native binding, pcscd, vpcd, the quickack route (with a
 * measured round trip through pcscd), Chromium.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Argv } from 'yargs';
import { kVpcdPort } from '../../../emulator/index.js';
import { defaultVpcdHost, kQuickackRouteCommand, missingPackages, pcscdRunning, quickackRouteActive, tcpListening } from '../../readers/pcsc-environment.js';
import { issueThrowawayCard } from '../../readers/throwaway-card.js';
import { measureVpcdRoundTrip } from '../../readers/vpcd-round-trip.js';
import type { CommandContext, CommandRegistrar } from '../main.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** A failed optional check is a warning: the in-process path works without it. */
  optional?: boolean;
}

function chromiumVersion(): string | undefined {
  for (const path of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (!existsSync(path)) continue;
    try {
      return `${path}: ${execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 }).trim()}`;
    } catch {
      return `${path} (does not report a version)`;
    }
  }
  return undefined;
}

export async function runChecks(options: { measure: boolean }): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', ok: major >= 20, detail: `Node.js ${process.versions.node}`, fix: 'install Node.js 20 or newer' });

  const missing = missingPackages();
  checks.push({
    name: 'packages',
    ok: missing.length === 0,
    detail: missing.length === 0 ? 'pcscd, vsmartcard-vpcd, opensc, pcsc-tools, libpcsclite-dev installed' : `missing: ${missing.join(', ')}`,
    fix: `sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`,
    optional: true,
  });

  let binding = true;
  try {
    createRequire(import.meta.url)('pcsclite');
  } catch {
    binding = false;
  }
  checks.push({
    name: 'pcsclite binding',
    ok: binding,
    detail: binding ? 'the native PC/SC binding loads' : 'the native PC/SC binding (npm pcsclite) is not built',
    fix: 'npm run setup -- --pcsc   (installs libpcsclite-dev, approves and rebuilds pcsclite)',
    optional: true,
  });

  const pcscd = pcscdRunning();
  checks.push({ name: 'pcscd', ok: pcscd, detail: pcscd ? 'pcscd is running' : 'pcscd is not running', fix: 'bash scripts/pcsc-setup.sh   (or: pcscd -f &  — never --auto-exit without systemd)', optional: true });

  const slots = await Promise.all([0, 1].map((slot) => tcpListening('127.0.0.1', kVpcdPort + slot)));
  checks.push({
    name: 'vpcd',
    ok: slots.every(Boolean),
    detail: `vpcd slot 0 (port ${kVpcdPort}) ${slots[0] ? 'listening' : 'closed'}, slot 1 (port ${kVpcdPort + 1}) ${slots[1] ? 'listening' : 'closed'}`,
    fix: 'install vsmartcard-vpcd and restart pcscd so that it reads /etc/reader.conf.d/vpcd',
    optional: true,
  });

  const route = quickackRouteActive();
  let detail = route ? 'quickack route for 127.0.0.2 present' : 'no quickack route: Debian\'s vpcd stalls every APDU for ~44 ms';
  let ok = route;
  if (options.measure && pcscd && binding && slots.some(Boolean)) {
    const card = await issueThrowawayCard();
    try {
      const m = await measureVpcdRoundTrip({ host: defaultVpcdHost(), count: 60, image: card.image });
      detail += `; measured ${m.medianMs.toFixed(2)} ms per APDU round trip through pcscd (median of ${m.count}, ${m.reader})`;
      ok = m.medianMs < 10;
    } catch (e) {
      detail += `; could not measure: ${(e as Error).message}`;
    } finally {
      card.cleanup();
    }
  }
  checks.push({ name: 'round trip', ok, detail, fix: `as root: ${kQuickackRouteCommand}`, optional: true });

  const chromium = chromiumVersion();
  checks.push({
    name: 'chromium',
    ok: chromium !== undefined,
    detail: chromium ?? 'no /usr/bin/chromium',
    fix: 'sudo apt-get install -y chromium   (browser scenarios use it)',
    optional: true,
  });
  return checks;
}

async function doctor(ctx: CommandContext, args: { json: boolean; measure: boolean }): Promise<void> {
  const checks = await runChecks({ measure: args.measure });
  if (args.json) {
    ctx.io.out(JSON.stringify(checks));
  } else {
    for (const c of checks) {
      ctx.io.out(`${c.ok ? 'ok  ' : c.optional ? 'warn' : 'FAIL'}  ${c.name.padEnd(16)} ${c.detail}`);
      if (!c.ok && c.fix) ctx.io.out(`      ${''.padEnd(16)} fix: ${c.fix}`);
    }
  }
  const failed = checks.filter((c) => !c.ok);
  if (!args.json) {
    ctx.io.out(failed.length === 0 ? 'everything is in place' : `${failed.length} check(s) need attention; the in-process emulator works without the PC/SC parts`);
  }
  ctx.exitCode = failed.length === 0 ? 0 : 1;
}

export const registerDoctorCommand: CommandRegistrar = (parser: Argv, ctx: CommandContext) =>
  parser.command(
    'doctor',
    'Check the PC/SC stack, the vpcd round-trip fix and Chromium, and print the fix for what is missing',
    (y) =>
      y
        .option('json', { type: 'boolean', default: false })
        .option('measure', { type: 'boolean', default: true, describe: 'Measure the APDU round trip through pcscd (--no-measure to skip)' }),
    (args) => doctor(ctx, { json: args.json, measure: args.measure }),
  );
