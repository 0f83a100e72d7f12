/**
 * `jpki-hil doctor`: checks each part the harness relies on and prints the fix for whatever is
 * missing — Node, the PC/SC packages, the native binding, pcscd, vpcd, the quickack route (with a
 * measured round trip through pcscd), Chromium. With `--nci <tty>` it checks the NFC bridge
 * instead: the port opens, and an NCI controller answers CORE_RESET and CORE_INIT.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Argv } from 'yargs';
import { describeController, describeInterface, kDefaultBaudRate, kVpcdPort, NciProbeError, openSerialLink, probeNciController, type NciProbeFailure } from '../../../emulator/index.js';
import { defaultVpcdHost, kQuickackRouteCommand, missingPackages, pcscdRunning, quickackRouteActive, tcpListening } from '../../readers/pcsc-environment.js';
import { issueThrowawayCard } from '../../readers/throwaway-card.js';
import { measureVpcdRoundTrip } from '../../readers/vpcd-round-trip.js';
import type { CommandContext, CommandRegistrar } from '../command.js';

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

const kNciFixes: Record<NciProbeFailure, string> = {
  silent: 'check the baud rate, the wiring (TX↔RX), and that the microcontroller forwards NCI unchanged',
  'not-nci': 'check the baud rate on both ends, and that the microcontroller forwards NCI unchanged (no echo, no text of its own, no framing around the packets)',
  refused: 'power-cycle the board (the controller refused a reset), then run doctor again',
  closed: 'the port went away: check the USB cable and that the board does not reset when the port opens',
};

/** The NFC bridge: the port opens, and a controller answers CORE_RESET and CORE_INIT (docs/nci-bridge.md). */
export async function runNciChecks(options: { path: string; baudRate: number; timeoutMs?: number }): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', ok: major >= 20, detail: `Node.js ${process.versions.node}`, fix: 'install Node.js 20 or newer' });
  const where = `${options.path} at ${options.baudRate} baud`;
  let link;
  try {
    link = await openSerialLink({ path: options.path, baudRate: options.baudRate });
  } catch (e) {
    checks.push({ name: 'nci port', ok: false, detail: (e as Error).message, fix: 'plug the bridge in and name its port with --nci; for permissions, join the dialout group' });
    return checks;
  }
  checks.push({ name: 'nci port', ok: true, detail: `${where} opens`, fix: 'name the bridge\'s port with --nci' });
  try {
    const info = await probeNciController(link, { timeoutMs: options.timeoutMs ?? 1000 });
    const isoDep = info.interfaces.includes(0x02);
    checks.push({
      name: 'nci controller',
      ok: isoDep,
      detail:
        `${describeController(info)}; max data payload: set by the controller at each activation` +
        (isoDep ? '' : `; no ISO-DEP RF interface (it lists ${info.interfaces.map(describeInterface).join(', ') || 'none'})`),
      fix: 'use a controller with ISO-DEP listen mode (PN7150, PN7160) and firmware that enables it',
    });
  } catch (e) {
    const kind = e instanceof NciProbeError ? e.kind : 'not-nci';
    checks.push({ name: 'nci controller', ok: false, detail: (e as Error).message, fix: kNciFixes[kind] });
  } finally {
    await link.close();
  }
  return checks;
}

async function doctor(ctx: CommandContext, args: { json: boolean; measure: boolean; nci?: string | undefined; baud: number }): Promise<void> {
  if (args.nci) return doctorNci(ctx, { json: args.json, path: args.nci, baudRate: args.baud });
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

async function doctorNci(ctx: CommandContext, args: { json: boolean; path: string; baudRate: number }): Promise<void> {
  const checks = await runNciChecks({ path: args.path, baudRate: args.baudRate });
  const failed = checks.filter((c) => !c.ok);
  if (args.json) {
    ctx.io.out(JSON.stringify(checks));
  } else {
    for (const c of checks) {
      ctx.io.out(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(16)} ${c.detail}`);
      if (!c.ok && c.fix) ctx.io.out(`      ${''.padEnd(16)} fix: ${c.fix}`);
    }
    const first = failed[0];
    ctx.io.out(first ? `${first.detail}: ${first.fix}` : `the NFC bridge answers: serve a card with jpki-hil card serve --card <card.json> --nci ${args.path}${args.baudRate === kDefaultBaudRate ? '' : ` --baud ${args.baudRate}`}`);
  }
  ctx.exitCode = failed.length === 0 ? 0 : 1;
}

export const registerDoctorCommand: CommandRegistrar = (parser: Argv, ctx: CommandContext) =>
  parser.command(
    'doctor',
    'Check the PC/SC stack, the vpcd round-trip fix and Chromium (or with --nci, the NFC bridge), and print the fix for what is missing',
    (y) =>
      y
        .option('json', { type: 'boolean', default: false })
        .option('measure', { type: 'boolean', default: true, describe: 'Measure the APDU round trip through pcscd (--no-measure to skip)' })
        .option('nci', { type: 'string', describe: 'Check the NFC bridge on this serial port instead: CORE_RESET and CORE_INIT (see docs/nci-bridge.md)' })
        .option('baud', { type: 'number', default: kDefaultBaudRate, describe: 'With --nci: the serial baud rate' })
        .check((a) => {
          if (!Number.isInteger(a.baud) || a.baud <= 0) throw new Error(`--baud ${a.baud} is not a baud rate (e.g. 115200 or 921600)`);
          return true;
        })
        .example('$0 doctor --nci /dev/ttyACM0', 'check that the NFC bridge answers'),
    (args) => doctor(ctx, { json: args.json, measure: args.measure, nci: args.nci, baud: args.baud }),
  );
